// A correct object for the KV back-end's crash tests (tests/kv_crash.rs): `seed` writes a
// few keys, `bump` reads and increments a counter, `read` lists everything. Under crashes
// nothing it was told is durable may be lost, which its `invariant` checks from the
// callers' side (the runtime's output-gate checker checks it from the inside).
import { DurableObject } from "cloudflare:workers";

export class Bump extends DurableObject {
  async seed(): Promise<number> {
    await this.ctx.storage.put({ a: 1, b: 2, c: 3 });
    return 3;
  }

  async bump(): Promise<number> {
    const n = (await this.ctx.storage.get<number>("count")) ?? 0;
    this.ctx.storage.put("count", n + 1); // not awaited: the output gate holds the reply
    return n + 1;
  }

  async read(): Promise<Record<string, unknown>> {
    return Object.fromEntries(await this.ctx.storage.list());
  }
}

type Call = { method: string; ok: boolean | null; value: any };

// What callers were told is durable: the count is at least the highest acknowledged bump,
// and the keys of an acknowledged seed exist.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const problems: string[] = [];
  let bumped = 0;
  let seeded = false;
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (c.method === "bump") bumped = Math.max(bumped, c.value);
    if (c.method === "seed") seeded = true;
  }
  const count = run.storage["count"] ?? 0;
  if (count < bumped) problems.push(`bump acknowledged ${bumped} but the durable count is ${count}`);
  for (const [k, v] of [["a", 1], ["b", 2], ["c", 3]] as const) {
    if (seeded && run.storage[k] !== v) problems.push(`seed acknowledged but ${k} is ${run.storage[k]}`);
  }
  return problems;
}
