// Outbound fetch on dosim's simulated network: a Durable Object that tells a webhook about
// each order, and retries from an alarm when a delivery fails. The receiver is a responder
// in the same file; `invariant` reads every request the object sent (`run.fetches`).
//
//   dosim fuzz --module examples/js/webhook.ts --class Notifier --method 'order(key)' \
//     --responder hooks.example.com=examples/js/webhook.ts#Hooks --seeds 200
//
// The bug: a delivery that times out is taken as not delivered, but the receiver may have
// had it (only its answer was lost), so the retry delivers the same order twice.
import { DurableObject } from "cloudflare:workers";

export class Notifier extends DurableObject {
  async order(id: string): Promise<string> {
    if (await this.ctx.storage.get(`sent:${id}`)) return "already sent";
    if (await this.ctx.storage.get(`pending:${id}`)) return "queued";
    await this.ctx.storage.put(`pending:${id}`, true);
    return this.deliver(id);
  }

  async deliver(id: string): Promise<string> {
    try {
      const response = await fetch("https://hooks.example.com/orders", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id }),
      });
      if (response.ok) {
        await this.ctx.storage.delete(`pending:${id}`);
        await this.ctx.storage.put(`sent:${id}`, true);
        return "sent";
      }
    } catch {
      // A lost connection or a timeout: try again later.
    }
    await this.ctx.storage.setAlarm(Date.now() + 1000);
    return "queued";
  }

  async alarm(): Promise<void> {
    const pending = await this.ctx.storage.list({ prefix: "pending:" });
    for (const key of pending.keys()) await this.deliver(key.slice("pending:".length));
  }
}

// The webhook's receiver: takes every delivery.
export const Hooks = {
  async fetch(request: Request): Promise<Response> {
    return new Response("thanks", { status: 200 });
  },
};

type Exchange = { request: { body: string }; delivered: boolean };

// Each order reaches the receiver at most once.
export function invariant(run: { fetches: Exchange[] }): string[] {
  const seen = new Map<string, number>();
  for (const f of run.fetches) {
    if (!f.delivered) continue;
    const id = JSON.parse(f.request.body).id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `order ${id} reached the webhook ${n} times`);
}
