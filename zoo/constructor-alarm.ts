// Zoo: reminders share the object's one alarm, and remind() only ever moves it earlier. But the
// constructor also sets the alarm "to make sure one is set" on every start: after a restart
// (a crash, an eviction) it moves the alarm later than reminders already due, which then fire
// late. The twin leaves the alarm to remind() and the handler: a constructor runs on every
// wake, the alarm's own included, so it is no place to move the alarm.
import { DurableObject } from "cloudflare:workers";
import { abandonedByRuntime } from "./lib/alarms";

const TICK_MS = 200;

class Reminders extends DurableObject {
  // Sets the alarm and notes the time it was set for, in one batch.
  arm(at: number): void {
    this.ctx.storage.setAlarm(at);
    this.ctx.storage.put("alarmAt", at);
  }
  async remind(inMs: number): Promise<boolean> {
    const at = Date.now() + inMs;
    await this.ctx.storage.put(`due:${crypto.randomUUID()}`, at);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) this.arm(at);
    return true;
  }
  async alarm(): Promise<void> {
    const now = Date.now();
    const alarmAt = await this.ctx.storage.get<number>("alarmAt");
    let next: number | null = null;
    for (const [k, at] of await this.ctx.storage.list<number>({ prefix: "due:" })) {
      if (at <= now) {
        await this.ctx.storage.put(`fired:${k.slice(4)}`, { at, alarmAt });
        await this.ctx.storage.delete(k);
      } else if (next === null || at < next) next = at;
    }
    if (next !== null) this.arm(next);
  }
}

export class Bug extends Reminders {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    this.arm(Date.now() + TICK_MS);
  }
}

export class Fixed extends Reminders {}

// Every reminder fires, and the alarm that fires it was never set later than its due time.
export function invariant(run: { storage: Record<string, any>; alarmAttempts?: { retryCount: number; outcome: string }[] }): string[] {
  const problems: string[] = [];
  const gaveUp = abandonedByRuntime(run);
  for (const [k, v] of Object.entries(run.storage)) {
    if (k.startsWith("due:") && !gaveUp) problems.push(`reminder due at ${v} ms never fired`);
    if (k.startsWith("fired:") && v.alarmAt > v.at) {
      problems.push(`reminder due at ${v.at} ms was fired by an alarm set for ${v.alarmAt} ms`);
    }
  }
  return problems;
}
