// Zoo, negative control (SQLite): a counter that first awaits a timer (a fetch elsewhere) and
// only then reads, adds and writes. It has the timer that makes the classic lost update, but
// the read-modify-write after it has only storage awaits, so nothing runs in between.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Control extends DurableObject {
  async increment(): Promise<number> {
    await pause(2); // check a quota elsewhere
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await this.ctx.storage.put("count", value);
    return value;
  }
}

type Call = { ok: boolean | null; value: any };

// No value is handed to two increments, and the stored count covers every acknowledged one.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  let highest = 0;
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`value ${c.value} handed to two increments`);
    seen.add(c.value);
    highest = Math.max(highest, c.value);
  }
  if ((run.storage.count ?? 0) < highest) problems.push(`count ${highest} acknowledged, ${run.storage.count} stored`);
  return problems;
}
