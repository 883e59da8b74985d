// Zoo (SQLite): an order is inserted, then a confirmation is awaited (a timer standing for a
// payment call), then the stock is decremented. The two statements are two batches; a crash
// during the await keeps the order and loses the decrement, so stock and orders disagree.
// The twin runs both statements in one `transactionSync` before awaiting anything.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const START = 50;

class Shop extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, qty INTEGER)");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS stock (item TEXT PRIMARY KEY, left INTEGER)");
    ctx.storage.sql.exec("INSERT OR IGNORE INTO stock VALUES ('widget', ?)", START);
  }
  left(): number {
    return this.ctx.storage.sql.exec("SELECT left FROM stock WHERE item = 'widget'").one().left as number;
  }
}

export class Bug extends Shop {
  async order(qty: number): Promise<boolean> {
    if (this.left() < qty) return false;
    this.ctx.storage.sql.exec("INSERT INTO orders (qty) VALUES (?)", qty);
    await pause(1);
    this.ctx.storage.sql.exec("UPDATE stock SET left = left - ? WHERE item = 'widget'", qty);
    return true;
  }
}

export class Fixed extends Shop {
  async order(qty: number): Promise<boolean> {
    if (this.left() < qty) return false;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("INSERT INTO orders (qty) VALUES (?)", qty);
      this.ctx.storage.sql.exec("UPDATE stock SET left = left - ? WHERE item = 'widget'", qty);
    });
    await pause(1);
    return true;
  }
}

// Stock left plus everything ordered is the starting stock.
export function invariant(run: { tables: Record<string, any[]> }): string[] {
  const orders = run.tables.orders ?? [];
  const stock = run.tables.stock ?? [];
  if (stock.length === 0) return [];
  const ordered = orders.reduce((s: number, o: any) => s + o.qty, 0);
  const left = stock[0].left;
  return ordered + left === START ? [] : [`${ordered} ordered and ${left} left of ${START}`];
}
