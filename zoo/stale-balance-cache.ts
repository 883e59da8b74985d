// Zoo: a wallet that keeps its balance in memory (loaded once under blockConcurrencyWhile)
// and checks it before awaiting a fraud check (a timer standing for a fetch), then deducts.
// Two withdrawals both pass the check on the same cached balance and overdraw it. The twin
// deducts before the await and refunds if the check fails.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const START = 100;

class Wallet extends DurableObject {
  balance = 0;
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.balance = (await ctx.storage.get("balance")) ?? START;
    });
  }
}

export class Bug extends Wallet {
  async withdraw(amount: number): Promise<number | null> {
    if (this.balance < amount) return null;
    await pause(2); // fraud check
    this.balance -= amount;
    await this.ctx.storage.put("balance", this.balance);
    return this.balance;
  }
}

export class Fixed extends Wallet {
  async withdraw(amount: number): Promise<number | null> {
    if (this.balance < amount) return null;
    this.balance -= amount;
    this.ctx.storage.put("balance", this.balance);
    await pause(2); // fraud check, after the money is reserved
    return this.balance;
  }
}

type Call = { ok: boolean | null; value: any; args: any[] };

// The balance never goes below zero, and the acknowledged withdrawals fit in the start balance.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const problems: string[] = [];
  let taken = 0;
  for (const c of run.history) if (c.ok === true && c.value !== null) taken += c.args[0];
  if (taken > START) problems.push(`withdrawals of ${taken} acknowledged from a balance of ${START}`);
  if ((run.storage.balance ?? START) < 0) problems.push(`stored balance ${run.storage.balance}`);
  return problems;
}
