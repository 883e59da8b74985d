// Node's `Buffer` (a `Uint8Array` with encodings), global as under workerd's
// `nodejs_compat` and exported by `node:buffer`: from/alloc/concat/byteLength/compare,
// toString and write in utf8, hex, base64, base64url, latin1, ascii and utf16le, equals,
// indexOf, copy, fill, and the fixed-width integer readers and writers.

const [TextEncoder, TextDecoder] = globalThis.__dosimPlatform("TextEncoder", "TextDecoder");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const ENCODINGS = {
  utf8: "utf8",
  "utf-8": "utf8",
  hex: "hex",
  base64: "base64",
  base64url: "base64url",
  latin1: "latin1",
  binary: "latin1",
  ascii: "ascii",
  utf16le: "utf16le",
  "utf-16le": "utf16le",
  ucs2: "utf16le",
  "ucs-2": "utf16le",
};
const encodingOf = (enc) => {
  if (enc === undefined || enc === null) return "utf8";
  const e = ENCODINGS[String(enc).toLowerCase()];
  if (!e) throw new TypeError(`Unknown encoding: ${enc}`);
  return e;
};

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

// Lenient as Node's: url-safe letters accepted, other characters and padding ignored.
const base64Bytes = (s) => {
  const clean = s.replace(/-/g, "+").replace(/_/g, "/").replace(/[^A-Za-z0-9+/]/g, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const c of clean) {
    acc = (acc << 6) | B64_INDEX.get(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
};
const base64Text = (bytes, url) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    s += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)];
    s += i + 1 < bytes.length ? B64[((b & 15) << 2) | (c >> 6)] : "=";
    s += i + 2 < bytes.length ? B64[c & 63] : "=";
  }
  return url ? s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : s;
};

const stringBytes = (s, enc) => {
  switch (encodingOf(enc)) {
    case "utf8":
      return encoder.encode(s);
    case "hex": {
      const n = Math.floor(s.length / 2);
      const out = new Uint8Array(n);
      let i = 0;
      for (; i < n; i++) {
        const byte = parseInt(s.substr(i * 2, 2), 16);
        if (Number.isNaN(byte)) break;
        out[i] = byte;
      }
      return out.subarray(0, i);
    }
    case "base64":
    case "base64url":
      return base64Bytes(s);
    case "latin1":
    case "ascii":
      return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
    case "utf16le": {
      const out = new Uint8Array(s.length * 2);
      for (let i = 0; i < s.length; i++) {
        const code = s.charCodeAt(i);
        out[i * 2] = code & 0xff;
        out[i * 2 + 1] = code >> 8;
      }
      return out;
    }
  }
};

const bytesText = (bytes, enc) => {
  switch (encodingOf(enc)) {
    case "utf8":
      return decoder.decode(bytes);
    case "hex":
      return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    case "base64":
      return base64Text(bytes, false);
    case "base64url":
      return base64Text(bytes, true);
    case "latin1":
      return Array.from(bytes, (b) => String.fromCharCode(b)).join("");
    case "ascii":
      return Array.from(bytes, (b) => String.fromCharCode(b & 0x7f)).join("");
    case "utf16le": {
      let s = "";
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes[i] | (bytes[i + 1] << 8));
      return s;
    }
  }
};

const compareBytes = (a, b) => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
};

class Buffer extends Uint8Array {
  static from(value, encodingOrOffset, length) {
    if (typeof value === "string") {
      const bytes = stringBytes(value, encodingOrOffset);
      return new Buffer(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer)) {
      const offset = encodingOrOffset === undefined ? 0 : Number(encodingOrOffset);
      const len = length === undefined ? value.byteLength - offset : Number(length);
      return new Buffer(value, offset, len);
    }
    if (ArrayBuffer.isView(value)) {
      const copy = new Buffer(value.length);
      for (let i = 0; i < value.length; i++) copy[i] = value[i];
      return copy;
    }
    if (value && value.type === "Buffer" && Array.isArray(value.data)) return Buffer.from(value.data);
    if (value && typeof value.length === "number") {
      const copy = new Buffer(value.length);
      for (let i = 0; i < value.length; i++) copy[i] = value[i];
      return copy;
    }
    throw new TypeError(
      "The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object."
    );
  }
  static alloc(size, fill, encoding) {
    const b = new Buffer(Number(size));
    if (fill !== undefined && fill !== 0) b.fill(fill, 0, b.length, encoding);
    return b;
  }
  static allocUnsafe(size) {
    return new Buffer(Number(size));
  }
  static allocUnsafeSlow(size) {
    return new Buffer(Number(size));
  }
  static byteLength(value, encoding) {
    if (typeof value === "string") return stringBytes(value, encoding).length;
    return value.byteLength;
  }
  static concat(list, totalLength) {
    const total = totalLength === undefined ? list.reduce((n, b) => n + b.length, 0) : Number(totalLength);
    const out = Buffer.alloc(total);
    let at = 0;
    for (const b of list) {
      if (at >= total) break;
      const part = b.length > total - at ? b.subarray(0, total - at) : b;
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
  static isBuffer(value) {
    return value instanceof Buffer;
  }
  static isEncoding(encoding) {
    return typeof encoding === "string" && String(encoding).toLowerCase() in ENCODINGS;
  }
  static compare(a, b) {
    return compareBytes(a, b);
  }
  toString(encoding, start = 0, end = this.length) {
    return bytesText(this.subarray(Math.max(0, start), Math.min(this.length, end)), encoding);
  }
  toJSON() {
    return { type: "Buffer", data: Array.from(this) };
  }
  equals(other) {
    if (!(other instanceof Uint8Array)) throw new TypeError('The "otherBuffer" argument must be an instance of Buffer or Uint8Array.');
    return compareBytes(this, other) === 0;
  }
  compare(target, targetStart = 0, targetEnd = target.length, sourceStart = 0, sourceEnd = this.length) {
    return compareBytes(this.subarray(sourceStart, sourceEnd), target.subarray(targetStart, targetEnd));
  }
  // Node's slice shares memory, as subarray does.
  slice(start, end) {
    return this.subarray(start, end);
  }
  subarray(start, end) {
    const view = Uint8Array.prototype.subarray.call(this, start, end);
    return new Buffer(view.buffer, view.byteOffset, view.length);
  }
  write(string, offset, length, encoding) {
    if (typeof offset === "string") [offset, length, encoding] = [0, undefined, offset];
    else if (typeof length === "string") [length, encoding] = [undefined, length];
    offset = offset === undefined ? 0 : Number(offset);
    const bytes = stringBytes(String(string), encoding);
    const n = Math.min(bytes.length, this.length - offset, length === undefined ? Infinity : Number(length));
    this.set(bytes.subarray(0, n), offset);
    return n;
  }
  copy(target, targetStart = 0, sourceStart = 0, sourceEnd = this.length) {
    const part = this.subarray(sourceStart, Math.min(sourceEnd, sourceStart + target.length - targetStart));
    target.set(part, targetStart);
    return part.length;
  }
  fill(value, offset = 0, end = this.length, encoding) {
    if (typeof offset === "string") [offset, end, encoding] = [0, this.length, offset];
    if (typeof value === "number") return Uint8Array.prototype.fill.call(this, value & 0xff, offset, end);
    const pattern = typeof value === "string" ? stringBytes(value, encoding) : value;
    if (pattern.length === 0) return Uint8Array.prototype.fill.call(this, 0, offset, end);
    for (let i = offset, j = 0; i < end; i++, j = (j + 1) % pattern.length) this[i] = pattern[j];
    return this;
  }
  indexOf(value, byteOffset = 0, encoding) {
    if (typeof value === "number") return Uint8Array.prototype.indexOf.call(this, value & 0xff, byteOffset);
    const needle = typeof value === "string" ? stringBytes(value, encoding) : value;
    const start = byteOffset < 0 ? Math.max(this.length + byteOffset, 0) : byteOffset;
    outer: for (let i = start; i <= this.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
  includes(value, byteOffset, encoding) {
    return this.indexOf(value, byteOffset, encoding) !== -1;
  }
  #view() {
    return new DataView(this.buffer, this.byteOffset, this.byteLength);
  }
  static accessors() {
    const kinds = [
      ["UInt8", "Uint8", 1],
      ["Int8", "Int8", 1],
      ["UInt16", "Uint16", 2],
      ["Int16", "Int16", 2],
      ["UInt32", "Uint32", 4],
      ["Int32", "Int32", 4],
      ["Float", "Float32", 4],
      ["Double", "Float64", 8],
      ["BigUInt64", "BigUint64", 8],
      ["BigInt64", "BigInt64", 8],
    ];
    for (const [node, view, size] of kinds) {
      const ends = size === 1 ? [["", false]] : [["LE", true], ["BE", false]];
      for (const [suffix, little] of ends) {
        const check = (buf, offset) => {
          if (offset < 0 || offset + size > buf.length) throw new RangeError("Attempt to access memory outside buffer bounds");
        };
        Buffer.prototype[`read${node}${suffix}`] = function (offset = 0) {
          check(this, offset);
          return this.#view()[`get${view}`](offset, little);
        };
        Buffer.prototype[`write${node}${suffix}`] = function (value, offset = 0) {
          check(this, offset);
          this.#view()[`set${view}`](offset, value, little);
          return offset + size;
        };
        if (node.startsWith("UInt")) {
          Buffer.prototype[`readUint${node.slice(4)}${suffix}`] = Buffer.prototype[`read${node}${suffix}`];
          Buffer.prototype[`writeUint${node.slice(4)}${suffix}`] = Buffer.prototype[`write${node}${suffix}`];
        }
      }
    }
  }
}
Buffer.accessors();
delete Buffer.accessors;
Buffer.poolSize = 8192;

globalThis.Buffer = Buffer;
