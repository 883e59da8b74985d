// A blockConcurrencyWhile callback that starts an RPC and does not await it, against one
// that awaits it (zoo/bcw-unawaited-init.ts in miniature): when does the first request run?
// Each object logs what happens in it; GET /bug or /fixed answers that log.
import { DurableObject } from "cloudflare:workers";

export class Registry extends DurableObject {
  async slow() {
    await scheduler.wait(200);
    return 7;
  }
}

class Loader extends DurableObject {
  generation = 0;
  log = [];
  load() {
    this.log.push("rpc started");
    const registry = this.env.REGISTRY.get(this.env.REGISTRY.idFromName("r"));
    return registry.slow().then((g) => {
      this.generation = g;
      this.log.push("rpc answered");
    });
  }
  async peek() {
    this.log.push(`request runs, generation ${this.generation}`);
    return this.generation;
  }
  async history() {
    await scheduler.wait(400);
    return this.log;
  }
}

export class Bug extends Loader {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.load().catch(() => {});
    }).then(() => this.log.push("section ended"));
  }
}

export class Fixed extends Loader {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      await this.load();
    }).then(() => this.log.push("section ended"));
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/health") return new Response("ok");
    const ns = pathname === "/bug" ? env.BUG : env.FIXED;
    const stub = ns.get(ns.newUniqueId());
    await stub.peek();
    return Response.json(await stub.history());
  },
};
