// Zoo: reminders with their own due times share the object's one alarm. `remind` sets the
// alarm to its own due time unconditionally, so a later reminder pushes back an earlier one,
// which then fires late (or, once the alarm has fired, never). The twin only ever moves the
// alarm earlier, and the alarm handler sets it to the next reminder still due.
import { DurableObject } from "cloudflare:workers";
import { abandonedByRuntime } from "./lib/alarms";

class Reminders extends DurableObject {
  // Sets the alarm and notes the time it was set for, in one batch.
  arm(at: number): void {
    this.ctx.storage.setAlarm(at);
    this.ctx.storage.put("alarmAt", at);
  }
  async fire(): Promise<number | null> {
    const now = Date.now();
    const alarmAt = await this.ctx.storage.get<number>("alarmAt");
    const due = await this.ctx.storage.list<number>({ prefix: "due:" });
    let next: number | null = null;
    for (const [k, at] of due) {
      if (at <= now) {
        await this.ctx.storage.put(`fired:${k.slice(4)}`, { at, alarmAt });
        await this.ctx.storage.delete(k);
      } else if (next === null || at < next) next = at;
    }
    return next;
  }
}

export class Bug extends Reminders {
  async remind(inMs: number): Promise<boolean> {
    const at = Date.now() + inMs;
    await this.ctx.storage.put(`due:${crypto.randomUUID()}`, at);
    this.arm(at);
    return true;
  }
  async alarm(): Promise<void> {
    await this.fire();
  }
}

export class Fixed extends Reminders {
  async remind(inMs: number): Promise<boolean> {
    const at = Date.now() + inMs;
    await this.ctx.storage.put(`due:${crypto.randomUUID()}`, at);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) this.arm(at);
    return true;
  }
  async alarm(): Promise<void> {
    const next = await this.fire();
    if (next !== null) this.arm(next);
  }
}

// Every reminder fires, and the alarm that fires it was never set later than its due time
// (however late the runtime then delivers the alarm).
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
