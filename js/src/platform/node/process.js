// `node:process`: the global `process` (process_global.js), its parts as names.
const [process] = globalThis.__dosimPlatform("process");
export const { env, argv, platform, version, versions, nextTick, cwd, hrtime, emitWarning } = process;
export default process;
