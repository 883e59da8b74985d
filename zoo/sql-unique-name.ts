// Zoo (SQLite): sign-up checks that a user name is free with a SELECT, awaits a verification
// step (a timer standing for a fetch), then INSERTs. The table has no UNIQUE constraint, and
// the await opens the input gate: two sign-ups for one name both succeed. The twin inserts
// first (with a UNIQUE constraint) and verifies after.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Bug extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS users (name TEXT, at INTEGER)");
  }
  async signUp(name: string): Promise<boolean> {
    if (this.ctx.storage.sql.exec("SELECT 1 FROM users WHERE name = ?", name).toArray().length > 0) return false;
    await pause(2);
    this.ctx.storage.sql.exec("INSERT INTO users VALUES (?, ?)", name, Date.now());
    return true;
  }
}

export class Fixed extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS users (name TEXT UNIQUE, at INTEGER)");
  }
  async signUp(name: string): Promise<boolean> {
    const r = this.ctx.storage.sql.exec("INSERT OR IGNORE INTO users VALUES (?, ?)", name, Date.now());
    if (r.rowsWritten === 0) return false;
    await pause(2);
    return true;
  }
}

type Call = { ok: boolean | null; value: any; args: any[] };

// A name is signed up once: the table holds no name twice, and no two sign-ups of one name
// were both acknowledged.
export function invariant(run: { history: Call[]; tables: Record<string, any[]> }): string[] {
  const problems: string[] = [];
  const rows = new Map<string, number>();
  for (const r of run.tables.users ?? []) rows.set(r.name, (rows.get(r.name) ?? 0) + 1);
  for (const [name, n] of rows) if (n > 1) problems.push(`name ${name} stored ${n} times`);
  const acked = new Set<string>();
  for (const c of run.history) {
    if (c.ok !== true || c.value !== true) continue;
    if (acked.has(c.args[0])) problems.push(`name ${c.args[0]} signed up twice`);
    acked.add(c.args[0]);
  }
  return problems;
}
