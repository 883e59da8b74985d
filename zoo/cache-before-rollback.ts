// Zoo: a settings object caches values in a Map and updates the cache before the storage
// transaction that validates and writes the value. When the transaction throws (the value
// is refused), storage rolls back but the cache keeps the refused value, and later reads
// serve it. The twin updates the cache only after the transaction succeeded.
import { DurableObject } from "cloudflare:workers";

const LIMIT = 60;

class Settings extends DurableObject {
  cache = new Map<string, number>();
  async read(key: string): Promise<number | null> {
    if (this.cache.has(key)) return this.cache.get(key)!;
    const v = (await this.ctx.storage.get<number>(key)) ?? null;
    if (v !== null) this.cache.set(key, v);
    return v;
  }
  async write(key: string, value: number): Promise<void> {
    await this.ctx.storage.transaction(async (txn: any) => {
      await txn.put(key, value);
      if (value > LIMIT) throw new Error(`${value} is over the limit`);
    });
  }
}

export class Bug extends Settings {
  async set(key: string, value: number): Promise<boolean> {
    this.cache.set(key, value);
    await this.write(key, value);
    return true;
  }
  async get(key: string): Promise<number | null> {
    return this.read(key);
  }
}

export class Fixed extends Settings {
  async set(key: string, value: number): Promise<boolean> {
    await this.write(key, value);
    this.cache.set(key, value);
    return true;
  }
  async get(key: string): Promise<number | null> {
    return this.read(key);
  }
}

type Call = { method: string; ok: boolean | null; value: any };

// A read never returns a value that was refused.
export function invariant(run: { history: Call[] }): string[] {
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.method === "get" && c.ok === true && c.value !== null && c.value > LIMIT) {
      problems.push(`read ${c.value}, a value over the limit that was refused`);
    }
  }
  return problems;
}
