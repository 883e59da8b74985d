// Zoo, negative control (KV back-end): transfers inside storage.transaction() with several
// awaited reads and writes. Cache misses make the reads real round trips, which looks like
// room for a race or a torn write, but the transaction's awaits are storage awaits and its
// writes commit together.
import { DurableObject } from "cloudflare:workers";

const ACCOUNTS = ["a", "b", "c"];
const START = 100;

export class Control extends DurableObject {
  async transfer(from: number, to: number, amount: number): Promise<boolean> {
    const [f, t] = [ACCOUNTS[from], ACCOUNTS[to]];
    if (f === t) return false;
    return this.ctx.storage.transaction(async (txn: any) => {
      const fb = (await txn.get(f)) ?? START;
      if (fb < amount) return false;
      const tb = (await txn.get(t)) ?? START;
      await txn.put(f, fb - amount);
      await txn.put(t, tb + amount);
      return true;
    });
  }
}

// Money is neither made nor lost, and no balance is negative.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const problems: string[] = [];
  const total = ACCOUNTS.reduce((s, a) => s + (run.storage[a] ?? START), 0);
  if (total !== START * ACCOUNTS.length) problems.push(`the accounts hold ${total}`);
  for (const a of ACCOUNTS) if ((run.storage[a] ?? START) < 0) problems.push(`${a} is at ${run.storage[a]}`);
  return problems;
}
