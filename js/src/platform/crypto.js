// Web Crypto's `crypto.subtle` for what Durable Objects use most: `digest` (SHA-1/256/384/
// 512) and HMAC keys (`importKey`/`exportKey`/`generateKey`, `sign`, `verify`), plus
// workerd's `timingSafeEqual`. The hashing is Rust's (`sha1`, `sha2`, `hmac` crates); the
// prelude's seeded `getRandomValues`/`randomUUID` stay as they are.

const [DOMException] = globalThis.__dosimPlatform("DOMException");
const native = globalThis.__dosimNative;
const HASHES = new Set(["SHA-1", "SHA-256", "SHA-384", "SHA-512"]);
const BLOCK = { "SHA-1": 64, "SHA-256": 64, "SHA-384": 128, "SHA-512": 128 };

const bytesOf = (data, method, parameter) => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw new TypeError(`Failed to execute '${method}' on 'SubtleCrypto': parameter ${parameter} is not of type 'BufferSource'.`);
};

const algorithmName = (algorithm) => String(typeof algorithm === "string" ? algorithm : algorithm && algorithm.name);

const hashName = (hash) => {
  const name = algorithmName(hash).toUpperCase();
  if (!HASHES.has(name)) throw new DOMException("Unrecognized or unimplemented digest algorithm requested.", "NotSupportedError");
  return name;
};

const making = Symbol("making a CryptoKey");

class CryptoKey {
  #bytes;
  constructor(key, bytes, algorithm, extractable, usages) {
    if (key !== making) throw new TypeError("Illegal constructor");
    this.#bytes = bytes;
    this.type = "secret";
    this.algorithm = algorithm;
    this.extractable = extractable;
    this.usages = usages;
  }
  static bytes(key) {
    return key.#bytes;
  }
}
const keyBytes = CryptoKey.bytes;
delete CryptoKey.bytes;

const hmacKey = (key, usage) => {
  if (!(key instanceof CryptoKey)) throw new TypeError("Failed to execute: parameter is not of type 'CryptoKey'.");
  if (key.algorithm.name !== "HMAC") throw new DOMException("The requested operation is not valid for the provided key.", "InvalidAccessError");
  if (!key.usages.includes(usage)) throw new DOMException(`The key does not support the "${usage}" operation.`, "InvalidAccessError");
  return key;
};

const USAGES = new Set(["sign", "verify"]);
const checkUsages = (usages) => {
  for (const u of usages) {
    if (!USAGES.has(u)) throw new DOMException(`Unsupported key usage for an HMAC key: ${u}`, "SyntaxError");
  }
  return [...usages];
};

const fromBase64Url = (s) => {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "="));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
};
const toBase64Url = (u8) => btoa(String.fromCharCode(...u8)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// Every method answers with a promise, and what goes wrong is a rejection, as in workerd.
const asPromise = (f) =>
  function (...args) {
    try {
      return Promise.resolve(f.apply(this, args));
    } catch (e) {
      return Promise.reject(e);
    }
  };

class SubtleCrypto {
  digest(algorithm, data) {
    const name = hashName(algorithm);
    return native.digest(name, bytesOf(data, "digest", 2));
  }
  importKey(format, keyData, algorithm, extractable, usages) {
    if (algorithmName(algorithm).toUpperCase() !== "HMAC") {
      throw new DOMException(`dosim's crypto.subtle supports HMAC keys only, not ${algorithmName(algorithm)}`, "NotSupportedError");
    }
    const hash = hashName(algorithm.hash);
    let bytes;
    if (format === "raw") bytes = bytesOf(keyData, "importKey", 2);
    else if (format === "jwk") {
      if (!keyData || keyData.kty !== "oct" || typeof keyData.k !== "string") throw new DOMException("Invalid JWK for an HMAC key", "DataError");
      bytes = fromBase64Url(keyData.k);
    } else throw new DOMException(`Unsupported key format for HMAC: ${format}`, "NotSupportedError");
    if (bytes.length === 0) throw new DOMException("HMAC key data must not be empty", "DataError");
    const length = algorithm.length === undefined ? bytes.length * 8 : Number(algorithm.length);
    return new CryptoKey(making, bytes, { name: "HMAC", hash: { name: hash }, length }, !!extractable, checkUsages(usages));
  }
  generateKey(algorithm, extractable, usages) {
    if (algorithmName(algorithm).toUpperCase() !== "HMAC") {
      throw new DOMException(`dosim's crypto.subtle supports HMAC keys only, not ${algorithmName(algorithm)}`, "NotSupportedError");
    }
    const hash = hashName(algorithm.hash);
    const length = algorithm.length === undefined ? BLOCK[hash] * 8 : Number(algorithm.length);
    const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 8)));
    return new CryptoKey(making, bytes, { name: "HMAC", hash: { name: hash }, length }, !!extractable, checkUsages(usages));
  }
  exportKey(format, key) {
    if (!(key instanceof CryptoKey)) throw new TypeError("Failed to execute 'exportKey': parameter 2 is not of type 'CryptoKey'.");
    if (!key.extractable) throw new DOMException("Attempt to export non-extractable HMAC key.", "InvalidAccessError");
    const bytes = keyBytes(key);
    if (format === "raw") return bytes.slice().buffer;
    if (format === "jwk") {
      const alg = "HS" + key.algorithm.hash.name.slice(4);
      return { kty: "oct", k: toBase64Url(bytes), alg, key_ops: [...key.usages], ext: true };
    }
    throw new DOMException(`Unsupported key format for HMAC: ${format}`, "NotSupportedError");
  }
  sign(algorithm, key, data) {
    if (algorithmName(algorithm).toUpperCase() !== "HMAC") throw new DOMException(`Unsupported algorithm: ${algorithmName(algorithm)}`, "NotSupportedError");
    hmacKey(key, "sign");
    return native.hmac(key.algorithm.hash.name, keyBytes(key), bytesOf(data, "sign", 3));
  }
  verify(algorithm, key, signature, data) {
    if (algorithmName(algorithm).toUpperCase() !== "HMAC") throw new DOMException(`Unsupported algorithm: ${algorithmName(algorithm)}`, "NotSupportedError");
    hmacKey(key, "verify");
    const expected = new Uint8Array(native.hmac(key.algorithm.hash.name, keyBytes(key), bytesOf(data, "verify", 4)));
    return equalBytes(expected, bytesOf(signature, "verify", 3));
  }
  timingSafeEqual(a, b) {
    const x = bytesOf(a, "timingSafeEqual", 1);
    const y = bytesOf(b, "timingSafeEqual", 2);
    if (x.length !== y.length) throw new TypeError("Input buffers must have the same byte length");
    return equalBytes(x, y);
  }
}
for (const name of ["digest", "importKey", "generateKey", "exportKey", "sign", "verify"]) {
  SubtleCrypto.prototype[name] = asPromise(SubtleCrypto.prototype[name]);
}

// Every byte is compared, whatever the first difference: the time does not say where it is.
const equalBytes = (x, y) => {
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
};

if (typeof globalThis.crypto !== "object" || globalThis.crypto === null) {
  // Outside a run (inspection) there is no seeded stream: a fixed one.
  let seed = 1;
  globalThis.crypto = {
    getRandomValues(array) {
      for (let i = 0; i < array.length; i++) array[i] = (seed = (seed * 48271) % 2147483647);
      return array;
    },
    randomUUID() {
      return "00000000-0000-4000-8000-000000000000";
    },
  };
}
globalThis.crypto.subtle = new SubtleCrypto();
globalThis.SubtleCrypto = SubtleCrypto;
globalThis.CryptoKey = CryptoKey;
