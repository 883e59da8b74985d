// Zoo (SQLite): `reserve` adds to the reserved total and then checks the capacity, throwing
// when it is exceeded. A throw does not undo writes already made outside a transaction: the
// caller is told the reservation failed, yet it stays counted, and capacity leaks away. The
// twin checks before it writes.
import { DurableObject } from "cloudflare:workers";

const CAPACITY = 20;

class Venue extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS reserved (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER)");
    ctx.storage.sql.exec("INSERT OR IGNORE INTO reserved VALUES (1, 0)");
  }
  total(): number {
    return this.ctx.storage.sql.exec("SELECT n FROM reserved").one().n as number;
  }
}

export class Bug extends Venue {
  async reserve(seats: number): Promise<number> {
    this.ctx.storage.sql.exec("UPDATE reserved SET n = n + ?", seats);
    if (this.total() > CAPACITY) throw new Error("sold out");
    return this.total();
  }
}

export class Fixed extends Venue {
  async reserve(seats: number): Promise<number> {
    if (this.total() + seats > CAPACITY) throw new Error("sold out");
    this.ctx.storage.sql.exec("UPDATE reserved SET n = n + ?", seats);
    return this.total();
  }
}

type Call = { ok: boolean | null; args: any[] };

// The stored total is what the reservations acknowledged (plus those whose outcome the caller
// could not know), and within capacity.
export function invariant(run: { history: Call[]; tables: Record<string, any[]> }): string[] {
  const row = (run.tables.reserved ?? [])[0];
  if (!row) return [];
  let acked = 0;
  let unknown = 0;
  for (const c of run.history) {
    if (c.ok === true) acked += c.args[0];
    if (c.ok === null) unknown += c.args[0];
  }
  const problems: string[] = [];
  if (row.n > CAPACITY) problems.push(`${row.n} seats reserved of ${CAPACITY}`);
  if (row.n < acked || row.n > acked + unknown) {
    problems.push(`${row.n} seats stored as reserved, ${acked} acknowledged (${unknown} unknown)`);
  }
  return problems;
}
