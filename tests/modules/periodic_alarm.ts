// A healthy periodic alarm (tests/liveness.rs): every 5 s it re-arms itself and awaits a
// call to another object that takes 2 s. Its phase makes an attempt run across the
// liveness deadline in most seeds; that attempt finishes, so it is no finding.
import { DurableObject } from "cloudflare:workers";

export class Ticker extends DurableObject {
  async start(): Promise<number> {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5000);
    return 1;
  }
  async alarm(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + 5000);
    const echo = this.env.ECHO.get(this.env.ECHO.idFromName("e"));
    const n = await echo.ping();
    await this.ctx.storage.put("ticks", n);
  }
}

export class Echo extends DurableObject {
  async ping(): Promise<number> {
    await new Promise((r) => setTimeout(r, 2000));
    const n = ((await this.ctx.storage.get<number>("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
}
