// Schema Migration, from the reference document of Durable Object patterns, code unchanged:
// only formatted (prettier), with a line break where the `//` comment ends. The second
// class adds the workload's two methods (the Rust port's `serve`); it is not the pattern's.
export class MyDurableObject extends DurableObject {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Use SQLite's built-in user_version pragma
    const ver = this.sql.exec("PRAGMA user_version").one()?.user_version || 0;
    if (ver === 0) {
      this.sql.exec(`CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)`);
      this.sql.exec("PRAGMA user_version = 1");
    }
    if (ver === 1) {
      this.sql.exec(`ALTER TABLE users ADD COLUMN email TEXT`);
      this.sql.exec("PRAGMA user_version = 2");
    }
  }
}

export class SchemaMigration extends MyDurableObject {
  addUser(id: number, name: string, email: string) {
    this.sql.exec(
      "INSERT INTO users (id, name, email) VALUES (?, ?, ?)",
      id,
      name,
      email,
    );
    return { id };
  }
  getUser(id: number) {
    return (
      this.sql
        .exec("SELECT id, name, email FROM users WHERE id = ?", id)
        .toArray()[0] ?? null
    );
  }
}
