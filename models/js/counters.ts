// Counters for the input-gate checks of the JS host: dosim's own, not the reference
// document's. SafeCounter awaits only storage between its read and its write, so the
// input gate keeps other events out; RacyCounter awaits a timer there, so it does not.
import { DurableObject } from "cloudflare:workers";

export class SafeCounter extends DurableObject {
  // Read, await the write, return the old value.
  async getUniqueNumber(): Promise<number> {
    const val: number = (await this.ctx.storage.get("counter")) ?? 0;
    await this.ctx.storage.put("counter", val + 1);
    return val;
  }

  // Read, write without awaiting (the output gate holds the reply), return the old value.
  async increment(): Promise<number> {
    const val: number = (await this.ctx.storage.get("counter")) ?? 0;
    this.ctx.storage.put("counter", val + 1);
    return val;
  }
}

export class RacyCounter extends DurableObject {
  // Read, wait 2 ms on a timer (the input gate opens), write the successor.
  async increment(): Promise<number> {
    const val: number = (await this.ctx.storage.get("value")) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 2));
    await this.ctx.storage.put("value", val + 1);
    return val + 1;
  }
}
