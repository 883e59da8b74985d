// The JavaScript side of dosim's JS host: the globals and the `cloudflare:workers` API a
// Durable Object sees, built on `host` (functions of the Rust runtime). Evaluated once
// per instance as a function of `host`; returns the helpers the Rust side calls.
(function (host) {
  "use strict";

  // ---- values: structured clone, as JSON with tags for what JSON cannot say ----

  class DataCloneError extends Error {
    constructor(message) {
      super(message);
      this.name = "DataCloneError";
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
        return { [TAG]: v.constructor.name, v: bytesToBase64(bytes) };
      }
      if (v instanceof Error) return { [TAG]: "Error", name: v.name, message: v.message };
      if (v instanceof Response) return { [TAG]: "Response", status: v.status, headers: v.headers.toJSON(), body: v._body };
      if (v instanceof Request) {
        return { [TAG]: "Request", url: v.url, method: v.method, headers: v.headers.toJSON(), body: v._body };
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

  // ---- fetch's Request, Response, Headers (enough for handlers and their tests) ----

  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init = init.toJSON();
      if (init) for (const [k, v] of Array.isArray(init) ? init : Object.entries(init)) this.set(k, v);
    }
    get(k) {
      const v = this._map.get(String(k).toLowerCase());
      return v === undefined ? null : v;
    }
    set(k, v) {
      this._map.set(String(k).toLowerCase(), String(v));
    }
    append(k, v) {
      const old = this.get(k);
      this.set(k, old === null ? v : `${old}, ${v}`);
    }
    has(k) {
      return this._map.has(String(k).toLowerCase());
    }
    delete(k) {
      this._map.delete(String(k).toLowerCase());
    }
    forEach(fn) {
      for (const [k, v] of this._map) fn(v, k, this);
    }
    entries() {
      return this._map.entries();
    }
    [Symbol.iterator]() {
      return this._map.entries();
    }
    toJSON() {
      return Object.fromEntries([...this._map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  }

  const bodyText = (body) => {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return body;
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
      const u8 = body instanceof ArrayBuffer ? new Uint8Array(body) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      return String.fromCharCode(...u8);
    }
    return String(body);
  };

  class Body {
    async text() {
      return this._body === null ? "" : this._body;
    }
    async json() {
      return JSON.parse(await this.text());
    }
    async arrayBuffer() {
      const s = await this.text();
      const u8 = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) u8[i] = s.charCodeAt(i) & 0xff;
      return u8.buffer;
    }
    get body() {
      return this._body;
    }
  }

  class Request extends Body {
    constructor(input, init = {}) {
      super();
      const from = input instanceof Request ? input : null;
      this.url = from ? from.url : String(input);
      this.method = String(init.method || (from ? from.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers || (from ? from.headers : undefined));
      this._body = init.body !== undefined ? bodyText(init.body) : from ? from._body : null;
    }
  }

  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || "";
      this.headers = new Headers(init.headers);
      this._body = bodyText(body);
    }
    get ok() {
      return this.status >= 200 && this.status < 300;
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
  }
  globalThis.Headers = Headers;
  globalThis.Request = Request;
  globalThis.Response = Response;

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

  const keyOf = (k) => String(k);
  const readOpts = (o = {}) => [!!o.allowConcurrency, !!o.noCache];
  const writeOpts = (o = {}) => [!!o.allowConcurrency, !!o.allowUnconfirmed, !!o.noCache];
  const mapOf = (keys, values) => {
    const m = new Map();
    for (let i = 0; i < keys.length; i++) m.set(keys[i], values[i]);
    return m;
  };

  // A cursor over a result computed in full by `exec` (as dosim's `Cursor`).
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
      return row === undefined ? { done: true, value: undefined } : { done: false, value: this._object(row) };
    }
    [Symbol.iterator]() {
      return this;
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
    *raw() {
      for (let row = this._take(); row !== undefined; row = this._take()) yield row;
    }
  }

  const sql = {
    exec(query, ...bindings) {
      const [columns, rows, written] = host.sqlExec(String(query), bindings);
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
    }
    get(key, options) {
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
      if (typeof key === "object" && key !== null) {
        return Promise.all(Object.entries(key).map(([k, v]) => this.put(k, v, value))).then(() => undefined);
      }
      return host.txnPut(this._id, keyOf(key), encode(value));
    }
    delete(key) {
      if (Array.isArray(key)) return Promise.all(key.map((k) => this.delete(k))).then((bs) => bs.filter(Boolean).length);
      return host.txnDelete(this._id, keyOf(key));
    }
    list(options = {}) {
      return host.txnList(this._id, JSON.stringify(options));
    }
    rollback() {
      host.txnRollback(this._id);
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

  rejecting(Transaction.prototype, ["get", "put", "delete", "list", "getAlarm", "setAlarm", "deleteAlarm"]);

  const storage = {
    get(key, options) {
      if (Array.isArray(key)) return host.getMany(key.map(keyOf), ...readOpts(options));
      return host.get(keyOf(key), ...readOpts(options));
    },
    put(key, value, options) {
      if (typeof key === "object" && key !== null) {
        const keys = Object.keys(key);
        return host.putMany(keys, keys.map((k) => encode(key[k])), ...writeOpts(value));
      }
      return host.put(keyOf(key), encode(value), ...writeOpts(options));
    },
    delete(key, options) {
      if (Array.isArray(key)) return host.deleteMany(key.map(keyOf), ...writeOpts(options));
      return host.delete(keyOf(key), ...writeOpts(options));
    },
    list(options = {}) {
      return host.list(JSON.stringify(options));
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
      return host.transaction((id) => closure(new Transaction(id)));
    },
  };
  rejecting(storage, Object.keys(storage));
  storage.transactionSync = (closure) => host.transactionSync(closure);
  storage.sql = sql;

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
          return (input, init) => call("fetch", encode([new Request(input, init)]));
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

  const env = {};
  for (const binding of host.bindings()) env[binding] = new DurableObjectNamespace(binding);
  for (const [k, v] of Object.entries(JSON.parse(host.vars()))) env[k] = v;

  // ---- ctx ----

  const [idHex, idName] = host.id();
  const ctx = {
    id: new DurableObjectId(idHex, idName),
    storage,
    blockConcurrencyWhile: (callback) => host.blockConcurrencyWhile(callback),
    waitUntil: (promise) => host.waitUntil(Promise.resolve(promise)),
    abort: (reason) => host.abort(reason === undefined ? null : String(reason)),
  };

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
    ctx,
    env,
    workers: { DurableObject, WorkerEntrypoint, env },
    hasMethod: (object, name) => typeof object[name] === "function",
  };
});
