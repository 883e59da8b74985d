// Zoo: an outbox whose alarm delivers each queued event to a webhook sink (another object)
// and then deletes it. Alarms run at least once: a crash or failure after the delivery and
// before the delete makes the retried alarm deliver the event again. The twin sends an
// idempotency key that the sink remembers, so a repeat is recognised and dropped.
// Its invariant reads the sink's own storage (`run.objects`).
import { DurableObject } from "cloudflare:workers";

export class Sink extends DurableObject {
  async deliver(id: string, body: number, dedupe: boolean): Promise<void> {
    if (dedupe && (await this.ctx.storage.get(`seen:${id}`)) !== undefined) return;
    const n = ((await this.ctx.storage.get<number>(`got:${id}`)) ?? 0) + 1;
    await this.ctx.storage.put({ [`got:${id}`]: n, [`seen:${id}`]: body });
  }
}

class Outbox extends DurableObject {
  dedupe = false;
  async publish(body: number): Promise<boolean> {
    await this.ctx.storage.put(`out:${crypto.randomUUID()}`, body);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5);
    return true;
  }
  async alarm(): Promise<void> {
    const sink = this.env.SINK.get(this.env.SINK.idFromName("hooks"));
    for (const [k, body] of await this.ctx.storage.list<number>({ prefix: "out:" })) {
      await sink.deliver(k.slice(4), body, this.dedupe);
      await this.ctx.storage.delete(k);
    }
  }
}

export class Bug extends Outbox {}

export class Fixed extends Outbox {
  dedupe = true;
}

type World = { objects?: Record<string, Record<string, { storage: Record<string, any> }>> };

// The sink received every event at most once.
export function invariant(run: World): string[] {
  const problems: string[] = [];
  for (const sink of Object.values(run.objects?.SINK ?? {})) {
    for (const [k, n] of Object.entries(sink.storage)) {
      if (k.startsWith("got:") && n > 1) problems.push(`event ${k.slice(4)} delivered ${n} times`);
    }
  }
  return problems;
}
