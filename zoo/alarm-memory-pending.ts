// Zoo: a batcher that keeps the pending items in a field and sets an alarm 30 s ahead to
// flush them. An idle object is evicted (hibernates) after about 10 s, and the field with it:
// the alarm wakes a fresh instance with nothing pending, and the acknowledged items are never
// flushed. The twin keeps the pending items in storage.
import { DurableObject } from "cloudflare:workers";

const FLUSH_AFTER_MS = 30_000;

export class Bug extends DurableObject {
  pending: number[] = [];
  async add(item: number): Promise<boolean> {
    this.pending.push(item);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + FLUSH_AFTER_MS);
    await this.ctx.storage.put(`added:${crypto.randomUUID()}`, item);
    return true;
  }
  async alarm(): Promise<void> {
    const flushed = ((await this.ctx.storage.get<number>("flushed")) ?? 0) + this.pending.length;
    this.pending = [];
    await this.ctx.storage.put("flushed", flushed);
  }
}

export class Fixed extends DurableObject {
  async add(item: number): Promise<boolean> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + FLUSH_AFTER_MS);
    const unflushed = ((await this.ctx.storage.get<number>("unflushed")) ?? 0) + 1;
    await this.ctx.storage.put({ [`added:${crypto.randomUUID()}`]: item, unflushed });
    return true;
  }
  async alarm(): Promise<void> {
    const n = (await this.ctx.storage.get<number>("unflushed")) ?? 0;
    const flushed = ((await this.ctx.storage.get<number>("flushed")) ?? 0) + n;
    await this.ctx.storage.put({ flushed, unflushed: 0 });
  }
}

// Every item added (and stored) has been flushed by the end of the run.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const added = Object.keys(run.storage).filter((k) => k.startsWith("added:")).length;
  const flushed = run.storage.flushed ?? 0;
  return flushed >= added ? [] : [`${added} item(s) added, ${flushed} flushed`];
}
