// Zoo: an idempotent "send invoice" keyed by the caller's key: it returns early if the key
// is marked done, otherwise it sends (a timer standing for an email API) and then marks the
// key. Two calls with the same key both pass the check while the first awaits the send, and
// the invoice goes out twice. The twin marks the key before sending.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Bug extends DurableObject {
  async send(key: string): Promise<boolean> {
    if ((await this.ctx.storage.get(`done:${key}`)) !== undefined) return false;
    const sent = ((await this.ctx.storage.get<number>(`sent:${key}`)) ?? 0) + 1;
    this.ctx.storage.put(`sent:${key}`, sent);
    await pause(2); // the email API
    await this.ctx.storage.put(`done:${key}`, true);
    return true;
  }
}

export class Fixed extends DurableObject {
  async send(key: string): Promise<boolean> {
    if ((await this.ctx.storage.get(`done:${key}`)) !== undefined) return false;
    const sent = ((await this.ctx.storage.get<number>(`sent:${key}`)) ?? 0) + 1;
    this.ctx.storage.put({ [`sent:${key}`]: sent, [`done:${key}`]: true });
    await pause(2);
    return true;
  }
}

// No invoice is sent twice.
export function invariant(run: { storage: Record<string, any> }): string[] {
  return Object.entries(run.storage)
    .filter(([k, n]) => k.startsWith("sent:") && n > 1)
    .map(([k, n]) => `invoice ${k.slice(5)} sent ${n} times`);
}
