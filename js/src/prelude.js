// The JavaScript side of dosim's JS host: the globals and the `cloudflare:workers` API a
// Durable Object sees, built on `host` (functions of the Rust runtime). Evaluated once
// per isolate as a function of `host` (whose functions act for the object whose code is
// running); returns the helpers the Rust side calls.
(function (host) {
  "use strict";

  // ---- values: structured clone, as JSON with tags for what JSON cannot say ----

  class DataCloneError extends Error {
    constructor(message) {
      super(message);
      this.name = "DataCloneError";
    }
    // workerd throws a DOMException, whose legacy code for this error is 25.
    get code() {
      return 25;
    }
  }

  const TAG = "$js";
  const bytesToBase64 = (u8) => {
    let s = "";
    for (let i = 0; i < u8.length; i++) s += String.fromCharCode(u8[i]);
    return btoa(s);
  };
  const base64ToBytes = (b64) => {
    const s = atob(b64);
    const u8 = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) u8[i] = s.charCodeAt(i);
    return u8;
  };

  function toJson(v, seen) {
    switch (typeof v) {
      case "undefined":
        return { [TAG]: "undefined" };
      case "boolean":
      case "string":
        return v;
      case "number":
        if (Number.isNaN(v)) return { [TAG]: "NaN" };
        if (v === Infinity) return { [TAG]: "Infinity" };
        if (v === -Infinity) return { [TAG]: "-Infinity" };
        if (Object.is(v, -0)) return { [TAG]: "-0" };
        return v;
      case "bigint":
        return { [TAG]: "bigint", v: v.toString() };
      case "function":
      case "symbol":
        // V8's text: the function's source, or the symbol's description.
        throw new DataCloneError(`${String(v)} could not be cloned.`);
    }
    if (v === null) return null;
    if (seen.has(v)) throw new DataCloneError("dosim stores no cyclic or shared references (a value appears twice).");
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        const out = [];
        for (let i = 0; i < v.length; i++) out.push(toJson(v[i], seen));
        return out;
      }
      if (v instanceof RealDate) return { [TAG]: "Date", v: v.getTime() };
      if (v instanceof Map) return { [TAG]: "Map", v: [...v].map(([k, x]) => [toJson(k, seen), toJson(x, seen)]) };
      if (v instanceof Set) return { [TAG]: "Set", v: [...v].map((x) => toJson(x, seen)) };
      if (v instanceof RegExp) return { [TAG]: "RegExp", source: v.source, flags: v.flags };
      if (v instanceof ArrayBuffer) return { [TAG]: "ArrayBuffer", v: bytesToBase64(new Uint8Array(v)) };
      if (ArrayBuffer.isView(v)) {
        const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        // The typed array's own kind (a Buffer is a Uint8Array), as V8's serializer keeps it.
        return { [TAG]: Object.prototype.toString.call(v).slice(8, -1), v: bytesToBase64(bytes) };
      }
      if (v instanceof Error) return { [TAG]: "Error", name: v.name, message: v.message };
      // Platform values (Request, Response, Headers, Blob; URL and streams are refused):
      // platform/lazy.js knows them.
      const platform = globalThis.__dosimCloneOf ? globalThis.__dosimCloneOf(v) : null;
      if (platform !== null) {
        const [kind, fields] = platform;
        return kind === "Blob" ? { [TAG]: kind, v: bytesToBase64(fields.v), type: fields.type } : { [TAG]: kind, ...fields };
      }
      if (v[Symbol.for("dosim.RpcTarget")] === true) {
        throw new DataCloneError("dosim cannot pass an RpcTarget by reference to another object yet (workerd sends a stub).");
      }
      if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) {
        throw new DataCloneError(`#<${v.constructor.name}> could not be cloned.`);
      }
      const out = {};
      for (const k of Object.keys(v)) out[k] = toJson(v[k], seen);
      return TAG in out ? { [TAG]: "Object", v: out } : out;
    } finally {
      seen.delete(v);
    }
  }

  function fromJson(j) {
    if (j === null || typeof j !== "object") return j;
    if (Array.isArray(j)) return j.map(fromJson);
    const tag = j[TAG];
    if (tag === undefined) {
      const out = {};
      for (const k of Object.keys(j)) out[k] = fromJson(j[k]);
      return out;
    }
    switch (tag) {
      case "undefined":
        return undefined;
      case "NaN":
        return NaN;
      case "Infinity":
        return Infinity;
      case "-Infinity":
        return -Infinity;
      case "-0":
        return -0;
      case "bigint":
        return BigInt(j.v);
      case "Date":
        return new RealDate(j.v);
      case "Map":
        return new Map(j.v.map(([k, x]) => [fromJson(k), fromJson(x)]));
      case "Set":
        return new Set(j.v.map(fromJson));
      case "RegExp":
        return new RegExp(j.source, j.flags);
      case "ArrayBuffer":
        return base64ToBytes(j.v).buffer;
      case "Error": {
        // As V8's serializer: the prototype follows the name when it is a standard error
        // class, else it is Error's; the name itself is not an own property.
        const Ctor = STANDARD_ERRORS[j.name] || Error;
        return new Ctor(j.message);
      }
      case "Response":
        return new Response(j.body, { status: j.status, headers: j.headers });
      case "Request":
        return new Request(j.url, { method: j.method, headers: j.headers, body: j.body });
      case "Headers":
        return new Headers(j.v);
      case "Blob":
        return new Blob([base64ToBytes(j.v)], { type: j.type });
      case "Object": {
        const out = {};
        for (const k of Object.keys(j.v)) out[k] = fromJson(j.v[k]);
        return out;
      }
      default: {
        const Typed = globalThis[tag];
        if (typeof Typed === "function" && ArrayBuffer.isView(Typed.prototype ? new Typed(0) : null)) {
          const bytes = base64ToBytes(j.v);
          return new Typed(bytes.buffer, 0, bytes.byteLength / Typed.BYTES_PER_ELEMENT);
        }
        throw new DataCloneError(`unknown stored value tag ${tag}`);
      }
    }
  }

  const STANDARD_ERRORS = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

  const encode = (v) => JSON.stringify(toJson(v, new Set()));
  const decode = (text) => (text === undefined || text === null ? undefined : fromJson(JSON.parse(text)));

  // ---- time, randomness, console ----

  const RealDate = globalThis.__dosimInstallDate(() => host.now());
  Math.random = () => host.random();

  const hex = (n) => {
    let s = "";
    for (let i = 0; i < n; i++) s += Math.floor(host.random() * 16).toString(16);
    return s;
  };
  globalThis.crypto = {
    randomUUID() {
      const variant = ((Math.floor(host.random() * 4) & 3) | 8).toString(16);
      return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
    },
    getRandomValues(array) {
      for (let i = 0; i < array.length; i++) array[i] = Math.floor(host.random() * 2 ** 32);
      return array;
    },
  };

  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return `${v.name}: ${v.message}`;
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch {
      return String(v);
    }
  };
  const log =
    (level) =>
    (...args) =>
      host.log(level, args.map(show).join(" "));
  globalThis.console = { log: log("log"), info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") };
  globalThis.structuredClone = (v) => fromJson(toJson(v, new Set()));
  // The user's own "sometimes" points: `dosim.sometimes("label")` counts a visit to an
  // interesting state; the fuzz summary lists how often each was reached.
  globalThis.dosim = Object.freeze({ sometimes: (label) => host.sometimes(String(label)) });

  // ---- timers: each callback enters through the input gate (inside the critical section
  // it was set in, if any); what it throws, or its promise rejects with, is logged ----

  const uncaught = (e) => host.log("log", `uncaught exception in a timer callback: ${show(e)}`);
  const timerCallback = (fn, args) => () => {
    try {
      const r = fn(...args);
      if (r instanceof Promise) r.catch(uncaught);
    } catch (e) {
      uncaught(e);
    }
  };
  globalThis.setTimeout = (fn, ms = 0, ...args) => host.setTimer(timerCallback(fn, args), Number(ms) || 0, false);
  globalThis.setInterval = (fn, ms = 0, ...args) => host.setTimer(timerCallback(fn, args), Number(ms) || 0, true);
  globalThis.clearTimeout = globalThis.clearInterval = (id) => {
    if (id !== undefined) host.clearTimer(id);
  };
  globalThis.queueMicrotask = (fn) => Promise.resolve().then(fn);
  globalThis.scheduler = { wait: (ms) => new Promise((r) => setTimeout(r, ms)) };

  // ---- fetch's Request, Response, Headers: platform/fetch.js, installed after this
  // file runs (the names below are the globals, looked up when a value is cloned) ----
  installFetch(host);

  // ---- errors crossing the host boundary ----

  // A runtime error as JavaScript sees it: workerd's message and flags.
  function makeError(name, message, kind, durableObjectReset, retryable, overloaded, remote) {
    const Ctor = STANDARD_ERRORS[name] || Error;
    const e = new Ctor(message);
    if (Ctor === Error && name !== "Error") e.name = name;
    if (durableObjectReset) e.durableObjectReset = true;
    if (retryable) e.retryable = true;
    if (overloaded) e.overloaded = true;
    if (remote) e.remote = true;
    Object.defineProperty(e, "__dosimKind", { value: kind, enumerable: false });
    return e;
  }

  // QuickJS words some of its own errors differently from V8, workerd's engine. An error
  // that leaves the object (a call's failure, a failed alarm, a critical section that
  // throws) gets V8's words for the most common ones. Only what QuickJS's text says can be
  // reworded: its "not a function" lacks the callee V8 names, so it stays as it is.
  const V8_TEXTS = [
    [
      /^cannot read property '(.*)' of (undefined|null)$/,
      (_, key, v) =>
        key === "Symbol.iterator"
          ? `${v} is not iterable (cannot read property Symbol(Symbol.iterator))`
          : `Cannot read properties of ${v} (reading '${key}')`,
    ],
    [/^cannot set property '(.*)' of (undefined|null)$/, "Cannot set properties of $2 (setting '$1')"],
    [/^cannot convert symbol to string$/, "Cannot convert a Symbol value to a string"],
    [/^invalid array length$/, "Invalid array length"],
  ];
  const v8Text = (message) => {
    for (const [pattern, text] of V8_TEXTS) if (pattern.test(message)) return message.replace(pattern, text);
    return message;
  };

  // What the runtime needs of a thrown value: [name, message, kind, reset, retryable, overloaded].
  function errorParts(e) {
    if (e instanceof Error) {
      const kind = e.__dosimKind || "";
      const message = kind === "" ? v8Text(String(e.message)) : String(e.message);
      // The class V8's serializer would keep: the standard one on its prototype chain.
      const standard = Object.keys(STANDARD_ERRORS).find((n) => e instanceof STANDARD_ERRORS[n]) || "Error";
      return [standard, message, kind, !!e.durableObjectReset, !!e.retryable, !!e.overloaded];
    }
    return ["Error", show(e), "", false, false, false];
  }

  // ---- storage ----

  // A lone surrogate cannot reach the Rust side; workerd stores its three UTF-8-style
  // bytes and lists each as U+FFFD, which is what dosim stores in its place.
  const keyOf = (k) => String(k).replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD\uFFFD\uFFFD");

  // ---- workerd's checks of the KV API's arguments, with its texts (conformance
  // programs kv-list-odd-limits, kv-put-undefined, kv-bad-options-argument) ----
  const usageError = (message) => makeError("TypeError", message, "usage");
  const checkOptions = (options, method, position, type) => {
    if (options !== undefined && options !== null && typeof options !== "object") {
      throw usageError(`Failed to execute '${method}' on 'DurableObjectStorage': parameter ${position} is not of type '${type}'.`);
    }
  };
  const checkPut = (key, value, options) => {
    if (typeof key === "object" && key !== null) {
      if (value !== undefined && value !== null && typeof value !== "object") {
        throw usageError(
          "put() may only be called with a single key-value pair and optional options as put(key, value, options) or with multiple key-value pairs and optional options as put(entries, options)",
        );
      }
      // An entry whose value is undefined is skipped.
      return Object.fromEntries(Object.entries(key).filter(([, v]) => v !== undefined));
    }
    checkOptions(options, "put", 3, "PutOptions");
    if (value === undefined) throw usageError("put() called with undefined value.");
    return null;
  };
  // `limit` as workerd converts it: to a 32-bit integer (fractions truncated), at least 1.
  const listOptions = (options) => {
    checkOptions(options, "list", 1, "ListOptions");
    const o = { ...(options ?? {}) };
    if (o.limit !== undefined) {
      if (typeof o.limit === "bigint") throw usageError("Cannot convert a BigInt value to a number");
      const n = Number(o.limit);
      const i = Number.isFinite(n) ? Math.trunc(n) : 0;
      if (Math.abs(i) > 2147483647) throw usageError("Value out of range. Must be between -2147483648 and 2147483647 (inclusive).");
      if (i <= 0) throw usageError("List limit must be positive.");
      o.limit = i;
    }
    return JSON.stringify(o);
  };
  // A transaction used after its closure committed.
  const committedError = (op) =>
    makeError("Error", `Cannot call ${op}() on transaction that has already committed: did you move \`txn\` outside of the closure?`, "storage");
  const readOpts = (o) => [!!o?.allowConcurrency, !!o?.noCache];
  const writeOpts = (o) => [!!o?.allowConcurrency, !!o?.allowUnconfirmed, !!o?.noCache];
  const mapOf = (keys, values) => {
    const m = new Map();
    for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i]);
    return m;
  };

  // What a finished iterator of the runtime returns: with `enable_fast_jsg_struct`
  // (from 2025-12-03) a full struct, `value` present though undefined; before, `{done}`.
  const iteratorDone = () => (host.compat.enable_fast_jsg_struct ? { done: true, value: undefined } : { done: true });

  // A cursor over a result computed in full by `exec` (as dosim's `Cursor`). Iterating it
  // gives a new iterator object each time (not the cursor itself), sharing its position.
  class SqlCursor {
    constructor(columns, rows, rowsWritten) {
      this._columns = columns;
      this._rows = rows;
      this._next = 0;
      this._returned = 0;
      this._written = rowsWritten;
    }
    get columnNames() {
      return this._columns;
    }
    // As dosim's `Cursor::rows_read` (sim/src/storage/sql.rs): the rows returned so far
    // plus the one workerd pre-fetches, capped at the result's size.
    get rowsRead() {
      return Math.min(this._returned + 1, this._rows.length);
    }
    get rowsWritten() {
      return this._written;
    }
    _take() {
      if (this._next >= this._rows.length) return undefined;
      this._returned++;
      return this._rows[this._next++];
    }
    _object(row) {
      const o = {};
      this._columns.forEach((c, i) => (o[c] = row[i]));
      return o;
    }
    next() {
      const row = this._take();
      return row === undefined ? iteratorDone() : { done: false, value: this._object(row) };
    }
    [Symbol.iterator]() {
      const cursor = this;
      return { next: () => cursor.next(), [Symbol.iterator]() { return this; } };
    }
    toArray() {
      const out = [];
      for (const row of this) out.push(row);
      return out;
    }
    one() {
      const row = this._take();
      if (row === undefined) {
        throw makeError("Error", "Expected exactly one result from SQL query, but got no results.", "storage");
      }
      if (this._next < this._rows.length) {
        // workerd ends the query here: the rest is never returned (nor counted as read).
        this._next = this._rows.length;
        throw makeError("Error", "Expected exactly one result from SQL query, but got multiple results.", "storage");
      }
      return this._object(row);
    }
    raw() {
      const cursor = this;
      return {
        next() {
          const row = cursor._take();
          return row === undefined ? iteratorDone() : { done: false, value: row };
        },
        [Symbol.iterator]() {
          return this;
        },
      };
    }
  }
  // `[object Cursor]` with `set_tostring_tag` (from 2024-09-26).
  if (host.compat.set_tostring_tag) {
    Object.defineProperty(SqlCursor.prototype, Symbol.toStringTag, { value: "Cursor", configurable: true });
  }

  // A binding as workerd takes it: a number, a string, bytes or null; anything else is
  // converted to a string as JavaScript would (booleans, objects, arrays, Dates), except
  // a BigInt or a Symbol, which are refused with V8's texts (program sql-bind-js-values).
  const sqlBinding = (v) => {
    if (v === null || v === undefined || typeof v === "number" || typeof v === "string") return v;
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return v;
    if (typeof v === "bigint") throw usageError("Cannot convert a BigInt value to a number");
    if (typeof v === "symbol") throw usageError("Cannot convert a Symbol value to a string");
    return String(v);
  };

  const sql = {
    exec(query, ...bindings) {
      const [columns, rows, written] = host.sqlExec(String(query), bindings.map(sqlBinding));
      return new SqlCursor(columns, rows, written);
    },
    get databaseSize() {
      return host.databaseSize();
    },
  };

  // workerd's asynchronous storage methods never throw: what goes wrong when they are
  // called (a bad option, a value that cannot be cloned, a rolled back transaction) is a
  // rejection of the promise they return.
  const rejecting = (target, names) => {
    for (const name of names) {
      const f = target[name];
      target[name] = function (...args) {
        try {
          return f.apply(this, args);
        } catch (e) {
          return Promise.reject(e);
        }
      };
    }
  };

  class Transaction {
    constructor(id) {
      this._id = id;
      this._committed = false;
    }
    _live(op) {
      if (this._committed) throw committedError(op);
    }
    get(key, options) {
      this._live("get");
      checkOptions(options, "get", 2, "GetOptions");
      if (Array.isArray(key)) {
        return Promise.all(key.map((k) => this.get(k))).then((values) => {
          const found = new Map();
          key.forEach((k, i) => values[i] !== undefined && found.set(keyOf(k), values[i]));
          return found;
        });
      }
      return host.txnGet(this._id, keyOf(key), ...readOpts(options));
    }
    put(key, value, options) {
      this._live("put");
      const entries = checkPut(key, value, options);
      if (entries !== null) {
        return Promise.all(Object.entries(entries).map(([k, v]) => this.put(k, v, value))).then(() => undefined);
      }
      return host.txnPut(this._id, keyOf(key), encode(value));
    }
    delete(key) {
      this._live("delete");
      if (Array.isArray(key)) return Promise.all(key.map((k) => this.delete(k))).then((bs) => bs.filter(Boolean).length);
      return host.txnDelete(this._id, keyOf(key));
    }
    list(options = {}) {
      this._live("list");
      return host.txnList(this._id, listOptions(options));
    }
    rollback() {
      this._live("rollback");
      host.txnRollback(this._id);
    }
    deleteAll() {
      this._live("deleteAll");
      throw makeError("Error", "Cannot call deleteAll() within a transaction", "storage");
    }
    getAlarm(options) {
      return storage.getAlarm(options);
    }
    setAlarm(time, options) {
      return storage.setAlarm(time, options);
    }
    deleteAlarm(options) {
      return storage.deleteAlarm(options);
    }
  }

  rejecting(Transaction.prototype, ["get", "put", "delete", "list", "deleteAll", "getAlarm", "setAlarm", "deleteAlarm"]);

  const storage = {
    get(key, options) {
      checkOptions(options, "get", 2, "GetOptions");
      if (Array.isArray(key)) return host.getMany(key.map(keyOf), ...readOpts(options));
      return host.get(keyOf(key), ...readOpts(options));
    },
    put(key, value, options) {
      const entries = checkPut(key, value, options);
      if (entries !== null) {
        const keys = Object.keys(entries);
        return host.putMany(keys.map(keyOf), keys.map((k) => encode(entries[k])), ...writeOpts(value ?? undefined));
      }
      return host.put(keyOf(key), encode(value), ...writeOpts(options));
    },
    delete(key, options) {
      if (Array.isArray(key)) return host.deleteMany(key.map(keyOf), ...writeOpts(options));
      return host.delete(keyOf(key), ...writeOpts(options));
    },
    list(options = {}) {
      return host.list(listOptions(options));
    },
    deleteAll(options) {
      return host.deleteAll(...writeOpts(options));
    },
    sync() {
      return host.sync();
    },
    getAlarm(options) {
      return host.getAlarm(...readOpts(options));
    },
    setAlarm(time, options) {
      const ms = time instanceof RealDate ? time.getTime() : Number(time);
      return host.setAlarm(ms, ...writeOpts(options));
    },
    deleteAlarm(options) {
      return host.deleteAlarm(...writeOpts(options));
    },
    transaction(closure) {
      return host.transaction((id) => {
        const txn = new Transaction(id);
        // Once the closure has settled, the transaction is over: using it again fails.
        return Promise.resolve(closure(txn)).then((v) => {
          txn._committed = true;
          return v;
        });
      });
    },
  };
  rejecting(storage, Object.keys(storage));
  storage.transactionSync = (closure) => host.transactionSync(closure);
  storage.sql = sql;

  // `ctx.storage.kv`: the same data as the asynchronous API, synchronously. Only one list()
  // iterator lives at a time: starting another invalidates the one before, as in workerd.
  let kvListing = 0;
  storage.kv = {
    get: (key) => host.kvGet(keyOf(key)),
    // Unlike the asynchronous put(), workerd stores an undefined value here.
    put(key, value) {
      host.kvPut(keyOf(key), encode(value));
    },
    delete: (key) => host.kvDelete(keyOf(key)),
    list(options = {}) {
      const rows = host.kvList(listOptions(options));
      const mine = ++kvListing;
      let i = 0;
      return {
        next() {
          if (mine !== kvListing) {
            throw makeError(
              "Error",
              "kv.list() iterator was invalidated because a new call to kv.list() was started. Only one kv.list() iterator can exist at a time.",
              "storage",
            );
          }
          return i < rows.length ? { done: false, value: rows[i++] } : iteratorDone();
        },
        [Symbol.iterator]() {
          return this;
        },
      };
    },
  };

  // ---- ids, namespaces, stubs ----

  class DurableObjectId {
    constructor(hex, name) {
      this._hex = hex;
      if (name !== undefined && name !== null) this.name = name;
    }
    toString() {
      return this._hex;
    }
    equals(other) {
      return other instanceof DurableObjectId && other._hex === this._hex;
    }
  }

  const NOT_METHODS = new Set(["then", "toJSON", "constructor"]);

  function makeStub(binding, id) {
    const target = { id, name: id.name };
    // One runtime stub for this stub's whole life, made at its first call (where a bad
    // id has always been reported): once a call through it meets its target's reset, it
    // fails every later call the same way, as workerd's stubs do; `get(id)` makes a new one.
    let handle = null;
    const call = (method, text) => {
      if (handle === null) handle = host.stub(binding, id._hex, id.name ?? null);
      return host.call(handle, method, text);
    };
    return new Proxy(target, {
      get(t, prop) {
        if (prop in t) return t[prop];
        if (typeof prop !== "string" || NOT_METHODS.has(prop)) return undefined;
        if (prop === "fetch") {
          // A reset of the target reached through fetch() is flagged remote as well, as
          // workerd flags it (program abort-through-fetch); an RPC call's is not.
          return (input, init) =>
            call("fetch", encode([new Request(input, init)])).catch((e) => {
              if (e instanceof Error && e.durableObjectReset) e.remote = true;
              throw e;
            });
        }
        return (...args) => {
          let text;
          try {
            text = encode(args);
          } catch (e) {
            return Promise.reject(e);
          }
          return call(prop, text);
        };
      },
    });
  }

  class DurableObjectNamespace {
    constructor(binding) {
      this._binding = binding;
    }
    idFromName(name) {
      return new DurableObjectId(host.idFromName(this._binding, String(name)), String(name));
    }
    newUniqueId() {
      return new DurableObjectId(host.newUniqueId(this._binding));
    }
    idFromString(hexId) {
      return new DurableObjectId(String(hexId));
    }
    get(id) {
      return makeStub(this._binding, id);
    }
    getByName(name) {
      return this.get(this.idFromName(name));
    }
  }

  function makeEnv(varsText) {
    const env = {};
    for (const binding of host.bindings()) env[binding] = new DurableObjectNamespace(binding);
    for (const [k, v] of Object.entries(JSON.parse(varsText))) env[k] = v;
    return env;
  }

  // ---- ctx: one per instance (the isolate and its globals are shared) ----

  // WebSockets: one set of globals and socket handles per isolate (a handle is found by
  // its connection, whichever instance asks).
  const sockets = installSockets(host, { encode, decode, RealDate });

  function makeCtx() {
    const [idHex, idName] = host.id();
    const ctx = {
      id: new DurableObjectId(idHex, idName),
      storage,
      blockConcurrencyWhile: (callback) => host.blockConcurrencyWhile(callback),
      waitUntil: (promise) => host.waitUntil(Promise.resolve(promise)),
      abort: (reason) => host.abort(reason === undefined ? null : String(reason)),
    };
    return Object.assign(ctx, sockets.ctx);
  }

  class DurableObject {
    constructor(state, environment) {
      this.ctx = state;
      this.env = environment;
    }
  }
  class WorkerEntrypoint extends DurableObject {}
  globalThis.DurableObject = DurableObject;

  // The call of an event: a method's result, or its error.
  function invoke(object, method, argsText) {
    if (Object.hasOwn(sockets.events, method)) return sockets.events[method](object, ...JSON.parse(argsText).map(fromJson));
    const f = object[method];
    if (typeof f !== "function") {
      throw new TypeError(`The RPC receiver does not implement the method "${method}".`);
    }
    return f.apply(object, JSON.parse(argsText).map(fromJson));
  }

  return {
    encode,
    decode,
    fromJson: (text) => fromJson(JSON.parse(text)),
    mapOf,
    makeError,
    errorParts,
    invoke,
    makeCtx,
    makeEnv,
    workers: { DurableObject, WorkerEntrypoint },
    hasMethod: (object, name) => typeof object[name] === "function",
  };
});
