// Zoo: a batch sender whose alarm pushes the queued items to a flaky downstream and lets the
// runtime's automatic retries handle a failure. Alarms are retried at most six times; when
// the downstream fails seven times in a row the alarm is abandoned and the queued items are
// never sent. The twin catches the failure and schedules its own next attempt, so it never
// runs out of retries.
import { DurableObject } from "cloudflare:workers";
import { abandonedByRuntime } from "./lib/alarms";

// The downstream fails this often (Math.random is drawn from the seed).
const FLAKY = 0.7;

class Sender extends DurableObject {
  async enqueue(item: number): Promise<boolean> {
    const id = crypto.randomUUID();
    await this.ctx.storage.put(`queue:${id}`, item);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 10);
    return true;
  }
  async send(): Promise<void> {
    const queued = await this.ctx.storage.list({ prefix: "queue:" });
    if (Math.random() < FLAKY) throw new Error("downstream unavailable");
    for (const [k, v] of queued) {
      await this.ctx.storage.put(`sent:${k.slice(6)}`, v);
      await this.ctx.storage.delete(k);
    }
  }
}

export class Bug extends Sender {
  async alarm(): Promise<void> {
    await this.send();
  }
}

export class Fixed extends Sender {
  async alarm(): Promise<void> {
    try {
      await this.send();
    } catch {
      await this.ctx.storage.setAlarm(Date.now() + 1000);
    }
  }
}

// Every item queued is sent by the end of the run.
export function invariant(run: { storage: Record<string, any>; alarmAttempts?: { retryCount: number; outcome: string }[] }): string[] {
  const stuck = Object.keys(run.storage).filter((k) => k.startsWith("queue:"));
  if (stuck.length === 0 || abandonedByRuntime(run, "downstream unavailable")) return [];
  return [`${stuck.length} queued item(s) never sent`];
}
