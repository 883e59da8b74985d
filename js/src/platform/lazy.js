// Installs the web platform's globals lazily: each name is an accessor that, when first
// read, runs the script defining it (through `load(i)`, which evaluates that script's
// bytecode) and answers the real value; writing a name replaces it like any global.
// Scripts take what they build on through `__dosimPlatform(...names)`, which loads and
// answers the platform's own values even where the object replaced a global; a script
// that loads after the object replaced one of its names leaves the object's value.
// `__dosimCloneOf(v)` tells the prelude's structured clone what a platform value becomes
// (carried with its fields, or refused as V8's serializer refuses it) without loading any
// script for the objects it clones.
const ENUMERABLE = new Set(["Buffer", "process", "crypto"]);

export default function install(provides, load) {
  const loaded = provides.map(() => false);
  const targetOf = (path) => {
    const parts = path.split(".");
    const key = parts.pop();
    let target = globalThis;
    for (const p of parts) target = target == null ? undefined : target[p];
    return [target, key];
  };
  const lazyGetters = new WeakSet();
  const originals = new Map();
  const run = (i) => {
    if (loaded[i]) return;
    loaded[i] = true;
    const replaced = [];
    for (const path of provides[i]) {
      const [target, key] = targetOf(path);
      const d = target == null ? undefined : Object.getOwnPropertyDescriptor(target, key);
      if (d && lazyGetters.has(d.get)) delete target[key];
      else if (d) replaced.push([target, key, d]);
    }
    load(i);
    for (const path of provides[i]) {
      const [target, key] = targetOf(path);
      if (target == null) continue;
      originals.set(path, target[key]);
      // As workerd's globals: the standards' classes are not enumerable, Node's are.
      const d = Object.getOwnPropertyDescriptor(target, key);
      if (d && "value" in d && d.enumerable && !ENUMERABLE.has(path)) Object.defineProperty(target, key, { enumerable: false });
    }
    for (const [target, key, d] of replaced) Object.defineProperty(target, key, d);
  };
  Object.defineProperty(globalThis, "__dosimPlatform", {
    value: (...names) =>
      names.map((name) => {
        const i = provides.findIndex((p) => p.includes(name));
        if (i < 0) throw new Error(`dosim's platform defines no ${name}`);
        run(i);
        return originals.get(name);
      }),
  });
  provides.forEach((names, i) => {
    for (const path of names) {
      const [target, key] = targetOf(path);
      // A name the engine or the prelude already defines stays as it is.
      if (target == null || key in target) continue;
      const get = () => {
        run(i);
        return target[key];
      };
      lazyGetters.add(get);
      Object.defineProperty(target, key, {
        get,
        set(value) {
          Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
        },
        configurable: true,
        enumerable: ENUMERABLE.has(path),
      });
    }
  });
  // What structured clone makes of a platform value, as V8's serializer in workerd: some
  // types are carried (with the fields the prelude tags them with), the rest refused.
  // Only scripts already loaded are asked: a plain object costs one prototype check.
  const CARRIED = {
    Request: (v) => ({ url: v.url, method: v.method, headers: Object.fromEntries(v.headers), body: v._body }),
    Response: (v) => ({ status: v.status, headers: Object.fromEntries(v.headers), body: v._body }),
    Headers: (v) => ({ v: [...v] }),
    Blob: (v) => ({ v: originals.get("__dosimBlobBytes")(v), type: v.type }),
  };
  const REFUSED = {
    ReadableStream: "ReadableStream can only be serialized for RPC.",
    WritableStream: "WritableStream can only be serialized for RPC.",
    AbortSignal: "AbortSignal serialization is not enabled.",
  };
  const NOT_SERIALIZABLE = ["URL", "URLSearchParams", "FormData", "Event", "EventTarget", "AbortController",
    "TransformStream", "TextEncoder", "TextDecoder", "CryptoKey", "SubtleCrypto"];
  const refuse = (text) => {
    const [DOMException] = globalThis.__dosimPlatform("DOMException");
    return new DOMException(text, "DataCloneError");
  };
  Object.defineProperty(globalThis, "__dosimCloneOf", {
    value: (v) => {
      const proto = Object.getPrototypeOf(v);
      if (proto === Object.prototype || proto === null || Array.isArray(v)) return null;
      for (const kind of ["Request", "Response", "Headers"]) {
        const C = originals.get(kind);
        if (C && v instanceof C) return [kind, CARRIED[kind](v)];
      }
      const B = originals.get("Blob");
      if (B && v instanceof B && !(v instanceof originals.get("File"))) return ["Blob", CARRIED.Blob(v)];
      for (const [kind, text] of Object.entries(REFUSED)) {
        const C = originals.get(kind);
        if (C && v instanceof C) throw refuse(text);
      }
      for (const kind of NOT_SERIALIZABLE) {
        const C = originals.get(kind);
        if (C && v instanceof C) {
          throw refuse(`Could not serialize object of type "${kind}". This type does not support serialization.`);
        }
      }
      return null;
    },
  });
}
