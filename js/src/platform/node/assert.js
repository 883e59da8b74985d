// `node:assert`: `AssertionError` and the assertions Node's tests (and workerd's) use —
// ok/equal/strictEqual and their negations, deepEqual/deepStrictEqual, throws/rejects and
// doesNotThrow/doesNotReject, match, fail, ifError — with `assert.strict` the strict set.
import { inspect } from "node:util";

export class AssertionError extends Error {
  constructor(options = {}) {
    const { message, actual, expected, operator } = options;
    super(message !== undefined ? String(message) : `${inspect(actual)} ${operator} ${inspect(expected)}`);
    this.name = "AssertionError";
    this.code = "ERR_ASSERTION";
    this.actual = actual;
    this.expected = expected;
    this.operator = operator;
    this.generatedMessage = message === undefined;
  }
}

const fail = (actual, expected, message, operator, defaultMessage) => {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message: message === undefined ? defaultMessage : message, actual, expected, operator });
};

const isObject = (v) => v !== null && typeof v === "object";

// Structural equality as Node's assert: `strict` compares with Object.is and prototypes.
function sameStructure(a, b, strict, memo = new Map()) {
  if (strict ? Object.is(a, b) : a == b || (a !== a && b !== b)) return true;
  if (!isObject(a) || !isObject(b)) return false;
  if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const tagA = Object.prototype.toString.call(a);
  if (tagA !== Object.prototype.toString.call(b)) return false;
  const pair = memo.get(a);
  if (pair && pair.has(b)) return true;
  if (!pair) memo.set(a, new Set([b]));
  else pair.add(b);
  if (a instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof RegExp) return a.source === b.source && a.flags === b.flags && a.lastIndex === b.lastIndex;
  if (a instanceof Error && (a.message !== b.message || a.name !== b.name)) return false;
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) {
    const x = a instanceof ArrayBuffer ? new Uint8Array(a) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    if (!(a instanceof ArrayBuffer) && !(a instanceof DataView)) return true;
  }
  if (a instanceof Set) {
    if (a.size !== b.size) return false;
    outer: for (const x of a) {
      if (b.has(x)) continue;
      if (!isObject(x) && strict) return false;
      for (const y of b) if (sameStructure(x, y, strict, memo)) continue outer;
      return false;
    }
    return true;
  }
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    outer: for (const [k, v] of a) {
      if (b.has(k)) {
        if (!sameStructure(v, b.get(k), strict, memo)) return false;
        continue;
      }
      for (const [k2, v2] of b) if (sameStructure(k, k2, strict, memo) && sameStructure(v, v2, strict, memo)) continue outer;
      return false;
    }
    return true;
  }
  if (strict && (a instanceof Number || a instanceof String || a instanceof Boolean)) {
    if (!Object.is(a.valueOf(), b.valueOf())) return false;
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (const k of keysA) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!sameStructure(a[k], b[k], strict, memo)) return false;
  }
  return true;
}

// Whether `error` matches `expected` (a class, RegExp, validator function, or object of
// properties); throws an AssertionError if it does not.
const matches = (error, expected, message, operator) => {
  if (expected === undefined) return;
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && error instanceof expected) return;
    if (Error.isPrototypeOf(expected) || expected === Error) {
      const received = error && error.constructor && error.constructor.name;
      const detail = error instanceof Error ? `\n\nError message:\n\n${error.message}` : "";
      fail(error, expected, message, operator, `The error is expected to be an instance of "${expected.name}". Received "${received}"${detail}`);
    }
    if (expected.call({}, error) === true) return;
    fail(error, expected, message, operator, "The validation function is expected to return \"true\".");
  }
  if (expected instanceof RegExp) {
    if (expected.test(String(error))) return;
    fail(error, expected, message, operator, `The input did not match the regular expression ${expected}. Input:\n\n${inspect(String(error))}\n`);
  }
  if (isObject(expected)) {
    for (const k of Object.keys(expected)) {
      const want = expected[k];
      const got = error == null ? undefined : error[k];
      const ok = want instanceof RegExp && typeof got === "string" ? want.test(got) : sameStructure(got, want, true);
      if (!ok) fail(error, expected, message, operator, `Expected values to be strictly deep-equal: ${k}: ${inspect(got)} !== ${inspect(want)}`);
    }
  }
};

const NO_EXCEPTION = Symbol("no exception");
const thrownBy = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return NO_EXCEPTION;
};
const rejectionOf = async (promiseOrFn) => {
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    return e;
  }
  return NO_EXCEPTION;
};
// `throws(fn, "message")`: a string second argument is the message, not what to expect.
const splitExpected = (expected, message) => (typeof expected === "string" ? [undefined, expected] : [expected, message]);

// workerd's text for two values on one line each; longer ones get a plainer text.
const notStrictlyEqual = (actual, expected) => {
  const [a, e] = [inspect(actual), inspect(expected)];
  if (a.includes("\n") || e.includes("\n")) return `Expected values to be strictly equal:\n\n${a} !== ${e}\n`;
  return `Values are not strictly equal:\n\n\n[Diff] Actual / Expected\n\n\n-   ${a}\n+   ${e}\n`;
};

// workerd's text when both values print on one line each.
const notDeepStrictlyEqual = (actual, expected) =>
  `Expected values to be strictly deep-equal:\n+ actual - expected\n\n+ ${inspect(actual)}\n- ${inspect(expected)}`;

export function ok(value, message) {
  if (!value) fail(value, true, message, "==", arguments.length === 0 ? "No value argument passed to `assert.ok()`" : `${inspect(value)} == true`);
}
// workerd's node:assert compares strictly in `equal` and `deepEqual` too (as Node's
// `assert/strict`); measured on workerd 1.20261117.1.
export function equal(actual, expected, message) {
  if (!Object.is(actual, expected)) fail(actual, expected, message, "equal", notStrictlyEqual(actual, expected));
}
export function notEqual(actual, expected, message) {
  if (Object.is(actual, expected)) fail(actual, expected, message, "notEqual", `Expected "actual" to be strictly unequal to: ${inspect(expected)}`);
}
export function strictEqual(actual, expected, message) {
  if (!Object.is(actual, expected)) fail(actual, expected, message, "strictEqual", notStrictlyEqual(actual, expected));
}
export function notStrictEqual(actual, expected, message) {
  if (Object.is(actual, expected)) fail(actual, expected, message, "notStrictEqual", `Expected "actual" to be strictly unequal to: ${inspect(expected)}`);
}
function deepEqualAssert(actual, expected, message) {
  if (!sameStructure(actual, expected, true)) fail(actual, expected, message, "deepEqual", notDeepStrictlyEqual(actual, expected));
}
export { deepEqualAssert as deepEqual };
export function notDeepEqual(actual, expected, message) {
  if (sameStructure(actual, expected, true)) fail(actual, expected, message, "notDeepEqual", `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`);
}
export function deepStrictEqual(actual, expected, message) {
  if (!sameStructure(actual, expected, true)) fail(actual, expected, message, "deepStrictEqual", notDeepStrictlyEqual(actual, expected));
}
export function notDeepStrictEqual(actual, expected, message) {
  if (sameStructure(actual, expected, true)) fail(actual, expected, message, "notDeepStrictEqual", `Expected "actual" not to be strictly deep-equal to: ${inspect(expected)}`);
}
export function throws(fn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const e = thrownBy(fn);
  if (e === NO_EXCEPTION) fail(undefined, expected, message, "throws", "Missing expected exception.");
  matches(e, expected, message, "throws");
}
export function doesNotThrow(fn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const e = thrownBy(fn);
  if (e !== NO_EXCEPTION) fail(e, expected, message, "doesNotThrow", `Got unwanted exception.\nActual message: "${e && e.message}"`);
}
export async function rejects(promiseOrFn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const e = await rejectionOf(promiseOrFn);
  if (e === NO_EXCEPTION) fail(undefined, expected, message, "rejects", "Missing expected rejection.");
  matches(e, expected, message, "rejects");
}
export async function doesNotReject(promiseOrFn, expected, message) {
  [expected, message] = splitExpected(expected, message);
  const e = await rejectionOf(promiseOrFn);
  if (e !== NO_EXCEPTION) fail(e, expected, message, "doesNotReject", `Got unwanted rejection.\nActual message: "${e && e.message}"`);
}
export function match(string, regexp, message) {
  if (!regexp.test(string)) fail(string, regexp, message, "match", `The input did not match the regular expression ${regexp}. Input:\n\n${inspect(string)}\n`);
}
export function doesNotMatch(string, regexp, message) {
  if (regexp.test(string)) fail(string, regexp, message, "doesNotMatch", `The input was expected to not match the regular expression ${regexp}. Input:\n\n${inspect(string)}\n`);
}
function failAssert(message = "Failed") {
  if (message instanceof Error) throw message;
  throw new AssertionError({ message, operator: "fail" });
}
export { failAssert as fail };
export function ifError(value) {
  if (value !== null && value !== undefined) {
    if (value instanceof Error) throw value;
    fail(value, null, undefined, "ifError", `ifError got unwanted exception: ${inspect(value)}`);
  }
}

const common = { AssertionError, ok, fail: failAssert, ifError, throws, doesNotThrow, rejects, doesNotReject, match, doesNotMatch };
const strictSet = {
  ...common,
  equal: strictEqual,
  notEqual: notStrictEqual,
  deepEqual: deepStrictEqual,
  notDeepEqual: notDeepStrictEqual,
  strictEqual,
  notStrictEqual,
  deepStrictEqual,
  notDeepStrictEqual,
};
export const strict = Object.assign((value, message) => ok(value, message), strictSet);
strict.strict = strict;

const assert = Object.assign((value, message) => ok(value, message), common, {
  equal,
  notEqual,
  strictEqual,
  notStrictEqual,
  deepEqual: deepEqualAssert,
  notDeepEqual,
  deepStrictEqual,
  notDeepStrictEqual,
  strict,
});
export default assert;
