// DOM events as workerd has them: `Event`, `CustomEvent`, `EventTarget` (listeners with
// `once`, `signal`, `capture` for identity, `handleEvent` objects) and `DOMException`,
// which the other standards throw. Dispatch is synchronous, as the DOM's is.

if (typeof globalThis.DOMException !== "function") {
  const CODES = {
    IndexSizeError: 1,
    NotFoundError: 8,
    NotSupportedError: 9,
    InvalidStateError: 11,
    SyntaxError: 12,
    InvalidAccessError: 15,
    TypeMismatchError: 17,
    SecurityError: 18,
    NetworkError: 19,
    AbortError: 20,
    TimeoutError: 23,
    DataCloneError: 25,
  };
  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super(String(message));
      Object.defineProperty(this, "name", { value: String(name), configurable: true, writable: true });
    }
    get code() {
      return CODES[this.name] || 0;
    }
  }
  for (const [name, code] of Object.entries(CODES)) {
    const constant = name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase().replace(/_ERROR$/, "_ERR");
    Object.defineProperty(DOMException, constant, { value: code });
  }
  globalThis.DOMException = DOMException;
}

class Event {
  #type;
  #bubbles;
  #cancelable;
  #composed;
  #canceled = false;
  #stopped = false;
  constructor(type, init = {}) {
    if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required.");
    this.#type = String(type);
    this.#bubbles = !!init.bubbles;
    this.#cancelable = !!init.cancelable;
    this.#composed = !!init.composed;
    this.target = null;
    this.currentTarget = null;
    this.timeStamp = Date.now();
    this.isTrusted = false;
    this.eventPhase = 0;
  }
  get type() {
    return this.#type;
  }
  get bubbles() {
    return this.#bubbles;
  }
  get cancelable() {
    return this.#cancelable;
  }
  get composed() {
    return this.#composed;
  }
  get defaultPrevented() {
    return this.#canceled;
  }
  get returnValue() {
    return !this.#canceled;
  }
  preventDefault() {
    if (this.#cancelable) this.#canceled = true;
  }
  stopPropagation() {}
  stopImmediatePropagation() {
    this.#stopped = true;
  }
  composedPath() {
    return this.currentTarget ? [this.currentTarget] : [];
  }
  // For EventTarget's dispatch: whether a listener stopped the rest.
  static stopped(event) {
    return event.#stopped;
  }
}
Event.NONE = 0;
Event.CAPTURING_PHASE = 1;
Event.AT_TARGET = 2;
Event.BUBBLING_PHASE = 3;

class CustomEvent extends Event {
  #detail;
  constructor(type, init = {}) {
    super(type, init);
    this.#detail = init.detail === undefined ? null : init.detail;
  }
  get detail() {
    return this.#detail;
  }
}

const isStopped = Event.stopped;
delete Event.stopped;

class EventTarget {
  #listeners = new Map();
  addEventListener(type, listener, options = {}) {
    if (listener === null || listener === undefined) return;
    const opts = typeof options === "boolean" ? { capture: options } : options || {};
    if (opts.signal && opts.signal.aborted) return;
    type = String(type);
    let list = this.#listeners.get(type);
    if (!list) this.#listeners.set(type, (list = []));
    const capture = !!opts.capture;
    if (list.some((l) => l.listener === listener && l.capture === capture)) return;
    const entry = { listener, capture, once: !!opts.once, removed: false };
    list.push(entry);
    if (opts.signal) opts.signal.addEventListener("abort", () => this.removeEventListener(type, listener, { capture }));
  }
  removeEventListener(type, listener, options = {}) {
    const capture = typeof options === "boolean" ? options : !!(options && options.capture);
    const list = this.#listeners.get(String(type));
    if (!list) return;
    const i = list.findIndex((l) => l.listener === listener && l.capture === capture);
    if (i >= 0) {
      list[i].removed = true;
      list.splice(i, 1);
    }
  }
  dispatchEvent(event) {
    if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
    event.target = this;
    event.currentTarget = this;
    event.eventPhase = Event.AT_TARGET;
    const list = [...(this.#listeners.get(event.type) || [])];
    for (const entry of list) {
      if (entry.removed) continue;
      if (entry.once) this.removeEventListener(event.type, entry.listener, { capture: entry.capture });
      try {
        if (typeof entry.listener === "function") entry.listener.call(this, event);
        else if (entry.listener && typeof entry.listener.handleEvent === "function") entry.listener.handleEvent(event);
      } catch (e) {
        // As the DOM: a listener's exception is reported, and the others still run.
        if (typeof reportError === "function") reportError(e);
        else console.error(e);
      }
      if (isStopped(event)) break;
    }
    event.currentTarget = null;
    event.eventPhase = Event.NONE;
    return !event.defaultPrevented;
  }
}

globalThis.Event = Event;
globalThis.CustomEvent = CustomEvent;
globalThis.EventTarget = EventTarget;
