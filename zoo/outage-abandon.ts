// Zoo (needs outages): an outbox whose alarm pushes each queued message to a downstream object
// and lets a failed call throw, trusting the runtime's alarm retries. An outage of the calls
// longer than the whole retry schedule (six retries, 2 s to 64 s apart) exhausts them: the
// alarm is abandoned and the queued messages are never sent. The twin catches the failure and
// schedules its own next attempt, so it outlasts any outage.
import { DurableObject } from "cloudflare:workers";

export class Downstream extends DurableObject {
  async accept(id: string): Promise<boolean> {
    await this.ctx.storage.put(`got:${id}`, true);
    return true;
  }
}

class Outbox extends DurableObject {
  async send(body: number): Promise<boolean> {
    await this.ctx.storage.put(`out:${crypto.randomUUID()}`, body);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 100);
    return true;
  }
  async push(): Promise<void> {
    const downstream = this.env.DOWNSTREAM.get(this.env.DOWNSTREAM.idFromName("d"));
    for (const k of (await this.ctx.storage.list({ prefix: "out:" })).keys()) {
      await downstream.accept(k.slice(4));
      await this.ctx.storage.delete(k);
    }
  }
}

export class Bug extends Outbox {
  async alarm(): Promise<void> {
    await this.push();
  }
}

export class Fixed extends Outbox {
  async alarm(): Promise<void> {
    try {
      await this.push();
    } catch {
      await this.ctx.storage.setAlarm(Date.now() + 30_000);
    }
  }
}

// Nothing queued is left unsent at the end of the run.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const left = Object.keys(run.storage).filter((k) => k.startsWith("out:"));
  return left.length === 0 ? [] : [`${left.length} message(s) never sent`];
}
