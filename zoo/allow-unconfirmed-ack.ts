// Zoo: a counter that writes with `allowUnconfirmed: true` to answer faster. The reply no
// longer waits for the write to be durable, so a crash between the reply and the commit
// loses an increment the caller was told about. The twin lets the output gate hold the reply.
import { DurableObject } from "cloudflare:workers";

export class Bug extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count")) ?? 0) + 1;
    this.ctx.storage.put("count", value, { allowUnconfirmed: true });
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

// Every acknowledged count is durable: the stored count is at least the highest one handed out,
// and no count is handed out twice.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  let highest = 0;
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`count ${c.value} handed out twice`);
    seen.add(c.value);
    highest = Math.max(highest, c.value);
  }
  const stored = run.storage.count ?? 0;
  if (stored < highest) problems.push(`count ${highest} acknowledged, ${stored} stored`);
  return problems;
}
