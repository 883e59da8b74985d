// Zoo: a payment gateway forwards each charge to a ledger object and, as the error-handling
// advice says, retries a call that threw. But a call that failed in transit may already have
// run: when the ledger applied the charge and its reply was lost, the retry applies it twice.
// The twin passes an idempotency key with the charge, and the ledger applies a key once.
import { DurableObject } from "cloudflare:workers";

export class Ledger extends DurableObject {
  async apply(key: string, amount: number, dedupe: boolean): Promise<number> {
    if (dedupe && (await this.ctx.storage.get(`key:${key}`)) !== undefined) return this.count();
    const n = (await this.count()) + 1;
    await this.ctx.storage.put({ [`entry:${String(n).padStart(4, "0")}`]: { key, amount }, count: n, [`key:${key}`]: n });
    return n;
  }
  async count(): Promise<number> {
    return (await this.ctx.storage.get<number>("count")) ?? 0;
  }
  async entries(): Promise<{ key: string; amount: number }[]> {
    return [...(await this.ctx.storage.list<{ key: string; amount: number }>({ prefix: "entry:" })).values()];
  }
}

class Gateway extends DurableObject {
  dedupe = false;
  ledger() {
    return this.env.LEDGER.get(this.env.LEDGER.idFromName("main"));
  }
  async charge(amount: number): Promise<string> {
    const key = crypto.randomUUID();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ledger().apply(key, amount, this.dedupe);
        return key;
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
  }
  // What the ledger holds, for the invariant.
  async audit(): Promise<string[]> {
    return (await this.ledger().entries()).map((e) => e.key);
  }
}

export class Bug extends Gateway {}

export class Fixed extends Gateway {
  dedupe = true;
}

type Call = { method: string; ok: boolean | null; value: any };

// No charge appears twice in the ledger (as any audit saw it).
export function invariant(run: { history: Call[] }): string[] {
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.method !== "audit" || c.ok !== true) continue;
    const seen = new Set<string>();
    for (const key of c.value) {
      if (seen.has(key)) problems.push(`charge ${key} applied twice`);
      seen.add(key);
    }
  }
  return [...new Set(problems)];
}
