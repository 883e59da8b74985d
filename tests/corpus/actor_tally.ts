// A class built on @cloudflare/actors' Actor (its base class, unmodified).
import { Actor } from "@cloudflare/actors";

export class Tally extends Actor<Record<string, never>> {
  async bump(): Promise<number> {
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}

// No count is handed out twice.
export function invariant(run: { history: { index: number; method: string; ok: boolean | null; value: number }[] }) {
  const seen = new Map<number, number>();
  const bad: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) bad.push(`count ${c.value} went to #${seen.get(c.value)} and #${c.index}`);
    seen.set(c.value, c.index);
  }
  return bad;
}
