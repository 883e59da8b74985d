// Zoo: a counter that reads, awaits a timer (standing for a fetch to another service), then
// writes. The timer opens the input gate, so two increments read the same value and one is
// lost. The twin does its read-modify-write with only storage awaits in between.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Bug extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await pause(2); // "report the new value to analytics" before saving it
    await this.ctx.storage.put("count", value);
    return value;
  }
}

export class Fixed extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await this.ctx.storage.put("count", value);
    await pause(2); // the outside call happens after the state change is made
    return value;
  }
}

type Call = { method: string; ok: boolean | null; value: any };

// No value is handed to two increments, and every acknowledged one is in the stored count.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  let acknowledged = 0;
  for (const c of run.history) {
    if (c.ok !== true) continue;
    acknowledged++;
    if (seen.has(c.value)) problems.push(`value ${c.value} handed to two increments`);
    seen.add(c.value);
  }
  const stored = run.storage.count ?? 0;
  if (stored < acknowledged) problems.push(`stored count ${stored} < ${acknowledged} acknowledged increments`);
  return problems;
}
