// Write Coalescing, from the reference document of Durable Object patterns, code unchanged: the
// methods wrapped in `class Metrics` (the Rust port's name), formatted (prettier), a line break
// after each `//` comment where it obviously ends. `MetricsHarness` is not reference code.
export class Metrics extends DurableObject {
  async updateMetrics(userId: string, actions: Action[]) {
    // All writes coalesce - no await needed
    for (const action of actions) {
      this.ctx.storage.put(`user:${userId}:lastAction`, action.type);
      this.ctx.storage.put(
        `user:${userId}:count`,
        (await this.ctx.storage.get(`user:${userId}:count`)) + 1,
      );
    } // Output gate ensures all writes confirm before response
    return new Response("OK");
  } // Atomic batch with SQL
  async batchUpdate(items: Item[]) {
    this.sql.exec("BEGIN");
    for (const item of items) {
      this.sql.exec(
        "INSERT OR REPLACE INTO items VALUES (?, ?)",
        item.id,
        item.value,
      );
    }
    this.sql.exec("COMMIT");
  }
}
// Not reference code: the class the Rust port `Metrics` runs the methods in assigns
// `this.sql`, as the Schema Migration pattern does; this subclass does the same.
export class MetricsHarness extends Metrics {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }
}
