// Hostile objects for tests/hostile.rs: ordinary mistakes that once hung, aborted or ate
// the harness. Each must end in bounded time and memory with a verdict naming a budget.
import { DurableObject } from "cloudflare:workers";

export class Runaway extends DurableObject {
  // Loops forever when `n` is 13, else stores it: some seeds meet the loop, some do not.
  async spin(n: number) {
    if (n === 13) while (true) {}
    await this.ctx.storage.put("n", n);
    return n;
  }
  async microtasks() {
    const again = (): Promise<unknown> => Promise.resolve().then(again);
    again();
    return 1;
  }
  async allocate() {
    const kept: number[][] = [];
    while (true) kept.push(new Array(1000).fill(1));
  }
  async huge() {
    return "x".repeat(64 * 1024 * 1024);
  }
  async reply(mib: number) {
    return "y".repeat(mib * 1024 * 1024);
  }
  async interval0() {
    setInterval(() => {}, 0);
    return 1;
  }
  async interval1() {
    setInterval(() => {}, 1);
    return 1;
  }
  async never() {
    await new Promise(() => {});
  }
  async armAlarm() {
    await this.ctx.storage.setAlarm(Date.now() + 10);
    return 1;
  }
  async alarm() {
    while (true) {}
  }
  async runawaySql() {
    const sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c";
    return this.ctx.storage.sql.exec(sql).one().n;
  }
  // A value over the storage limit is refused; the next ordinary write must still commit.
  async oversized() {
    try {
      await this.ctx.storage.put("big", "x".repeat(5 * 1024 * 1024));
    } catch (e) {}
    await this.ctx.storage.put("small", 1);
    return (await this.ctx.storage.get("small")) as number;
  }
}

export class LoopingConstructor extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    while (true) {}
  }
  async ping() {
    return 1;
  }
}

export class CallsItself extends DurableObject {
  async ping(n: number): Promise<number> {
    const self = (this.env as any).SELF;
    return self.get(this.ctx.id).ping(n + 1);
  }
}

// Callers that enter a critical section at once, each awaiting a timer inside it.
export class Guarded extends DurableObject {
  async section() {
    await this.ctx.blockConcurrencyWhile(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
    return 1;
  }
  async transaction() {
    await this.ctx.storage.transaction(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
    return 1;
  }
}

export class GuardedConstructor extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
  }
  async section() {
    await this.ctx.blockConcurrencyWhile(async () => {
      await new Promise((r) => setTimeout(r, 1));
    });
    return 1;
  }
}

export class Fan extends DurableObject {
  // `n` simultaneous calls to one `Guarded` (or `GuardedConstructor`) object.
  async fan(n: number, method: string) {
    const env = this.env as any;
    const stub = env.TARGET.get(env.TARGET.idFromName("target"));
    const calls = [];
    for (let i = 0; i < n; i++) calls.push(stub[method]());
    return (await Promise.all(calls)).length;
  }
}
