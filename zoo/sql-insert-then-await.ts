// Zoo, negative control (SQLite): a booking checks with a SELECT and INSERTs in the same
// synchronous step, and only then awaits a slow confirmation (a timer). It looks like the
// check-then-act race, but nothing can run between the SELECT and the INSERT.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Control extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS bookings (slot INTEGER, who TEXT)");
  }
  async book(slot: number, who: string): Promise<boolean> {
    const taken = this.ctx.storage.sql.exec("SELECT 1 FROM bookings WHERE slot = ?", slot).toArray().length > 0;
    if (taken) return false;
    this.ctx.storage.sql.exec("INSERT INTO bookings VALUES (?, ?)", slot, who);
    await pause(3); // send the confirmation
    return true;
  }
}

type Call = { ok: boolean | null; value: any; args: any[] };

// A slot is booked once.
export function invariant(run: { history: Call[]; tables: Record<string, any[]> }): string[] {
  const problems: string[] = [];
  const slots = new Map<number, number>();
  for (const r of run.tables.bookings ?? []) slots.set(r.slot, (slots.get(r.slot) ?? 0) + 1);
  for (const [slot, n] of slots) if (n > 1) problems.push(`slot ${slot} stored ${n} times`);
  const acked = new Set<number>();
  for (const c of run.history) {
    if (c.ok !== true || c.value !== true) continue;
    if (acked.has(c.args[0])) problems.push(`slot ${c.args[0]} booked twice`);
    acked.add(c.args[0]);
  }
  return problems;
}
