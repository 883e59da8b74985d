// A retry-abandonment bug in user code (tests/horizons.rs): `send(n)` queues an item and
// sets an alarm; the alarm hands the queue to a sink object and throws when the sink
// cannot be reached, trusting the alarm's retries. After 6 retries (2 s ... 64 s) the alarm
// is abandoned, and the queued items are never delivered: only a calls outage longer than
// the whole retry schedule shows it. The sink is bound with `--bind SINK=Sink`.
import { DurableObject } from "cloudflare:workers";

export class Outbox extends DurableObject {
  async send(n: number): Promise<number> {
    const queue = (await this.ctx.storage.get<number[]>("queue")) ?? [];
    queue.push(n);
    await this.ctx.storage.put("queue", queue);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 1000);
    return queue.length;
  }

  async alarm(): Promise<void> {
    const queue = (await this.ctx.storage.get<number[]>("queue")) ?? [];
    if (queue.length === 0) return;
    const sink = this.env.SINK.get(this.env.SINK.idFromName("sink"));
    await sink.receive(queue);
    await this.ctx.storage.put("queue", []);
  }
}

export class Sink extends DurableObject {
  async receive(items: number[]): Promise<number> {
    const got = (await this.ctx.storage.get<number[]>("got")) ?? [];
    for (const i of items) if (!got.includes(i)) got.push(i);
    await this.ctx.storage.put("got", got);
    return got.length;
  }
}

// Every acknowledged item reaches the sink, or still waits in the queue with an alarm set.
export function invariant(run: any): string | undefined {
  const got: number[] = run.objects.SINK?.sink?.storage.got ?? [];
  const queue: number[] = run.storage.queue ?? [];
  for (const c of run.history.filter((c: any) => c.ok === true)) {
    const n = c.args[0];
    if (got.includes(n)) continue;
    if (queue.includes(n) && run.alarms !== null) continue;
    return `item ${n} was acknowledged but never delivered, and no alarm will deliver it`;
  }
}
