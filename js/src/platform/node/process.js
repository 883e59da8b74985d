// `node:process` as workerd gives it: `env` (empty: workerd fills it from bindings only
// with a compatibility flag), `nextTick` as a microtask, and fixed facts about the host.
const nextTick = (fn, ...args) => queueMicrotask(() => fn(...args));
export const env = {};
export const argv = [];
export const platform = "linux";
export const version = "v22.0.0";
export const versions = { node: "22.0.0" };
export const exitCode = undefined;
export { nextTick };
export const cwd = () => "/";
export const hrtime = Object.assign(
  (previous) => {
    const ns = BigInt(Math.floor(performance.now() * 1e6));
    const now = [Number(ns / 1000000000n), Number(ns % 1000000000n)];
    if (!previous) return now;
    const diff = ns - (BigInt(previous[0]) * 1000000000n + BigInt(previous[1]));
    return [Number(diff / 1000000000n), Number(diff % 1000000000n)];
  },
  { bigint: () => BigInt(Math.floor(performance.now() * 1e6)) }
);
export const emitWarning = (warning) => console.warn(String(warning));
const process = { env, argv, platform, version, versions, nextTick, cwd, hrtime, emitWarning };
export default process;
