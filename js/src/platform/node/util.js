// `node:util`: `inspect` (a readable rendering, not Node's byte for byte), `format`,
// `promisify`/`callbackify`, `inherits`, `deprecate`, `isDeepStrictEqual`, `types`, and
// the encoding classes.
import { deepStrictEqual } from "node:assert";

const isPlainKey = (k) => /^[A-Za-z_$][\w$]*$/.test(k);

export function inspect(value, options = {}) {
  const depthLimit = options.depth === undefined ? 2 : options.depth === null ? Infinity : options.depth;
  const seen = new Set();
  const show = (v, depth) => {
    switch (typeof v) {
      case "string":
        return depth === 0 ? `'${v}'` : `'${v.replace(/'/g, "\\'")}'`;
      case "number":
        return Object.is(v, -0) ? "-0" : String(v);
      case "bigint":
        return `${v}n`;
      case "undefined":
      case "boolean":
        return String(v);
      case "symbol":
        return v.toString();
      case "function":
        return v.name ? `[Function: ${v.name}]` : "[Function (anonymous)]";
    }
    if (v === null) return "null";
    if (seen.has(v)) return "[Circular *1]";
    if (v instanceof Error) {
      // QuickJS's stack lists frames only; V8's starts with the error's own line.
      const head = `${v.name}: ${v.message}`;
      return v.stack && !v.stack.startsWith(head) ? `${head}\n${v.stack}`.trimEnd() : v.stack || head;
    }
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (depth > depthLimit) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.add(v);
    try {
      if (Array.isArray(v)) return v.length === 0 ? "[]" : `[ ${v.map((x) => show(x, depth + 1)).join(", ")} ]`;
      if (v instanceof Map) {
        const items = [...v].map(([k, x]) => `${show(k, depth + 1)} => ${show(x, depth + 1)}`);
        return `Map(${v.size}) {${items.length ? " " + items.join(", ") + " " : ""}}`;
      }
      if (v instanceof Set) {
        const items = [...v].map((x) => show(x, depth + 1));
        return `Set(${v.size}) {${items.length ? " " + items.join(", ") + " " : ""}}`;
      }
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
        const name = v.constructor.name;
        return `${name}(${v.length}) [${v.length ? " " + Array.from(v).join(", ") + " " : ""}]`;
      }
      const keys = Object.keys(v);
      const name = v.constructor && v.constructor !== Object ? v.constructor.name + " " : "";
      if (keys.length === 0) return `${name}{}`;
      const items = keys.map((k) => `${isPlainKey(k) ? k : `'${k}'`}: ${show(v[k], depth + 1)}`);
      return `${name}{ ${items.join(", ")} }`;
    } finally {
      seen.delete(v);
    }
  };
  return show(value, 0);
}
inspect.custom = Symbol.for("nodejs.util.inspect.custom");

export function format(first, ...args) {
  if (typeof first !== "string") return [first, ...args].map((a) => (typeof a === "string" ? a : inspect(a))).join(" ");
  let i = 0;
  const out = first.replace(/%([sdifjoO%])/g, (m, c) => {
    if (c === "%") return "%";
    if (i >= args.length) return m;
    const a = args[i++];
    switch (c) {
      case "s":
        return typeof a === "string" ? a : inspect(a);
      case "d":
      case "i":
        return String(c === "i" ? parseInt(a) : Number(a));
      case "f":
        return String(parseFloat(a));
      case "j":
        return JSON.stringify(a);
      default:
        return inspect(a);
    }
  });
  return [out, ...args.slice(i).map((a) => (typeof a === "string" ? a : inspect(a)))].join(" ");
}

export const promisify = (fn) => {
  if (typeof fn !== "function") throw new TypeError('The "original" argument must be of type function.');
  if (fn[promisify.custom]) return fn[promisify.custom];
  return function (...args) {
    return new Promise((resolve, reject) => {
      fn.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
    });
  };
};
promisify.custom = Symbol.for("nodejs.util.promisify.custom");

export const callbackify = (fn) =>
  function (...args) {
    const callback = args.pop();
    fn.apply(this, args).then(
      (v) => callback(null, v),
      (e) => callback(e)
    );
  };

export function inherits(ctor, superCtor) {
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
  Object.setPrototypeOf(ctor, superCtor);
  ctor.super_ = superCtor;
}

export function deprecate(fn, message) {
  let warned = false;
  return function (...args) {
    if (!warned) {
      warned = true;
      console.warn(`DeprecationWarning: ${message}`);
    }
    return fn.apply(this, args);
  };
}

export const isDeepStrictEqual = (a, b) => {
  try {
    deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
};

const tag = (v) => Object.prototype.toString.call(v).slice(8, -1);
export const types = {
  isPromise: (v) => v instanceof Promise,
  isDate: (v) => v instanceof Date,
  isRegExp: (v) => v instanceof RegExp,
  isMap: (v) => v instanceof Map,
  isSet: (v) => v instanceof Set,
  isWeakMap: (v) => v instanceof WeakMap,
  isWeakSet: (v) => v instanceof WeakSet,
  isNativeError: (v) => v instanceof Error,
  isArrayBuffer: (v) => v instanceof ArrayBuffer,
  isAnyArrayBuffer: (v) => v instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && v instanceof SharedArrayBuffer),
  isArrayBufferView: (v) => ArrayBuffer.isView(v),
  isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
  isUint8Array: (v) => v instanceof Uint8Array,
  isDataView: (v) => v instanceof DataView,
  isAsyncFunction: (v) => typeof v === "function" && tag(v) === "AsyncFunction",
  isGeneratorFunction: (v) => typeof v === "function" && /GeneratorFunction$/.test(tag(v)),
  isGeneratorObject: (v) => tag(v) === "Generator",
  isBoxedPrimitive: (v) => v instanceof Number || v instanceof String || v instanceof Boolean,
  isProxy: () => false,
};

export const isArray = Array.isArray;
export const TextEncoder = globalThis.TextEncoder;
export const TextDecoder = globalThis.TextDecoder;

export default {
  inspect,
  format,
  promisify,
  callbackify,
  inherits,
  deprecate,
  isDeepStrictEqual,
  types,
  isArray,
  TextEncoder,
  TextDecoder,
};
