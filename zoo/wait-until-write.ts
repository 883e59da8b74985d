// Zoo: a note store that answers at once and saves the note in the background with
// ctx.waitUntil, to make replies faster. The reply then does not wait for the write, so a
// crash right after it loses a note the caller was told was saved. The twin writes before
// it replies (the output gate then holds the reply until the write is durable).
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Bug extends DurableObject {
  async save(key: string, text: string): Promise<string> {
    const id = `${key}:${crypto.randomUUID()}`;
    this.ctx.waitUntil(pause(1).then(() => this.ctx.storage.put(`note:${id}`, text)));
    return id;
  }
}

export class Fixed extends DurableObject {
  async save(key: string, text: string): Promise<string> {
    const id = `${key}:${crypto.randomUUID()}`;
    await this.ctx.storage.put(`note:${id}`, text);
    return id;
  }
}

type Call = { ok: boolean | null; value: any };

// Every acknowledged note is stored.
export function invariant(run: { history: Call[]; storage: Record<string, any> }): string[] {
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok === true && !(`note:${c.value}` in run.storage)) problems.push(`note ${c.value} acknowledged, not stored`);
  }
  return problems;
}
