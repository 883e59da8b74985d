// Zoo, negative control (SQLite): "set the alarm if none is set" with getAlarm then setAlarm.
// It looks like two requests could both see no alarm, but both awaits are storage
// operations and the gate stays closed; and the alarm handler marks every job done.
import { DurableObject } from "cloudflare:workers";

export class Control extends DurableObject {
  async schedule(job: number): Promise<boolean> {
    await this.ctx.storage.put(`job:${crypto.randomUUID()}`, job);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 10);
    return true;
  }
  async alarm(): Promise<void> {
    const jobs = await this.ctx.storage.list({ prefix: "job:" });
    const done = ((await this.ctx.storage.get<number>("done")) ?? 0) + jobs.size;
    await this.ctx.storage.put("done", done);
    await this.ctx.storage.delete([...jobs.keys()]);
  }
}

// Every scheduled job ran by the end of the run.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const left = Object.keys(run.storage).filter((k) => k.startsWith("job:"));
  return left.length === 0 ? [] : [`${left.length} job(s) never ran`];
}
