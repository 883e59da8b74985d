// `AbortController` and `AbortSignal`: `abort`, `reason`, `throwIfAborted`, `onabort`,
// `AbortSignal.abort`, `AbortSignal.any`, and `AbortSignal.timeout`, whose timer runs on
// the simulated clock like any `setTimeout`.

const [EventTarget, Event, DOMException] = globalThis.__dosimPlatform("EventTarget", "Event", "DOMException");
const making = Symbol("making an AbortSignal");

class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  constructor(key) {
    if (key !== making) throw new TypeError("Illegal constructor");
    super();
    this.onabort = null;
  }
  get aborted() {
    return this.#aborted;
  }
  get reason() {
    return this.#reason;
  }
  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }
  static abort(reason) {
    const signal = new AbortSignal(making);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException("The operation was aborted", "AbortError") : reason;
    return signal;
  }
  static timeout(ms) {
    const signal = new AbortSignal(making);
    setTimeout(() => signalAbort(signal, new DOMException("The operation was aborted due to timeout", "TimeoutError")), Number(ms));
    return signal;
  }
  static any(signals) {
    const signal = new AbortSignal(making);
    for (const s of signals) {
      if (s.aborted) {
        signal.#aborted = true;
        signal.#reason = s.reason;
        return signal;
      }
    }
    for (const s of signals) s.addEventListener("abort", () => signalAbort(signal, s.reason), { once: true });
    return signal;
  }
  static _abort(signal, reason) {
    if (signal.#aborted) return;
    signal.#aborted = true;
    signal.#reason = reason === undefined ? new DOMException("The operation was aborted", "AbortError") : reason;
    const event = new Event("abort");
    if (typeof signal.onabort === "function") {
      try {
        signal.onabort(event);
      } catch (e) {
        console.error(e);
      }
    }
    signal.dispatchEvent(event);
  }
  get [Symbol.toStringTag]() {
    return "AbortSignal";
  }
}
const signalAbort = AbortSignal._abort;
delete AbortSignal._abort;

class AbortController {
  #signal = new AbortSignal(making);
  get signal() {
    return this.#signal;
  }
  abort(reason) {
    signalAbort(this.#signal, reason);
  }
}

globalThis.AbortSignal = AbortSignal;
globalThis.AbortController = AbortController;
