// Zoo (SQLite): a rate limiter counts the requests in the window with a SELECT, awaits a log
// call (a timer), then records the admission. Concurrent requests all count before any of
// them records, so more are admitted than the limit. The twin records the admission in the
// same synchronous step as the count.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LIMIT = 3;
const WINDOW_MS = 1000;

class Limiter extends DurableObject {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (user TEXT, at INTEGER)");
  }
  recent(user: string): number {
    const since = Date.now() - WINDOW_MS;
    return this.ctx.storage.sql.exec("SELECT COUNT(*) AS n FROM hits WHERE user = ? AND at > ?", user, since).one()
      .n as number;
  }
  // Records an admission; returns its time.
  record(user: string): number {
    const now = Date.now();
    this.ctx.storage.sql.exec("INSERT INTO hits VALUES (?, ?)", user, now);
    return now;
  }
}

export class Bug extends Limiter {
  async admit(user: string): Promise<number | null> {
    if (this.recent(user) >= LIMIT) return null;
    await pause(1); // log the decision
    return this.record(user);
  }
}

export class Fixed extends Limiter {
  async admit(user: string): Promise<number | null> {
    if (this.recent(user) >= LIMIT) return null;
    const at = this.record(user);
    await pause(1);
    return at;
  }
}

type Call = { ok: boolean | null; value: any; args: any[] };

// No user is admitted more than LIMIT times within any window (by the admission times the
// object reported).
export function invariant(run: { history: Call[] }): string[] {
  const byUser = new Map<string, number[]>();
  for (const c of run.history) {
    if (c.ok === true && c.value !== null) byUser.set(c.args[0], [...(byUser.get(c.args[0]) ?? []), c.value]);
  }
  const problems: string[] = [];
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    for (let i = LIMIT; i < times.length; i++) {
      if (times[i] - times[i - LIMIT] < WINDOW_MS) {
        problems.push(`${user} admitted ${LIMIT + 1} times within ${times[i] - times[i - LIMIT]} ms`);
        break;
      }
    }
  }
  return problems;
}
