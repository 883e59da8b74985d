// The `Script` Durable Object: runs a storage program (conformance/programs/*.json) on the
// real runtime, step by step, and answers the result of every step. dosim's twin is
// `models/src/script.rs`; both follow conformance/README.md, and both must encode every
// value the same way.
//
//   POST /run  {"name": N, "calls": [CALL...]}                      -> {"calls": [OUTCOME...]}
//   POST /run  {"name": N, "calls": [CALL...], "copies": K, "after": CALL | null}
//              -> {"copies": [[OUTCOME...] x K], "after": OUTCOME | null}
//   GET  /health -> "ok"
//
// CALL = {"steps": [STEP...], "alarm": [STEP...]?, "delay_ms": n?}; OUTCOME =
// {"results": [RESULT...]} or {"error": ERROR}. Every call goes through a new stub of the
// object idFromName(N). All traffic stays on 127.0.0.1.

import { DurableObject } from "cloudflare:workers";

// An error as both sides record it.
function errorOf(e) {
  if (!(e instanceof Error)) {
    return { name: "NonError", message: String(e), durableObjectReset: false, retryable: false, overloaded: false, remote: false };
  }
  const out = {
    name: e.name,
    message: e.message,
    durableObjectReset: !!e.durableObjectReset,
    retryable: !!e.retryable,
    overloaded: !!e.overloaded,
    remote: !!e.remote,
  };
  // A DOMException's legacy code (DataCloneError is 25); other errors have none.
  if (typeof e.code === "number") out.code = e.code;
  return out;
}

// Values JSON cannot write, for the programs marked `js_only`: {"$value": "undefined"},
// {"$value": "function"}, {"$value": "symbol"}, {"$value": "bigint", "v": "10"},
// {"$value": "date", "v": ms}, {"$value": "object", "v": {...}} (an object bound as is).
function jsValue(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v) || !("$value" in v)) return v;
  switch (v.$value) {
    case "undefined":
      return undefined;
    case "function":
      return () => 1;
    case "symbol":
      return Symbol("s");
    case "bigint":
      return BigInt(v.v);
    case "date":
      return new Date(v.v);
    case "object":
      return v.v;
    default:
      throw new Error(`script.js: unknown $value value ${v.$value}`);
  }
}

// A step's key: `key`, or `key_utf16` (UTF-16 code units, for lone surrogates).
function keyOf(s) {
  return s.key_utf16 !== undefined ? String.fromCharCode(...s.key_utf16) : s.key;
}

// SQL values: blobs as {"blob": [bytes]}, everything else as JSON.
function sqlValue(v) {
  if (v instanceof ArrayBuffer) return { blob: [...new Uint8Array(v)] };
  if (ArrayBuffer.isView(v)) return { blob: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
  if (typeof v === "bigint") return Number(v);
  return v;
}

function sqlBinding(v) {
  if (v !== null && typeof v === "object" && Array.isArray(v.blob)) return new Uint8Array(v.blob);
  return jsValue(v);
}

function sqlRow(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) out[k] = sqlValue(v);
  return out;
}

function readOptions(s) {
  if ("raw_options" in s) return jsValue(s.raw_options);
  const o = {};
  if (s.allow_concurrency !== undefined) o.allowConcurrency = s.allow_concurrency;
  if (s.no_cache !== undefined) o.noCache = s.no_cache;
  return o;
}

function writeOptions(s) {
  if ("raw_options" in s) return jsValue(s.raw_options);
  const o = readOptions(s);
  if (s.allow_unconfirmed !== undefined) o.allowUnconfirmed = s.allow_unconfirmed;
  return o;
}

function listOptions(s) {
  const o = readOptions(s);
  for (const [from, to] of [
    ["start", "start"],
    ["start_after", "startAfter"],
    ["end", "end"],
    ["prefix", "prefix"],
    ["reverse", "reverse"],
    ["limit", "limit"],
  ]) {
    if (s[from] !== undefined) o[to] = s[from];
  }
  if ("raw_limit" in s) o.limit = jsValue(s.raw_limit);
  return o;
}

// Nearest multiple of 100 ms: alarm times are compared at that grain (the clocks differ).
const round100 = (ms) => Math.round(ms / 100) * 100 + 0;

export class Script extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.base = Date.now(); // what get_alarm measures from: the last set_alarm, or construction
    this.alarmSteps = [];
    this.alarmLog = [];
  }

  async run(call) {
    if (call.alarm) this.alarmSteps = call.alarm;
    const out = [];
    await this.exec(call.steps, out, { txn: null, name: call.name, info: null, reg: { last: null } });
    return out;
  }

  // A call through `stub.fetch()` (a `call` step with `"via": "fetch"`): the request's
  // body is the call, the response's the results.
  async fetch(request) {
    return Response.json(await this.run(await request.json()));
  }

  async alarm(info) {
    const out = [];
    const scheduled_offset_ms = round100(info.scheduledTime - this.base);
    this.alarmLog.push({ retry_count: info.retryCount, scheduled_offset_ms, results: out });
    await this.exec(this.alarmSteps, out, { txn: null, name: "", info, reg: { last: null } });
  }

  async exec(steps, out, frame) {
    for (const s of steps) await this.step(s, out, frame);
  }

  // One step: its result is pushed after any inner steps' results. `throw` and `abort`
  // are not caught here: they end the enclosing closure (or the call).
  async step(s, out, frame) {
    if (s.op === "throw") {
      if (!s.first_attempt_only || (frame.info && frame.info.retryCount === 0)) {
        throw new Error(s.message ?? "thrown by the program");
      }
      out.push({ ok: null });
      return;
    }
    if (s.op === "abort") {
      this.ctx.abort(s.reason);
      out.push({ ok: null });
      return;
    }
    if (s.await === false) {
      try {
        const p = this.op(s, out, frame);
        p.catch(() => {});
        out.push({ ok: "unawaited" });
      } catch (e) {
        out.push({ error: errorOf(e) });
      }
      return;
    }
    try {
      const v = await this.op(s, out, frame);
      out.push({ ok: v === undefined ? null : v });
    } catch (e) {
      out.push({ error: errorOf(e) });
    }
  }

  // The operation of a step; returns a promise for await-able ones (a synchronous throw
  // becomes the step's error).
  op(s, out, frame) {
    const storage = this.ctx.storage;
    const kv = frame.txn ?? storage;
    switch (s.op) {
      case "get":
        if (s.keys !== undefined) return kv.get(s.keys, readOptions(s)).then((m) => [...m.entries()]);
        return kv.get(keyOf(s), readOptions(s)).then((v) => {
          frame.reg.last = v === undefined ? null : v;
          return frame.reg.last;
        });
      case "put": {
        if (s.entries !== undefined) {
          const entries = Object.fromEntries(Object.entries(s.entries).map(([k, v]) => [k, jsValue(v)]));
          return kv.put(entries, writeOptions(s));
        }
        // `incr`: the value the last get of this call read (absent = 0) plus incr.
        const last = typeof frame.reg.last === "number" ? frame.reg.last : 0;
        return kv.put(keyOf(s), s.incr !== undefined ? last + s.incr : jsValue(s.value), writeOptions(s));
      }
      case "delete":
        if (s.keys !== undefined) return kv.delete(s.keys, writeOptions(s));
        return kv.delete(s.key, writeOptions(s));
      case "list":
        return kv.list(listOptions(s)).then((m) => [...m.entries()]);
      case "delete_all":
        return s.via_txn ? frame.txn.deleteAll() : storage.deleteAll();
      case "sql":
        return Promise.resolve().then(() => this.sql(s));
      case "transaction":
        return storage.transaction(async (txn) => {
          if (s.keep) frame.reg.kept = txn;
          await this.exec(s.steps, out, { ...frame, txn });
          return null;
        });
      case "kept":
        // Steps on the transaction a `"keep": true` transaction step left behind.
        return this.exec(s.steps, out, { ...frame, txn: frame.reg.kept }).then(() => null);
      case "set_timeout":
        // Steps in a timer callback; their results go nowhere (`abort` is what shows).
        setTimeout(() => this.exec(s.steps, [], frame).catch(() => {}), s.ms ?? 0);
        return Promise.resolve(null);
      case "sync_kv":
        return Promise.resolve().then(() => this.syncKv(s));
      case "database_size":
        return Promise.resolve().then(() => storage.sql.databaseSize);
      case "sql_shape":
        return Promise.resolve().then(() => this.sqlShape(s));
      case "rollback":
        return Promise.resolve().then(() => frame.txn.rollback());
      case "transaction_sync":
        return Promise.resolve().then(() =>
          storage.transactionSync(() => {
            this.execSync(s.steps, out, frame);
            return null;
          }),
        );
      case "block_concurrency_while":
        return this.ctx.blockConcurrencyWhile(async () => {
          await this.exec(s.steps, out, frame);
          return null;
        });
      case "sleep":
        return new Promise((resolve) => setTimeout(() => resolve(null), s.ms));
      case "sync":
        return storage.sync();
      case "call": {
        const name = `${frame.name}/${s.object}`;
        const ns = s.class === "no_alarm" ? this.env.SCRIPT_NO_ALARM : this.env.SCRIPT;
        const stub = ns.get(ns.idFromName(name));
        if (s.via === "fetch") {
          const body = JSON.stringify({ name, steps: s.steps });
          return stub.fetch("http://script/run", { method: "POST", body }).then((r) => r.json());
        }
        return stub.run({ name, steps: s.steps });
      }
      case "set_alarm": {
        const now = Date.now();
        this.base = now;
        const t = s.at_ms !== undefined ? s.at_ms : now + s.in_ms;
        return storage.setAlarm(t, writeOptions(s));
      }
      case "get_alarm":
        return storage.getAlarm(readOptions(s)).then((t) => (t === null ? null : { offset_ms: round100(t - this.base) }));
      case "delete_alarm":
        return storage.deleteAlarm(writeOptions(s));
      case "alarm_log":
        return Promise.resolve(structuredClone(this.alarmLog));
      default:
        throw new Error(`script.js: unknown op ${s.op}`);
    }
  }

  // Steps inside transactionSync: synchronous ones only (writes are not awaited).
  execSync(steps, out, frame) {
    for (const s of steps) {
      if (s.op === "throw") throw new Error(s.message ?? "thrown by the program");
      try {
        let v;
        switch (s.op) {
          case "sql":
            v = this.sql(s);
            break;
          case "put":
            this.ctx.storage.put(s.key, s.value).catch(() => {});
            v = "unawaited";
            break;
          case "delete":
            this.ctx.storage.delete(s.key).catch(() => {});
            v = "unawaited";
            break;
          case "delete_all":
            this.ctx.storage.deleteAll().catch(() => {});
            v = "unawaited";
            break;
          case "transaction_sync":
            v = this.ctx.storage.transactionSync(() => {
              this.execSync(s.steps, out, frame);
              return null;
            });
            break;
          default:
            throw new Error(`script.js: ${s.op} cannot run inside transaction_sync`);
        }
        out.push({ ok: v === undefined ? null : v });
      } catch (e) {
        out.push({ error: errorOf(e) });
      }
    }
  }

  // A call of the synchronous KV API (js_only programs); a missing value is null.
  syncKv(s) {
    const kv = this.ctx.storage.kv;
    switch (s.method) {
      case "get":
        return kv.get(keyOf(s)) ?? null;
      case "put":
        return kv.put(keyOf(s), jsValue(s.value)) ?? null;
      case "delete":
        return kv.delete(keyOf(s));
      case "list":
        return [...kv.list(listOptions(s))];
      case "list_twice": {
        const first = kv.list();
        kv.list();
        return first.next();
      }
      default:
        throw new Error(`script.js: unknown sync_kv method ${s.method}`);
    }
  }

  // How the runtime shapes a cursor (js_only programs): whether iterating it gives the
  // cursor itself, its toString tag, and the keys of next() once finished.
  sqlShape(s) {
    const cursor = this.ctx.storage.sql.exec(s.query);
    const iterator = cursor[Symbol.iterator]();
    const raw = cursor.raw();
    let last;
    do last = cursor.next();
    while (!last.done);
    const rawLast = raw.next();
    return {
      iterator_is_cursor: iterator === cursor,
      iterator_is_fresh: iterator !== cursor[Symbol.iterator](),
      raw_iterates_itself: raw[Symbol.iterator]() === raw,
      tag: Object.prototype.toString.call(cursor),
      done_keys: Object.keys(last),
      raw_done_keys: Object.keys(rawLast),
    };
  }

  sql(s) {
    const cursor = this.ctx.storage.sql.exec(s.query, ...(s.bindings ?? []).map(sqlBinding));
    const r = {};
    if (s.take) {
      r.taken = [];
      for (let i = 0; i < s.take; i++) {
        const n = cursor.next();
        r.taken.push(n.done ? "done" : sqlRow(n.value));
      }
    }
    switch (s.mode ?? "to_array") {
      case "to_array":
        r.rows = cursor.toArray().map(sqlRow);
        break;
      case "one":
        r.row = sqlRow(cursor.one());
        break;
      case "raw":
        r.rows = [...cursor.raw()].map((row) => row.map(sqlValue));
        break;
      case "none":
        break;
      default:
        throw new Error(`script.js: unknown sql mode ${s.mode}`);
    }
    r.columns = cursor.columnNames;
    if (s.counts) {
      r.rows_read = cursor.rowsRead;
      r.rows_written = cursor.rowsWritten;
    }
    return r;
  }
}

// The same object with no alarm() handler: setAlarm() on it is refused.
export class ScriptNoAlarm extends Script {}
Object.defineProperty(ScriptNoAlarm.prototype, "alarm", { value: undefined });

async function callOnce(env, name, call) {
  if (call.delay_ms) await new Promise((resolve) => setTimeout(resolve, call.delay_ms));
  const stub = env.SCRIPT.get(env.SCRIPT.idFromName(name));
  try {
    return { results: await stub.run({ ...call, name }) };
  } catch (e) {
    return { error: errorOf(e) };
  }
}

async function callAll(env, name, calls) {
  const outcomes = [];
  for (const call of calls) outcomes.push(await callOnce(env, name, call));
  return outcomes;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname !== "/run" || request.method !== "POST") return new Response("not found\n", { status: 404 });
    const body = await request.json();
    if (!body.copies) return Response.json({ calls: await callAll(env, body.name, body.calls) });
    const copies = await Promise.all(Array.from({ length: body.copies }, () => callAll(env, body.name, body.calls)));
    const after = body.after ? await callOnce(env, body.name, body.after) : null;
    return Response.json({ copies, after });
  },
};
