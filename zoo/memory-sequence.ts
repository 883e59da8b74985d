// Zoo: order numbers come from a field that starts at 1 in every new instance. Variables
// last only as long as the instance: after an eviction (hibernation, a crash, a deploy) the
// object starts numbering again and a new order overwrites an old one under the same number.
// The twin keeps the counter in storage.
import { DurableObject } from "cloudflare:workers";

export class Bug extends DurableObject {
  next = 1;
  async place(item: string): Promise<number> {
    const n = this.next++;
    await this.ctx.storage.put(`order:${n}`, item);
    return n;
  }
}

export class Fixed extends DurableObject {
  async place(item: string): Promise<number> {
    const n = (await this.ctx.storage.get<number>("next")) ?? 1;
    await this.ctx.storage.put({ next: n + 1, [`order:${n}`]: item });
    return n;
  }
}

type Call = { ok: boolean | null; value: any };

// No order number is handed out twice.
export function invariant(run: { history: Call[] }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`order number ${c.value} handed out twice`);
    seen.add(c.value);
  }
  return problems;
}
