// An invariant hook that reads the clock (tests/hostile.rs): the hook's clock is frozen,
// so its verdict is the same on every run; a real clock would flip it at random.
import { DurableObject } from "cloudflare:workers";
export class Plain extends DurableObject {
  async ping() {
    return [new Date().toString(), new Date(2020, 0, 1).getHours(), new Date().getTimezoneOffset()];
  }
}
export function invariant(_run: unknown) {
  const tick = Math.floor(performance.now() * 1000) + Date.now() + new Date().getTime();
  return tick % 2 === 1 ? [`the hook's clock moved: ${tick}`] : [];
}
