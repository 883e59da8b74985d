// The user's own "sometimes" points (tests/horizons.rs): `dosim.sometimes(label)` counts a
// visit to a state the author wants to see reached.
import { DurableObject } from "cloudflare:workers";

declare const dosim: { sometimes(label: string): void };

export class Points extends DurableObject {
  async hit(n: number): Promise<number> {
    if (n % 2 === 0) dosim.sometimes("an even number");
    const total = ((await this.ctx.storage.get<number>("total")) ?? 0) + n;
    await this.ctx.storage.put("total", total);
    return total;
  }
}
