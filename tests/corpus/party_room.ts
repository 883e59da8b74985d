// partyserver's Server (unmodified) as the base of a room with an RPC counter.
import { Server } from "partyserver";

export class Room extends Server {
  async bump(): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}

export function invariant(run: { history: { index: number; ok: boolean | null; value: number }[] }) {
  const seen = new Set<number>();
  const bad: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) bad.push(`count ${c.value} handed out twice (#${c.index})`);
    seen.add(c.value);
  }
  return bad;
}
