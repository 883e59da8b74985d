// Zoo: ids are `generation:n`, the generation fetched from a registry object when the
// instance starts, so that a restarted instance never reuses an id. The constructor starts
// that RPC without blockConcurrencyWhile: an RPC opens the input gate, so requests run before
// the generation arrives and hand out ids of generation 0, again after every restart. The
// twin waits for the generation inside blockConcurrencyWhile.
import { DurableObject } from "cloudflare:workers";

export class Registry extends DurableObject {
  async nextGeneration(): Promise<number> {
    const g = ((await this.ctx.storage.get<number>("generation")) ?? 0) + 1;
    await this.ctx.storage.put("generation", g);
    return g;
  }
}

class Ids extends DurableObject {
  generation = 0;
  n = 0;
  load(): Promise<void> {
    return this.env.REGISTRY.get(this.env.REGISTRY.idFromName("r"))
      .nextGeneration()
      .then((g: number) => {
        this.generation = g;
      });
  }
  async newId(): Promise<string> {
    this.n += 1;
    return `${this.generation}:${this.n}`;
  }
}

export class Bug extends Ids {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    this.load().catch(() => {});
  }
}

export class Fixed extends Ids {
  constructor(ctx: any, env: any) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(() => this.load());
  }
}

type Call = { ok: boolean | null; value: any };

// No id is handed out twice.
export function invariant(run: { history: Call[] }): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true) continue;
    if (seen.has(c.value)) problems.push(`id ${c.value} handed out twice`);
    seen.add(c.value);
  }
  return problems;
}
