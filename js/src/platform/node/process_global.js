// The global `process` as workerd gives it under `nodejs_compat`: `env` (empty: workerd
// fills it from bindings only with a compatibility flag), `nextTick` as a microtask, and
// fixed facts about the host; `node:process` exports the same object.
const nextTick = (fn, ...args) => queueMicrotask(() => fn(...args));
const hrtime = Object.assign(
  (previous) => {
    const ns = BigInt(Math.floor(performance.now() * 1e6));
    const now = [Number(ns / 1000000000n), Number(ns % 1000000000n)];
    if (!previous) return now;
    const diff = ns - (BigInt(previous[0]) * 1000000000n + BigInt(previous[1]));
    return [Number(diff / 1000000000n), Number(diff % 1000000000n)];
  },
  { bigint: () => BigInt(Math.floor(performance.now() * 1e6)) }
);
globalThis.process = {
  env: {},
  argv: [],
  platform: "linux",
  version: "v22.0.0",
  versions: { node: "22.0.0" },
  nextTick,
  cwd: () => "/",
  hrtime,
  emitWarning: (warning) => console.warn(String(warning)),
};
