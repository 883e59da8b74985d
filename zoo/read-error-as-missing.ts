// Zoo (KV back-end): a counter that treats a failed storage read as "no value yet". A
// transient read failure then restarts the count at zero and hands out numbers already
// given. The twin lets the read error fail the call, so nothing is handed out on a guess.
import { DurableObject } from "cloudflare:workers";

export class Bug extends DurableObject {
  async increment(): Promise<number> {
    let current: number | undefined;
    try {
      current = await this.ctx.storage.get<number>("count");
    } catch {
      current = undefined; // "first use"
    }
    const value = (current ?? 0) + 1;
    this.ctx.storage.put("count", value);
    return value;
  }
}

export class Fixed extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    this.ctx.storage.put("count", value);
    return value;
  }
}

type Call = { ok: boolean | null; value: any };

// No number is handed out twice.
export function invariant(run: { history: Call[] }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`number ${c.value} handed out twice`);
    seen.add(c.value);
  }
  return problems;
}
