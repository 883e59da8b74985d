// `Blob` and `File`: immutable bytes with a type, read as text, bytes or a stream. Parts
// are strings (UTF-8), buffers, views and other blobs, joined when the blob is made.

const [TextEncoder, TextDecoder, ReadableStream] = globalThis.__dosimPlatform("TextEncoder", "TextDecoder", "ReadableStream");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const partBytes = (part) => {
  if (part instanceof Blob) return blobBytes(part);
  if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
  return encoder.encode(String(part));
};

const join = (chunks) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

// The Standard's type: lower case, and empty if it holds anything outside printable ASCII.
const normalType = (type) => {
  const t = type === undefined ? "" : String(type);
  return /^[\x20-\x7e]*$/.test(t) ? t.toLowerCase() : "";
};

class Blob {
  #bytes;
  #type;
  constructor(parts = [], options = {}) {
    if (typeof parts !== "object" || parts === null || typeof parts[Symbol.iterator] !== "function") {
      throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
    }
    this.#bytes = join([...parts].map(partBytes));
    this.#type = normalType(options && options.type);
  }
  static bytes(blob) {
    return blob.#bytes;
  }
  get size() {
    return this.#bytes.length;
  }
  get type() {
    return this.#type;
  }
  slice(start = 0, end = this.#bytes.length, type = "") {
    const size = this.#bytes.length;
    const clamp = (i) => (i < 0 ? Math.max(size + i, 0) : Math.min(i, size));
    return new Blob([this.#bytes.slice(clamp(Number(start)), clamp(Number(end)))], { type });
  }
  async text() {
    return decoder.decode(this.#bytes);
  }
  async arrayBuffer() {
    return this.#bytes.slice().buffer;
  }
  async bytes() {
    return this.#bytes.slice();
  }
  stream() {
    const bytes = this.#bytes.slice();
    return new ReadableStream({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(bytes);
        controller.close();
      },
    });
  }
  get [Symbol.toStringTag]() {
    return "Blob";
  }
}
const blobBytes = Blob.bytes;
delete Blob.bytes;

class File extends Blob {
  #name;
  #lastModified;
  constructor(parts, name, options = {}) {
    if (arguments.length < 2) throw new TypeError("Failed to construct 'File': 2 arguments required.");
    super(parts, options);
    this.#name = String(name);
    this.#lastModified = options.lastModified === undefined ? Date.now() : Number(options.lastModified);
  }
  get name() {
    return this.#name;
  }
  get lastModified() {
    return this.#lastModified;
  }
  get [Symbol.toStringTag]() {
    return "File";
  }
}

globalThis.Blob = Blob;
globalThis.File = File;
// For formdata.js and fetch.js (removed once they ran): a blob's bytes, without a promise.
globalThis.__dosimBlobBytes = blobBytes;
