// Zoo, negative control (KV back-end): the constructor starts loading the counter with a
// storage read and does not wait for it (no blockConcurrencyWhile). It looks racy, but a
// storage read holds the input gate until it completes, and workerd delivers every event, the
// one that woke the object included, through the input gate after the constructor returns
// (SEMANTICS.md §1): no request runs before the field is loaded.
// On the SQLite back-end the read completes at once. (dosim used to run the waking
// request right after the constructor, past the read, and reported a count handed out
// twice on the KV back-end.)
import { DurableObject } from "cloudflare:workers";

export class Control extends DurableObject {
  count = 0;
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.get("count").then(
      (v: number | undefined) => {
        this.count = v ?? 0;
      },
      // A read that fails rejects only itself (SEMANTICS.md §3: a read failure): without
      // the count the instance must not serve, so it resets and the next event retries.
      () => ctx.abort("could not load the count"),
    );
  }
  async increment(): Promise<number> {
    this.count += 1;
    this.ctx.storage.put("count", this.count);
    return this.count;
  }
}

type Call = { ok: boolean | null; value: any };

// No count is handed out twice.
export function invariant(run: { history: Call[] }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`count ${c.value} handed out twice`);
    seen.add(c.value);
  }
  return problems;
}
