// Zoo (SQLite): a parent records a bump in a child object and retries the call once when it
// throws. A call that met the child's reset, or whose reply was lost, may already have run,
// so the retry records the bump twice. The twin's child keeps the bump ids in a table with a
// primary key, so a repeat is ignored.
import { DurableObject } from "cloudflare:workers";

class Child extends DurableObject {
  // Records bump `id`; returns how many times it is recorded.
  async bump(id: string): Promise<number> {
    this.record(id);
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM bumps WHERE id = ?", id).one().n as number;
  }
  record(_id: string): void {}
}

export class PlainChild extends Child {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS bumps (id TEXT)");
  }
  record(id: string): void {
    this.ctx.storage.sql.exec("INSERT INTO bumps VALUES (?)", id);
  }
}

export class KeyedChild extends Child {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS bumps (id TEXT PRIMARY KEY)");
  }
  record(id: string): void {
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO bumps VALUES (?)", id);
  }
}

class Parent extends DurableObject {
  async bumpOn(ns: any): Promise<number> {
    const id = crypto.randomUUID();
    try {
      return await ns.get(ns.idFromName("c")).bump(id);
    } catch {
      return await ns.get(ns.idFromName("c")).bump(id); // one retry, on a fresh stub
    }
  }
}

export class Bug extends Parent {
  async bump(): Promise<number> {
    return this.bumpOn(this.env.PLAIN);
  }
}

export class Fixed extends Parent {
  async bump(): Promise<number> {
    return this.bumpOn(this.env.KEYED);
  }
}

type Call = { ok: boolean | null; value: any };

// Every bump is recorded once.
export function invariant(run: { history: Call[] }): string[] {
  return run.history.filter((c) => c.ok === true && c.value !== 1).map((c) => `a bump recorded ${c.value} times`);
}
