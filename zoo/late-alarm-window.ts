// Zoo (needs long horizons): a rollup an hour after the first event of a batch, whose alarm
// counts the events of the window [now - period, now). On time, the window starts at that
// first event; an alarm delivered late (or retried after a failure) by d leaves the events of
// the first d out of every rollup. The twin rolls up [last rollup, now), with the last
// rollup's end stored in the same batch.
// The period comes from `env.PERIOD_MS` (an hour in the manifest; a few ms shows the same
// bug on a short run).
import { DurableObject } from "cloudflare:workers";

class Rollup extends DurableObject {
  period(): number {
    return Number(this.env.PERIOD_MS ?? 3_600_000);
  }
  async record(value: number): Promise<boolean> {
    await this.ctx.storage.put(`ev:${crypto.randomUUID()}`, { at: Date.now(), value });
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + this.period());
    return true;
  }
  async roll(from: number, to: number): Promise<void> {
    let n = 0;
    for (const ev of (await this.ctx.storage.list<{ at: number }>({ prefix: "ev:" })).values()) {
      if (ev.at >= from && ev.at < to) n++;
    }
    await this.ctx.storage.put({ [`roll:${String(from).padStart(12, "0")}`]: { from, to, n }, last: to });
  }
}

export class Bug extends Rollup {
  async alarm(): Promise<void> {
    const now = Date.now();
    await this.roll(now - this.period(), now);
  }
}

export class Fixed extends Rollup {
  async alarm(): Promise<void> {
    const now = Date.now();
    await this.roll((await this.ctx.storage.get<number>("last")) ?? 0, now);
  }
}

// Every event before the last rollup's end is in some rollup's window.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const rolls = Object.entries(run.storage).filter(([k]) => k.startsWith("roll:")).map(([, v]) => v);
  const end = Math.max(0, ...rolls.map((r: any) => r.to));
  const missed = Object.entries(run.storage).filter(
    ([k, ev]) => k.startsWith("ev:") && ev.at < end && !rolls.some((r: any) => ev.at >= r.from && ev.at < r.to),
  );
  return missed.length === 0 ? [] : [`${missed.length} event(s) before ${end} ms in no rollup, e.g. one at ${missed[0][1].at} ms`];
}
