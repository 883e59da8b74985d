// @outerbase/browsable-durable-object's Browsable decorator (unmodified) on a class that
// stores rows; clients call its RPC methods (its HTTP query interface needs Request.json).
import { DurableObject } from "cloudflare:workers";
import { Browsable } from "@outerbase/browsable-durable-object";

@Browsable()
export class Catalog extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY, qty INTEGER)");
  }

  async stock(name: string, qty: number): Promise<number> {
    this.ctx.storage.sql.exec("INSERT INTO items VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET qty = qty + excluded.qty", name, qty);
    return this.ctx.storage.sql.exec("SELECT qty FROM items WHERE name = ?", name).one().qty as number;
  }
}

// A stocked item's quantity never goes below what one acknowledged call added.
export function invariant(run: { history: { method: string; ok: boolean | null; args: [string, number]; value: number }[] }) {
  return run.history
    .filter((c) => c.ok === true && c.value < c.args[1])
    .map((c) => `stock(${c.args[0]}, ${c.args[1]}) answered ${c.value}`);
}
