// Zoo: a debounced flush done with setTimeout: `add` stores the item as pending and starts a
// timer that moves the pending items to "flushed" a little later. A timer lives in the
// instance: when the object is evicted or crashes first, the timer is gone and nothing ever
// flushes the stored items. The twin schedules the flush with an alarm, which survives.
import { DurableObject } from "cloudflare:workers";

class Batcher extends DurableObject {
  async flush(): Promise<void> {
    const pending = await this.ctx.storage.list<number>({ prefix: "pending:" });
    const moved: Record<string, number> = {};
    for (const [k, v] of pending) moved[`flushed:${k.slice(8)}`] = v;
    await this.ctx.storage.put(moved);
    await this.ctx.storage.delete([...pending.keys()]);
  }
}

export class Bug extends Batcher {
  timer: any = null;
  async add(item: number): Promise<boolean> {
    await this.ctx.storage.put(`pending:${crypto.randomUUID()}`, item);
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, 20);
    }
    return true;
  }
}

export class Fixed extends Batcher {
  async add(item: number): Promise<boolean> {
    await this.ctx.storage.put(`pending:${crypto.randomUUID()}`, item);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 20);
    return true;
  }
  async alarm(): Promise<void> {
    await this.flush();
  }
}

// Nothing is left pending at the end of the run.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const left = Object.keys(run.storage).filter((k) => k.startsWith("pending:"));
  return left.length === 0 ? [] : [`${left.length} item(s) never flushed`];
}
