// The Encoding Standard's UTF-8 `TextEncoder` and `TextDecoder` (`fatal`, `ignoreBOM`,
// `stream`), with the byte work done by Rust (`__dosimNative.utf8Encode`/`utf8Decode`).

const native = globalThis.__dosimNative;

// Lone surrogates become U+FFFD before the text crosses to Rust, as the Standard says.
const wellFormed = (s) =>
  typeof s.toWellFormed === "function"
    ? s.toWellFormed()
    : s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");

const bytesOf = (input) => {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (typeof SharedArrayBuffer === "function" && input instanceof SharedArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError("The \"input\" argument must be an instance of ArrayBuffer or ArrayBufferView.");
};

class TextEncoder {
  get encoding() {
    return "utf-8";
  }
  encode(input = "") {
    return native.utf8Encode(wellFormed(String(input)));
  }
  encodeInto(source, destination) {
    const bytes = this.encode(source);
    // Only whole characters are written: back off to a character boundary.
    let written = Math.min(bytes.length, destination.length);
    while (written > 0 && written < bytes.length && (bytes[written] & 0xc0) === 0x80) written--;
    destination.set(bytes.subarray(0, written));
    const text = native.utf8Decode(bytes.subarray(0, written), false);
    let read = 0;
    for (const ch of text) read += ch.length;
    return { read, written };
  }
}

const LABELS = new Set(["utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"]);

// How many bytes at the end of `bytes` start a UTF-8 sequence that is not yet complete.
const incompleteTail = (bytes) => {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
};

class TextDecoder {
  #fatal;
  #ignoreBOM;
  #pending = new Uint8Array(0);
  #started = false;
  constructor(label = "utf-8", options = {}) {
    const name = String(label).trim().toLowerCase();
    if (!LABELS.has(name)) throw new RangeError(`The "${label}" encoding is not supported`);
    this.#fatal = !!options.fatal;
    this.#ignoreBOM = !!options.ignoreBOM;
  }
  get encoding() {
    return "utf-8";
  }
  get fatal() {
    return this.#fatal;
  }
  get ignoreBOM() {
    return this.#ignoreBOM;
  }
  decode(input, options = {}) {
    let bytes = bytesOf(input);
    if (this.#pending.length > 0) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
    }
    const stream = !!(options && options.stream);
    const keep = stream ? incompleteTail(bytes) : 0;
    this.#pending = bytes.slice(bytes.length - keep);
    bytes = bytes.subarray(0, bytes.length - keep);
    let text = native.utf8Decode(bytes, this.#fatal);
    if (text == null) {
      this.#pending = new Uint8Array(0);
      this.#started = false;
      throw new TypeError("Failed to decode input.");
    }
    if (!this.#started && !this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.#started = stream && (this.#started || text.length > 0 || bytes.length > 0);
    return text;
  }
}

globalThis.TextEncoder = TextEncoder;
globalThis.TextDecoder = TextDecoder;
