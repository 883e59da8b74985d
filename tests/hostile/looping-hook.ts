// An invariant hook that never returns (tests/hostile.rs).
import { DurableObject } from "cloudflare:workers";
export class Plain extends DurableObject {
  async ping() {
    return 1;
  }
}
export function invariant(_run: unknown) {
  while (true) {}
}
