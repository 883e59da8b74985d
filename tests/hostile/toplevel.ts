// Top-level code that never ends (tests/hostile.rs).
import { DurableObject } from "cloudflare:workers";
while (true) {}
export class TopLevel extends DurableObject {
  async ping() {
    return 1;
  }
}
