// `node:events`: `EventEmitter` (on/once/off/emit, prepend, listener counts, the `error`
// event's throw, `newListener`/`removeListener`), and `once` as a promise.

const kCapture = Symbol("kCapture");

export class EventEmitter {
  constructor() {
    this._events = new Map();
    this._maxListeners = undefined;
  }
  #list(name) {
    if (!this._events) this._events = new Map();
    let list = this._events.get(name);
    if (!list) this._events.set(name, (list = []));
    return list;
  }
  #add(name, listener, prepend, once) {
    if (typeof listener !== "function") throw new TypeError('The "listener" argument must be of type function.');
    if (this._events && this._events.has("newListener")) this.emit("newListener", name, listener);
    const entry = { listener, once };
    const list = this.#list(name);
    if (prepend) list.unshift(entry);
    else list.push(entry);
    return this;
  }
  on(name, listener) {
    return this.#add(name, listener, false, false);
  }
  addListener(name, listener) {
    return this.on(name, listener);
  }
  prependListener(name, listener) {
    return this.#add(name, listener, true, false);
  }
  once(name, listener) {
    return this.#add(name, listener, false, true);
  }
  prependOnceListener(name, listener) {
    return this.#add(name, listener, true, true);
  }
  off(name, listener) {
    const list = this._events && this._events.get(name);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].listener === listener) {
        list.splice(i, 1);
        if (list.length === 0) this._events.delete(name);
        if (this._events.has("removeListener")) this.emit("removeListener", name, listener);
        break;
      }
    }
    return this;
  }
  removeListener(name, listener) {
    return this.off(name, listener);
  }
  removeAllListeners(name) {
    if (!this._events) return this;
    if (name === undefined) this._events.clear();
    else this._events.delete(name);
    return this;
  }
  emit(name, ...args) {
    const list = this._events && this._events.get(name);
    if (!list || list.length === 0) {
      if (name === "error") {
        const err = args[0];
        if (err instanceof Error) throw err;
        const shown = typeof err === "string" ? `'${err}'` : String(err);
        const e = new Error(`Unhandled error. (${shown})`);
        e.context = err;
        throw e;
      }
      return false;
    }
    for (const entry of [...list]) {
      if (entry.once) {
        const i = list.indexOf(entry);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this._events.delete(name);
      }
      entry.listener.apply(this, args);
    }
    return true;
  }
  listenerCount(name) {
    const list = this._events && this._events.get(name);
    return list ? list.length : 0;
  }
  listeners(name) {
    const list = this._events && this._events.get(name);
    return list ? list.map((e) => e.listener) : [];
  }
  rawListeners(name) {
    return this.listeners(name);
  }
  eventNames() {
    return this._events ? [...this._events.keys()] : [];
  }
  setMaxListeners(n) {
    this._maxListeners = n;
    return this;
  }
  getMaxListeners() {
    return this._maxListeners === undefined ? EventEmitter.defaultMaxListeners : this._maxListeners;
  }
}
EventEmitter.defaultMaxListeners = 10;
EventEmitter.EventEmitter = EventEmitter;
EventEmitter.captureRejectionSymbol = Symbol.for("nodejs.rejection");
EventEmitter[kCapture] = false;

// The arguments of the next `name` event, or the `error` event's error as a rejection.
export function once(emitter, name, options = {}) {
  return new Promise((resolve, reject) => {
    if (typeof emitter.addEventListener === "function" && typeof emitter.on !== "function") {
      emitter.addEventListener(name, (e) => resolve([e]), { once: true, signal: options.signal });
      return;
    }
    const onError = (err) => {
      emitter.off(name, onEvent);
      reject(err);
    };
    const onEvent = (...args) => {
      if (name !== "error") emitter.off("error", onError);
      resolve(args);
    };
    emitter.once(name, onEvent);
    if (name !== "error") emitter.once("error", onError);
  });
}
EventEmitter.once = once;

export function listenerCount(emitter, name) {
  return emitter.listenerCount(name);
}
EventEmitter.listenerCount = listenerCount;

export const errorMonitor = Symbol("events.errorMonitor");
export default EventEmitter;
