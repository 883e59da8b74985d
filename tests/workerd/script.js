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
  return {
    name: e.name,
    message: e.message,
    durableObjectReset: !!e.durableObjectReset,
    retryable: !!e.retryable,
    overloaded: !!e.overloaded,
    remote: !!e.remote,
  };
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
  return v;
}

function sqlRow(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) out[k] = sqlValue(v);
  return out;
}

function readOptions(s) {
  const o = {};
  if (s.allow_concurrency !== undefined) o.allowConcurrency = s.allow_concurrency;
  if (s.no_cache !== undefined) o.noCache = s.no_cache;
  return o;
}

function writeOptions(s) {
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

  async alarm(info) {
    const out = [];
    this.alarmLog.push({ retry_count: info.retryCount, results: out });
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
        return kv.get(s.key, readOptions(s)).then((v) => {
          frame.reg.last = v === undefined ? null : v;
          return frame.reg.last;
        });
      case "put": {
        if (s.entries !== undefined) return kv.put(s.entries, writeOptions(s));
        // `incr`: the value the last get of this call read (absent = 0) plus incr.
        const last = typeof frame.reg.last === "number" ? frame.reg.last : 0;
        return kv.put(s.key, s.incr !== undefined ? last + s.incr : s.value, writeOptions(s));
      }
      case "delete":
        if (s.keys !== undefined) return kv.delete(s.keys, writeOptions(s));
        return kv.delete(s.key, writeOptions(s));
      case "list":
        return kv.list(listOptions(s)).then((m) => [...m.entries()]);
      case "delete_all":
        return storage.deleteAll();
      case "sql":
        return Promise.resolve().then(() => this.sql(s));
      case "transaction":
        return storage.transaction(async (txn) => {
          await this.exec(s.steps, out, { ...frame, txn });
          return null;
        });
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
        const ns = this.env.SCRIPT;
        return ns.get(ns.idFromName(name)).run({ name, steps: s.steps });
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
