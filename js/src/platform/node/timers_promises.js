// `node:timers/promises`: the promise forms of the timers, on the simulated clock.
import { promises } from "node:timers";
export const setTimeout = promises.setTimeout;
export const setImmediate = promises.setImmediate;
export default promises;
