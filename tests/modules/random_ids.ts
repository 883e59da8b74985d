// A correct object that keys records by random ids (tests/randomness.rs): each kind of
// randomness a Durable Object has names a record, and a name met twice is refused. On
// workerd a restarted object does not draw its predecessor's numbers again, so no call
// may ever meet an id it already stored, however often the object restarts.
import { DurableObject } from "cloudflare:workers";

export class Ids extends DurableObject {
  async record(id: string): Promise<string> {
    if ((await this.ctx.storage.get(`rec:${id}`)) !== undefined) {
      throw new Error(`id ${id} handed out twice`);
    }
    await this.ctx.storage.put(`rec:${id}`, Date.now());
    return id;
  }

  async uuid(): Promise<string> {
    return this.record(crypto.randomUUID());
  }

  async bytes(): Promise<string> {
    const words = crypto.getRandomValues(new Uint32Array(4));
    return this.record(Array.from(words, (w) => w.toString(16).padStart(8, "0")).join(""));
  }

  async float(): Promise<string> {
    return this.record(`${Math.random()}`);
  }
}

type Call = { method: string; ok: boolean | null; value: any; error: any };

// No id acknowledged twice, and no call met an id already stored.
export function invariant(run: { history: Call[] }): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const c of run.history) {
    if (c.ok === true) {
      if (seen.has(c.value)) problems.push(`${c.method}: id ${c.value} acknowledged twice`);
      seen.add(c.value);
    }
    const text = JSON.stringify(c.error ?? "");
    if (text.includes("handed out twice")) problems.push(`${c.method}: ${text}`);
  }
  return problems;
}
