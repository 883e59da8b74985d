// WHATWG streams as far as handlers use them: `ReadableStream` (readers, async iteration,
// `tee`, `pipeTo`, `pipeThrough`, `from`), `WritableStream` (writers), `TransformStream`,
// `TextEncoderStream`/`TextDecoderStream`. Queues are unbounded: `highWaterMark` only
// decides when a source is pulled, and writes never wait for room (see README).

const [TextEncoder, TextDecoder, AbortController] = globalThis.__dosimPlatform("TextEncoder", "TextDecoder", "AbortController");
const resolved = Promise.resolve();
const settle = () => {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
};

const making = Symbol("making a stream part");

class ReadableStreamDefaultController {
  #stream;
  constructor(key, stream) {
    if (key !== making) throw new TypeError("Illegal constructor");
    this.#stream = stream;
  }
  get desiredSize() {
    return readableDesiredSize(this.#stream);
  }
  enqueue(chunk) {
    readableEnqueue(this.#stream, chunk);
  }
  close() {
    readableClose(this.#stream);
  }
  error(e) {
    readableError(this.#stream, e);
  }
}

class ReadableStream {
  #state = "readable";
  #queue = [];
  #closeRequested = false;
  #storedError = undefined;
  #reader = null;
  #source;
  #controller;
  #highWaterMark;
  #started = false;
  #pulling = false;
  #pullAgain = false;
  constructor(source = {}, strategy = {}) {
    this.#source = source || {};
    this.#highWaterMark = strategy.highWaterMark === undefined ? 1 : Number(strategy.highWaterMark);
    this.#controller = new ReadableStreamDefaultController(making, this);
    let started;
    try {
      started = typeof this.#source.start === "function" ? this.#source.start(this.#controller) : undefined;
    } catch (e) {
      this.#error(e);
      throw e;
    }
    Promise.resolve(started).then(
      () => {
        this.#started = true;
        this.#pullIfNeeded();
      },
      (e) => this.#error(e)
    );
  }
  static from(iterable) {
    const iterator = iterable[Symbol.asyncIterator] ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        if (typeof iterator.return === "function") await iterator.return(reason);
      },
    });
  }
  get locked() {
    return this.#reader !== null;
  }
  getReader(options = {}) {
    if (options && options.mode === "byob") throw new TypeError("dosim's ReadableStream has no BYOB readers");
    return new ReadableStreamDefaultReader(this);
  }
  cancel(reason) {
    if (this.locked) return Promise.reject(new TypeError("Cannot cancel a locked ReadableStream"));
    return this.#cancel(reason);
  }
  tee() {
    const reader = this.getReader();
    const branches = [];
    const controllers = [];
    let reading = null;
    const pull = () => {
      if (reading) return reading;
      reading = reader.read().then(
        ({ value, done }) => {
          reading = null;
          for (const c of controllers) {
            try {
              if (done) c.close();
              else c.enqueue(value);
            } catch {
              // a cancelled branch
            }
          }
        },
        (e) => controllers.forEach((c) => c.error(e))
      );
      return reading;
    };
    for (let i = 0; i < 2; i++) {
      branches.push(new ReadableStream({ start: (c) => void controllers.push(c), pull }));
    }
    return branches;
  }
  async pipeTo(destination, options = {}) {
    const reader = this.getReader();
    const writer = destination.getWriter();
    try {
      for (;;) {
        if (options.signal && options.signal.aborted) throw options.signal.reason;
        const { value, done } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
      if (!options.preventClose) await writer.close();
    } catch (e) {
      if (!options.preventAbort) await writer.abort(e).catch(() => {});
      if (!options.preventCancel) await reader.cancel(e).catch(() => {});
      throw e;
    } finally {
      reader.releaseLock();
      writer.releaseLock();
    }
  }
  pipeThrough(transform, options = {}) {
    this.pipeTo(transform.writable, options).catch(() => {});
    return transform.readable;
  }
  values(options = {}) {
    const reader = this.getReader();
    const preventCancel = !!options.preventCancel;
    return {
      next: () => reader.read(),
      return: async (value) => {
        if (!preventCancel) await reader.cancel(value);
        reader.releaseLock();
        return { value, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
  [Symbol.asyncIterator](options) {
    return this.values(options);
  }
  get [Symbol.toStringTag]() {
    return "ReadableStream";
  }

  // ---- the stream's machinery, reached by the controller and reader through statics ----

  static desiredSize(s) {
    if (s.#state === "errored") return null;
    if (s.#state === "closed") return 0;
    return s.#highWaterMark - s.#queue.length;
  }
  static enqueue(s, chunk) {
    if (s.#closeRequested || s.#state !== "readable") throw new TypeError("Unable to enqueue");
    const waiting = s.#reader && s.#reader._takeRequest();
    if (waiting) waiting.resolve({ value: chunk, done: false });
    else s.#queue.push(chunk);
    s.#pullIfNeeded();
  }
  static close(s) {
    if (s.#closeRequested || s.#state !== "readable") throw new TypeError("Cannot close a closed or errored stream");
    s.#closeRequested = true;
    if (s.#queue.length === 0) s.#finish();
  }
  static error(s, e) {
    s.#error(e);
  }
  static read(s) {
    if (s.#queue.length > 0) {
      const value = s.#queue.shift();
      if (s.#closeRequested && s.#queue.length === 0) s.#finish();
      else s.#pullIfNeeded();
      return Promise.resolve({ value, done: false });
    }
    if (s.#state === "closed") return Promise.resolve({ value: undefined, done: true });
    if (s.#state === "errored") return Promise.reject(s.#storedError);
    const request = s.#reader._addRequest();
    s.#pullIfNeeded();
    return request;
  }
  static cancelFromReader(s, reason) {
    return s.#cancel(reason);
  }
  static attach(s, reader) {
    if (s.#reader !== null) throw new TypeError("ReadableStream is locked");
    s.#reader = reader;
    return s.#state === "closed" ? "closed" : s.#state === "errored" ? s.#storedError : null;
  }
  static detach(s) {
    s.#reader = null;
  }
  // The bytes of a stream already closed with all its chunks queued (a body made from
  // text or bytes, or written in full), taken without waiting; `null` if it is still
  // open, since a value leaving the object must be whole now.
  static takeAllNow(s) {
    if (s.#state === "errored") throw s.#storedError;
    if (s.#state === "closed" && s.#queue.length === 0) return [];
    if (!s.#closeRequested) return null;
    const chunks = s.#queue;
    s.#queue = [];
    s.#finish();
    return chunks;
  }

  #pullIfNeeded() {
    if (!this.#started || this.#state !== "readable" || this.#closeRequested) return;
    if (typeof this.#source.pull !== "function") return;
    const wanted = (this.#reader && this.#reader._hasRequests()) || this.#queue.length < this.#highWaterMark;
    if (!wanted) return;
    if (this.#pulling) {
      this.#pullAgain = true;
      return;
    }
    this.#pulling = true;
    let pulled;
    try {
      pulled = this.#source.pull(this.#controller);
    } catch (e) {
      pulled = Promise.reject(e);
    }
    Promise.resolve(pulled).then(
      () => {
        this.#pulling = false;
        if (this.#pullAgain) {
          this.#pullAgain = false;
          this.#pullIfNeeded();
        }
      },
      (e) => this.#error(e)
    );
  }
  #finish() {
    this.#state = "closed";
    if (this.#reader) this.#reader._closed();
  }
  #error(e) {
    if (this.#state !== "readable") return;
    this.#state = "errored";
    this.#storedError = e;
    this.#queue = [];
    if (this.#reader) this.#reader._errored(e);
  }
  #cancel(reason) {
    if (this.#state === "closed") return resolved;
    if (this.#state === "errored") return Promise.reject(this.#storedError);
    this.#queue = [];
    this.#finish();
    try {
      const cancelled = typeof this.#source.cancel === "function" ? this.#source.cancel(reason) : undefined;
      return Promise.resolve(cancelled).then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

const readableDesiredSize = ReadableStream.desiredSize;
const readableEnqueue = ReadableStream.enqueue;
const readableClose = ReadableStream.close;
const readableError = ReadableStream.error;
const readableRead = ReadableStream.read;
const readableCancel = ReadableStream.cancelFromReader;
const readableAttach = ReadableStream.attach;
const readableDetach = ReadableStream.detach;
const takeAllNow = ReadableStream.takeAllNow;
for (const k of ["desiredSize", "enqueue", "close", "error", "read", "cancelFromReader", "attach", "detach", "takeAllNow"]) {
  delete ReadableStream[k];
}

class ReadableStreamDefaultReader {
  #stream;
  #requests = [];
  #closed = settle();
  constructor(stream) {
    if (!(stream instanceof ReadableStream)) throw new TypeError("ReadableStreamDefaultReader needs a ReadableStream");
    const state = readableAttach(stream, this);
    this.#stream = stream;
    if (state === "closed") this.#closed.resolve();
    else if (state !== null) this.#closed.reject(state);
  }
  get closed() {
    return this.#closed.promise;
  }
  read() {
    if (!this.#stream) return Promise.reject(new TypeError("This reader was released"));
    return readableRead(this.#stream);
  }
  cancel(reason) {
    if (!this.#stream) return Promise.reject(new TypeError("This reader was released"));
    return readableCancel(this.#stream, reason);
  }
  releaseLock() {
    if (!this.#stream) return;
    for (const r of this.#requests.splice(0)) r.reject(new TypeError("The reader was released"));
    readableDetach(this.#stream);
    this.#stream = null;
  }
  _addRequest() {
    const r = settle();
    this.#requests.push(r);
    return r.promise;
  }
  _takeRequest() {
    return this.#requests.shift();
  }
  _hasRequests() {
    return this.#requests.length > 0;
  }
  _closed() {
    for (const r of this.#requests.splice(0)) r.resolve({ value: undefined, done: true });
    this.#closed.resolve();
  }
  _errored(e) {
    for (const r of this.#requests.splice(0)) r.reject(e);
    this.#closed.reject(e);
  }
}
for (const k of ["_addRequest", "_takeRequest", "_hasRequests", "_closed", "_errored"]) {
  Object.defineProperty(ReadableStreamDefaultReader.prototype, k, { enumerable: false });
}

class WritableStreamDefaultController {
  #abort = new AbortController();
  constructor(key) {
    if (key !== making) throw new TypeError("Illegal constructor");
  }
  get signal() {
    return this.#abort.signal;
  }
  error(e) {
    this._error(e);
  }
  static abortSignal(c, reason) {
    c.#abort.abort(reason);
  }
}
const abortControllerSignal = WritableStreamDefaultController.abortSignal;
delete WritableStreamDefaultController.abortSignal;

class WritableStream {
  #sink;
  #controller;
  #state = "writable";
  #storedError = undefined;
  #chain;
  #writer = null;
  #closed = settle();
  constructor(sink = {}, strategy = {}) {
    this.#sink = sink || {};
    this.#controller = new WritableStreamDefaultController(making);
    Object.defineProperty(this.#controller, "_error", { value: (e) => this.#error(e) });
    void strategy;
    let started;
    try {
      started = typeof this.#sink.start === "function" ? this.#sink.start(this.#controller) : undefined;
    } catch (e) {
      this.#error(e);
      throw e;
    }
    this.#chain = Promise.resolve(started).then(undefined, (e) => this.#error(e));
  }
  get locked() {
    return this.#writer !== null;
  }
  getWriter() {
    if (this.#writer) throw new TypeError("WritableStream is locked");
    this.#writer = new WritableStreamDefaultWriter(making, this);
    return this.#writer;
  }
  close() {
    if (this.locked) return Promise.reject(new TypeError("Cannot close a locked WritableStream"));
    return this.#close();
  }
  abort(reason) {
    if (this.locked) return Promise.reject(new TypeError("Cannot abort a locked WritableStream"));
    return this.#abort(reason);
  }
  get [Symbol.toStringTag]() {
    return "WritableStream";
  }
  static write(s, chunk) {
    if (s.#state !== "writable") return Promise.reject(s.#storedError || new TypeError("The stream is closed or closing"));
    const step = s.#chain.then(() => {
      if (s.#state === "errored") throw s.#storedError;
      return typeof s.#sink.write === "function" ? s.#sink.write(chunk, s.#controller) : undefined;
    });
    s.#chain = step.then(undefined, (e) => s.#error(e));
    return step.then(() => undefined);
  }
  static close(s) {
    return s.#close();
  }
  static abort(s, reason) {
    return s.#abort(reason);
  }
  static closed(s) {
    return s.#closed.promise;
  }
  static release(s) {
    s.#writer = null;
  }
  static state(s) {
    return s.#state;
  }
  #close() {
    if (this.#state !== "writable") return Promise.reject(new TypeError("The stream is closed or closing"));
    this.#state = "closing";
    const step = this.#chain.then(() => {
      if (this.#storedError !== undefined) throw this.#storedError;
      return typeof this.#sink.close === "function" ? this.#sink.close() : undefined;
    });
    this.#chain = step.then(
      () => {
        this.#state = "closed";
        this.#closed.resolve();
      },
      (e) => this.#error(e)
    );
    return step.then(() => undefined);
  }
  #abort(reason) {
    if (this.#state === "closed" || this.#state === "errored") return resolved;
    abortControllerSignal(this.#controller, reason);
    this.#error(reason);
    try {
      return Promise.resolve(typeof this.#sink.abort === "function" ? this.#sink.abort(reason) : undefined).then(() => undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  #error(e) {
    if (this.#state === "closed" || this.#state === "errored") return;
    this.#state = "errored";
    this.#storedError = e;
    this.#closed.reject(e);
  }
}
const writableWrite = WritableStream.write;
const writableClose = WritableStream.close;
const writableAbort = WritableStream.abort;
const writableClosed = WritableStream.closed;
const writableRelease = WritableStream.release;
const writableState = WritableStream.state;
for (const k of ["write", "close", "abort", "closed", "release", "state"]) delete WritableStream[k];

class WritableStreamDefaultWriter {
  #stream;
  constructor(key, stream) {
    if (key !== making) throw new TypeError("Use stream.getWriter()");
    this.#stream = stream;
  }
  get closed() {
    return this.#stream ? writableClosed(this.#stream) : Promise.reject(new TypeError("This writer was released"));
  }
  get ready() {
    return resolved;
  }
  get desiredSize() {
    if (!this.#stream) throw new TypeError("This writer was released");
    return writableState(this.#stream) === "writable" ? 1 : 0;
  }
  write(chunk) {
    return this.#stream ? writableWrite(this.#stream, chunk) : Promise.reject(new TypeError("This writer was released"));
  }
  close() {
    return this.#stream ? writableClose(this.#stream) : Promise.reject(new TypeError("This writer was released"));
  }
  abort(reason) {
    return this.#stream ? writableAbort(this.#stream, reason) : Promise.reject(new TypeError("This writer was released"));
  }
  releaseLock() {
    if (this.#stream) writableRelease(this.#stream);
    this.#stream = null;
  }
}

class TransformStream {
  #readable;
  #writable;
  constructor(transformer = {}) {
    transformer = transformer || {};
    let readableController;
    this.#readable = new ReadableStream({
      start: (c) => void (readableController = c),
      cancel: (reason) => (typeof transformer.cancel === "function" ? transformer.cancel(reason) : undefined),
    });
    const controller = {
      enqueue: (chunk) => readableController.enqueue(chunk),
      error: (e) => readableController.error(e),
      terminate: () => readableController.close(),
      get desiredSize() {
        return readableController.desiredSize;
      },
    };
    const started = typeof transformer.start === "function" ? transformer.start(controller) : undefined;
    this.#writable = new WritableStream({
      start: () => started,
      write: (chunk) =>
        typeof transformer.transform === "function" ? transformer.transform(chunk, controller) : controller.enqueue(chunk),
      close: async () => {
        if (typeof transformer.flush === "function") await transformer.flush(controller);
        try {
          readableController.close();
        } catch {
          // terminated already
        }
      },
      abort: (reason) => readableController.error(reason),
    });
  }
  get readable() {
    return this.#readable;
  }
  get writable() {
    return this.#writable;
  }
}

class TextEncoderStream extends TransformStream {
  constructor() {
    const encoder = new TextEncoder();
    super({ transform: (chunk, c) => c.enqueue(encoder.encode(String(chunk))) });
  }
  get encoding() {
    return "utf-8";
  }
}

class TextDecoderStream extends TransformStream {
  constructor(label = "utf-8", options = {}) {
    const decoder = new TextDecoder(label, options);
    super({
      transform: (chunk, c) => {
        const text = decoder.decode(chunk, { stream: true });
        if (text.length > 0) c.enqueue(text);
      },
      flush: (c) => {
        const text = decoder.decode();
        if (text.length > 0) c.enqueue(text);
      },
    });
  }
  get encoding() {
    return "utf-8";
  }
}

class CountQueuingStrategy {
  constructor({ highWaterMark }) {
    this.highWaterMark = highWaterMark;
  }
  size() {
    return 1;
  }
}
class ByteLengthQueuingStrategy {
  constructor({ highWaterMark }) {
    this.highWaterMark = highWaterMark;
  }
  size(chunk) {
    return chunk.byteLength;
  }
}

Object.assign(globalThis, {
  ReadableStream,
  ReadableStreamDefaultReader,
  ReadableStreamDefaultController,
  WritableStream,
  WritableStreamDefaultWriter,
  WritableStreamDefaultController,
  TransformStream,
  IdentityTransformStream: TransformStream,
  TextEncoderStream,
  TextDecoderStream,
  CountQueuingStrategy,
  ByteLengthQueuingStrategy,
});
// For fetch.js: a body's bytes when they are all there already.
globalThis.__dosimTakeAllNow = takeAllNow;
