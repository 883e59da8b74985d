// Zoo (KV back-end): a counter that reads with `allowConcurrency: true` to let other requests
// in while it waits on storage. On a cache miss the read is a real round trip, and with the
// option other increments run during it, read the same value, and one update is lost. The
// twin reads with the default, which holds the input gate across the read.
import { DurableObject } from "cloudflare:workers";

export class Bug extends DurableObject {
  async increment(): Promise<number> {
    const value = ((await this.ctx.storage.get<number>("count", { allowConcurrency: true })) ?? 0) + 1;
    this.ctx.storage.put("count", value);
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

// No value is handed to two increments.
export function invariant(run: { history: Call[] }): string[] {
  const seen = new Set<number>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`value ${c.value} handed to two increments`);
    seen.add(c.value);
  }
  return problems;
}
