// Zoo (SQLite): a move between two lists that writes the removal, awaits storage.sync() "to be
// safe", then writes the addition. sync() waits for the first write to be durable, which
// splits the move into two batches: a crash between them loses the item. The twin makes both
// writes, then syncs.
import { DurableObject } from "cloudflare:workers";

const ITEMS = 5;

class Lists extends DurableObject {
  async where(item: number): Promise<string> {
    return (await this.ctx.storage.get<string>(`item:${item}`)) ?? "todo";
  }
}

export class Bug extends Lists {
  async move(item: number): Promise<string> {
    const from = await this.where(item);
    const to = from === "todo" ? "done" : "todo";
    await this.ctx.storage.delete(`item:${item}`);
    await this.ctx.storage.put(`${from}:count`, ((await this.ctx.storage.get<number>(`${from}:count`)) ?? 0) - 1);
    await this.ctx.storage.sync();
    await this.ctx.storage.put(`${to}:count`, ((await this.ctx.storage.get<number>(`${to}:count`)) ?? 0) + 1);
    await this.ctx.storage.put(`item:${item}`, to);
    return to;
  }
}

export class Fixed extends Lists {
  async move(item: number): Promise<string> {
    const from = await this.where(item);
    const to = from === "todo" ? "done" : "todo";
    const fromCount = ((await this.ctx.storage.get<number>(`${from}:count`)) ?? 0) - 1;
    const toCount = ((await this.ctx.storage.get<number>(`${to}:count`)) ?? 0) + 1;
    await this.ctx.storage.put({ [`${from}:count`]: fromCount, [`${to}:count`]: toCount, [`item:${item}`]: to });
    await this.ctx.storage.sync();
    return to;
  }
}

// The per-list counts add up to the items (counts start at 0 for `todo`, meaning ITEMS there:
// a count is an offset from the start), and every item's list agrees with the counts.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const s = run.storage;
  let done = 0;
  for (let i = 0; i <= 100; i++) if (s[`item:${i}`] === "done") done++;
  const todoOffset = s["todo:count"] ?? 0;
  const doneCount = s["done:count"] ?? 0;
  const problems: string[] = [];
  if (doneCount !== done) problems.push(`the done count is ${doneCount}, ${done} items are done`);
  if (todoOffset !== -doneCount) problems.push(`the counts do not add up: todo ${todoOffset}, done ${doneCount}`);
  return problems;
}
void ITEMS;
