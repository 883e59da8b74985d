// durable-utils' SQLSchemaMigrations (unmodified) migrating a Durable Object's SQLite
// schema before each request, across crashes.
import { DurableObject } from "cloudflare:workers";
import { SQLSchemaMigrations } from "durable-utils/sql-migrations";

const migrations = [
  { idMonotonicInc: 1, description: "notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)" },
  { idMonotonicInc: 2, description: "tags", sql: "ALTER TABLE notes ADD COLUMN tag TEXT DEFAULT 'none'" },
];

export class Notes extends DurableObject {
  migrations = new SQLSchemaMigrations({ doStorage: this.ctx.storage, migrations });

  async add(body: string): Promise<number> {
    await this.migrations.runAll();
    return this.ctx.storage.sql.exec("INSERT INTO notes (body) VALUES (?) RETURNING id", body).one().id as number;
  }

  async count(): Promise<number> {
    await this.migrations.runAll();
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM notes WHERE tag = 'none'").one().n as number;
  }
}

// Every acknowledged note is in the table, with the migrated column.
export function invariant(run: { history: { method: string; ok: boolean | null; value: number }[]; tables: Record<string, { id: number; tag: string }[]> }) {
  const rows = run.tables.notes ?? [];
  const ids = new Set(rows.map((r) => r.id));
  const bad: string[] = [];
  for (const c of run.history) if (c.method === "add" && c.ok === true && !ids.has(c.value)) bad.push(`note ${c.value} was acknowledged but is not stored`);
  for (const r of rows) if (r.tag !== "none") bad.push(`note ${r.id} has tag ${r.tag}`);
  return bad;
}
