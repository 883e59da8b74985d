// Zoo: a transfer between two accounts that debits, awaits a notification (a timer), then
// credits. Writes separated by a non-storage await are two batches, so a crash in between
// loses the money in flight. The twin makes both writes before anything is awaited, so they
// commit as one batch (on the KV-backed back-end here).
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ACCOUNTS = ["a", "b", "c"];
const START = 100;

class Bank extends DurableObject {
  async balances(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const a of ACCOUNTS) out[a] = (await this.ctx.storage.get<number>(a)) ?? START;
    return out;
  }
}

export class Bug extends Bank {
  async transfer(from: number, to: number, amount: number): Promise<boolean> {
    const [f, t] = [ACCOUNTS[from], ACCOUNTS[to]];
    if (f === t) return false;
    const b = await this.balances();
    if (b[f] < amount) return false;
    await this.ctx.storage.put(f, b[f] - amount);
    await pause(1); // tell the sender
    const now = (await this.ctx.storage.get<number>(t)) ?? START;
    await this.ctx.storage.put(t, now + amount);
    return true;
  }
}

export class Fixed extends Bank {
  async transfer(from: number, to: number, amount: number): Promise<boolean> {
    const [f, t] = [ACCOUNTS[from], ACCOUNTS[to]];
    if (f === t) return false;
    const b = await this.balances();
    if (b[f] < amount) return false;
    await this.ctx.storage.put({ [f]: b[f] - amount, [t]: b[t] + amount });
    await pause(1);
    return true;
  }
}

// Money is neither made nor lost.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const total = ACCOUNTS.reduce((s, a) => s + (run.storage[a] ?? START), 0);
  return total === START * ACCOUNTS.length ? [] : [`the accounts hold ${total}, not ${START * ACCOUNTS.length}`];
}
