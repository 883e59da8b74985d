// Zoo, negative control (SQLite): a read-modify-write across several awaits, all of them on
// storage. It looks like the classic lost update, but storage awaits keep the input gate
// closed, so no other request runs between the read and the write.
import { DurableObject } from "cloudflare:workers";

export class Control extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    await this.ctx.storage.put("last", Date.now());
    await this.ctx.storage.get("last");
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
