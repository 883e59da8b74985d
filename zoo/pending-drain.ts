// Zoo: a report store with a "job queued" flag. `add` stores a report and queues a job if
// none is queued; `drain` takes the stored reports, awaits the processing (a non-storage
// await), deletes them, and clears the flag on the assumption that storage is now empty. A
// report added during the await is left behind with no job queued: it is never processed.
// The twin looks again after the await and clears the flag only if nothing is left.
import { DurableObject } from "cloudflare:workers";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Store extends DurableObject {
  async add(id: number): Promise<boolean> {
    await this.ctx.storage.put(`report:${id}`, id);
    if ((await this.ctx.storage.get("job")) === undefined) await this.ctx.storage.put("job", true);
    return true;
  }
}

export class Bug extends Store {
  async drain(): Promise<number> {
    const reports = await this.ctx.storage.list({ prefix: "report:" });
    await pause(3); // aggregate them elsewhere
    await this.ctx.storage.delete([...reports.keys()]);
    await this.ctx.storage.delete("job");
    return reports.size;
  }
}

export class Fixed extends Store {
  async drain(): Promise<number> {
    const reports = await this.ctx.storage.list({ prefix: "report:" });
    await pause(3);
    await this.ctx.storage.delete([...reports.keys()]);
    const left = await this.ctx.storage.list({ prefix: "report:", limit: 1 });
    if (left.size === 0) await this.ctx.storage.delete("job");
    return reports.size;
  }
}

// A stored report always has a job queued to process it.
export function invariant(run: { storage: Record<string, any> }): string[] {
  const reports = Object.keys(run.storage).filter((k) => k.startsWith("report:"));
  if (reports.length > 0 && run.storage.job === undefined) {
    return [`${reports.length} report(s) stored with no job queued: ${reports.join(", ")}`];
  }
  return [];
}
