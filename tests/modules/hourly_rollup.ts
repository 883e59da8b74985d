// An alarm bug only a long horizon finds (tests/horizons.rs): `add(n)` counts events and
// sets an alarm an hour ahead; the alarm moves the count into the archive. It archives,
// then awaits a timer ("let the archive settle"), then clears the count: two commits. A
// crash between them resets the object, the alarm is retried, and the count is archived
// twice. Only a fault during the alarm, an hour into the run, shows it.
import { DurableObject } from "cloudflare:workers";

const HOUR = 3_600_000;

export class Rollup extends DurableObject {
  async add(n: number): Promise<number> {
    const live = ((await this.ctx.storage.get<number>("live")) ?? 0) + n;
    await this.ctx.storage.put("live", live);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + HOUR);
    return live;
  }

  async alarm(): Promise<void> {
    const live = (await this.ctx.storage.get<number>("live")) ?? 0;
    const archived = (await this.ctx.storage.get<number>("archived")) ?? 0;
    await this.ctx.storage.put("archived", archived + live);
    await new Promise((r) => setTimeout(r, 10));
    await this.ctx.storage.put("live", 0);
  }
}

// Every acknowledged `add` is counted once: live + archived lies between the sum of the
// acknowledged adds and that sum plus the adds whose outcome the caller could not know.
export function invariant(run: any): string | undefined {
  const sure = run.history.filter((c: any) => c.ok === true).reduce((s: number, c: any) => s + c.args[0], 0);
  const maybe = run.history.filter((c: any) => c.ok === null).reduce((s: number, c: any) => s + c.args[0], 0);
  const total = (run.storage.live ?? 0) + (run.storage.archived ?? 0);
  if (total < sure || total > sure + maybe) {
    return `live + archived = ${total}, but the acknowledged adds sum to ${sure} (and ${maybe} more are unknown)`;
  }
}
