// Safe Counter / Optimized Write, from the reference document of Durable Object patterns, code
// unchanged: only formatted (prettier), with a line break where each `//` comment ends;
// the document gives the two methods without a class: wrapped in `OptimizedWrite`.
export class OptimizedWrite extends DurableObject {
  // Input gate blocks other requests
  async getUniqueNumber(): Promise {
    let val = await this.ctx.storage.get("counter");
    await this.ctx.storage.put("counter", val + 1);
    return val;
  }
  // No await on write - output gate delays response until write confirms
  async increment(): Promise {
    let val = await this.ctx.storage.get("counter");
    this.ctx.storage.put("counter", val + 1);
    return new Response(String(val));
  }
}
