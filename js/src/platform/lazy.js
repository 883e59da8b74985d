// Installs the web platform's globals lazily: each name is an accessor that, when first
// read, runs the script defining it (through `load(i)`, which evaluates that script's
// bytecode) and answers the real value; writing a name replaces it like any global.
// `__dosimFetchKind(v)` lets the prelude's structured clone ask whether a value is a
// Request or Response without loading fetch.js for every object it clones.
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
  const run = (i) => {
    if (loaded[i]) return;
    loaded[i] = true;
    for (const path of provides[i]) {
      const [target, key] = targetOf(path);
      const d = target == null ? undefined : Object.getOwnPropertyDescriptor(target, key);
      if (d && lazyGetters.has(d.get)) delete target[key];
    }
    load(i);
  };
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
        enumerable: false,
      });
    }
  });
  const fetchScript = provides.findIndex((names) => names.includes("Response"));
  Object.defineProperty(globalThis, "__dosimFetchKind", {
    value: (v) => {
      if (!loaded[fetchScript]) return null;
      if (v instanceof globalThis.Response) return "Response";
      if (v instanceof globalThis.Request) return "Request";
      return null;
    },
  });
}
