// An invariant over two objects (tests/horizons.rs, README): `notify()` numbers an event
// and queues it; the alarm delivers the queue to a sink bound with `--bind SINK=Sink`, one
// call per event, and clears the queue after the loop. A reply lost or a crash inside the
// loop makes the retried alarm deliver the same events again: the sink sees doubles.
import { DurableObject } from "cloudflare:workers";

export class Notifier extends DurableObject {
  async notify(): Promise<number> {
    const seq = ((await this.ctx.storage.get<number>("seq")) ?? 0) + 1;
    const queue = (await this.ctx.storage.get<number[]>("queue")) ?? [];
    queue.push(seq);
    await this.ctx.storage.put({ seq, queue });
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 100);
    return seq;
  }

  async alarm(): Promise<void> {
    const queue = (await this.ctx.storage.get<number[]>("queue")) ?? [];
    const sink = this.env.SINK.get(this.env.SINK.idFromName("sink"));
    for (const n of queue) await sink.deliver(n);
    await this.ctx.storage.put("queue", []);
  }
}

export class Sink extends DurableObject {
  async deliver(n: number): Promise<void> {
    const got = (await this.ctx.storage.get<number[]>("got")) ?? [];
    got.push(n);
    await this.ctx.storage.put("got", got);
  }
}

// The sink received each event at most once.
export function invariant(run: any): string | undefined {
  const got: number[] = run.objects.SINK?.sink?.storage.got ?? []; // the helper's committed state
  const sent = run.objects.OBJECT.object.calls.filter((c: any) => c.method === "deliver");
  const twice = got.find((n, i) => got.indexOf(n) !== i);
  if (twice !== undefined) return `the sink received event ${twice} twice (${sent.length} deliveries sent)`;
}
