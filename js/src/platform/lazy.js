// Installs the web platform's globals lazily: each name is an accessor that, when first
// read, runs the script defining it (through `load(i)`, which evaluates that script's
// bytecode) and answers the real value; writing a name replaces it like any global.
// Scripts take what they build on through `__dosimPlatform(...names)`, which loads and
// answers the platform's own values even where the object replaced a global; a script
// that loads after the object replaced one of its names leaves the object's value.
// `__dosimFetchKind(v)` lets the prelude's structured clone ask whether a value is a
// Request or Response without loading fetch.js for every object it clones.
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
  const fetchScript = provides.findIndex((names) => names.includes("Response"));
  Object.defineProperty(globalThis, "__dosimFetchKind", {
    value: (v) => {
      if (!loaded[fetchScript]) return null;
      if (v instanceof originals.get("Response")) return "Response";
      if (v instanceof originals.get("Request")) return "Request";
      return null;
    },
  });
}
