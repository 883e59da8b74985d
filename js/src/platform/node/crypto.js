// `node:crypto`'s deterministic parts: `createHash`/`createHmac` (md5, sha1, sha256,
// sha384, sha512, on the Rust crates Web Crypto uses), `randomBytes`/`randomUUID`/
// `randomInt`/`getRandomValues` from the seed's stream, `timingSafeEqual`, `webcrypto`.

const native = globalThis.__dosimNative;
const NAMES = { md5: "MD5", sha1: "SHA-1", "sha-1": "SHA-1", sha256: "SHA-256", "sha-256": "SHA-256", sha384: "SHA-384", "sha-384": "SHA-384", sha512: "SHA-512", "sha-512": "SHA-512" };
const algorithm = (name) => {
  const a = NAMES[String(name).toLowerCase()];
  if (!a) throw new Error("Digest method not supported");
  return a;
};
const toBytes = (data, encoding) => {
  if (typeof data === "string") return Buffer.from(data, encoding);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView.');
};
const output = (buffer, encoding) => {
  const b = Buffer.from(buffer);
  return encoding === undefined || encoding === "buffer" ? b : b.toString(encoding);
};

class Digest {
  #chunks = [];
  #done = false;
  #finish;
  constructor(finish) {
    this.#finish = finish;
  }
  update(data, encoding) {
    if (this.#done) throw new Error("Digest already called");
    this.#chunks.push(Uint8Array.from(toBytes(data, encoding)));
    return this;
  }
  digest(encoding) {
    if (this.#done) throw new Error("Digest already called");
    this.#done = true;
    return output(this.#finish(Buffer.concat(this.#chunks)), encoding);
  }
}

export class Hash extends Digest {
  constructor(name) {
    const a = algorithm(name);
    super((data) => native.digest(a, data));
  }
}
export class Hmac extends Digest {
  constructor(name, key) {
    const a = algorithm(name);
    const k = Uint8Array.from(toBytes(typeof key === "object" && key !== null && key.export ? key.export() : key));
    super((data) => native.hmac(a, k, data));
  }
}
export const createHash = (name) => new Hash(name);
export const createHmac = (name, key) => new Hmac(name, key);
export const getHashes = () => ["md5", "sha1", "sha256", "sha384", "sha512"];

export function randomBytes(size, callback) {
  const bytes = Buffer.alloc(Number(size));
  crypto.getRandomValues(bytes);
  if (typeof callback === "function") {
    queueMicrotask(() => callback(null, bytes));
    return undefined;
  }
  return bytes;
}
export const randomUUID = () => crypto.randomUUID();
export const getRandomValues = (array) => crypto.getRandomValues(array);
export function randomInt(min, max, callback) {
  if (max === undefined || typeof max === "function") [min, max, callback] = [0, min, max];
  const n = min + Math.floor(Math.random() * (max - min));
  if (typeof callback === "function") {
    queueMicrotask(() => callback(null, n));
    return undefined;
  }
  return n;
}
export function timingSafeEqual(a, b) {
  const x = toBytes(a);
  const y = toBytes(b);
  if (x.length !== y.length) throw new RangeError("Input buffers must have the same byte length");
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}
export const webcrypto = globalThis.crypto;
export const subtle = globalThis.crypto.subtle;

export default {
  Hash,
  Hmac,
  createHash,
  createHmac,
  getHashes,
  randomBytes,
  randomUUID,
  getRandomValues,
  randomInt,
  timingSafeEqual,
  webcrypto,
  subtle,
};
