// Zoo (KV back-end): the constructor starts loading the counter from storage and does not
// wait for it (no blockConcurrencyWhile). The request that woke the object runs as soon as
// the constructor returns, before the read has landed; the read then overwrites what that
// request did, and a count is handed out twice. The twin loads inside blockConcurrencyWhile.
import { DurableObject } from "cloudflare:workers";

class Counter extends DurableObject {
  count = 0;
  async increment(): Promise<number> {
    this.count += 1;
    this.ctx.storage.put("count", this.count);
    return this.count;
  }
}

export class Bug extends Counter {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.get("count").then((v: number | undefined) => {
      this.count = v ?? 0;
    });
  }
}

export class Fixed extends Counter {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.count = (await ctx.storage.get("count")) ?? 0;
    });
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
