// workers-qb's DOQB (its Durable Object query builder, unmodified) over ctx.storage.sql.
import { DurableObject } from "cloudflare:workers";
import { DOQB } from "workers-qb";

export class Ledger extends DurableObject {
  qb = new DOQB(this.ctx.storage.sql);

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.qb.execute("CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, amount INTEGER)");
  }

  async deposit(amount: number): Promise<number> {
    this.qb.insert({ tableName: "entries", data: { amount } }).execute();
    return this.balance();
  }

  async balance(): Promise<number> {
    const row = this.qb.fetchOne<{ total: number | null }>({ tableName: "entries", fields: "SUM(amount) AS total" }).execute();
    return row.results?.total ?? 0;
  }
}

// The balance is the sum of the stored entries, and never less than an acknowledged deposit.
export function invariant(run: { history: { method: string; ok: boolean | null; args: number[]; value: number }[]; tables: Record<string, { amount: number }[]> }) {
  const stored = (run.tables.entries ?? []).reduce((s, e) => s + e.amount, 0);
  const bad: string[] = [];
  for (const c of run.history) if (c.method === "deposit" && c.ok === true && c.value < c.args[0]) bad.push(`deposit of ${c.args[0]} answered a balance of ${c.value}`);
  const acked = run.history.filter((c) => c.method === "deposit" && c.ok === true).reduce((s, c) => s + c.args[0], 0);
  if (stored < acked) bad.push(`stored ${stored} but ${acked} was acknowledged`);
  return bad;
}
