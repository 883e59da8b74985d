// Zoo: a queue whose alarm forwards the queued jobs to a worker object and, "to be sure it
// does not run again", deletes the alarm when done. The forwarding RPC opens the input gate;
// a job enqueued meanwhile sets the alarm (none is set while the handler runs), and the
// handler's deleteAlarm then cancels it: that job waits forever. The twin never deletes the
// alarm; it sets it again if jobs are left.
import { DurableObject } from "cloudflare:workers";
import { abandonedByRuntime } from "./lib/alarms";

export class Worker extends DurableObject {
  async run(job: number): Promise<number> {
    return job * 2;
  }
}

class Queue extends DurableObject {
  async enqueue(job: number): Promise<boolean> {
    await this.ctx.storage.put(`job:${crypto.randomUUID()}`, job);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5);
    return true;
  }
  async work(): Promise<void> {
    const worker = this.env.WORKER.get(this.env.WORKER.idFromName("w"));
    for (const [k, job] of await this.ctx.storage.list<number>({ prefix: "job:" })) {
      await worker.run(job);
      await this.ctx.storage.delete(k);
    }
  }
}

export class Bug extends Queue {
  async alarm(): Promise<void> {
    await this.work();
    await this.ctx.storage.deleteAlarm();
  }
}

export class Fixed extends Queue {
  async alarm(): Promise<void> {
    await this.work();
    const left = await this.ctx.storage.list({ prefix: "job:", limit: 1 });
    if (left.size > 0) await this.ctx.storage.setAlarm(Date.now() + 5);
  }
}

// No job is left waiting at the end of the run.
export function invariant(run: { storage: Record<string, any>; alarmAttempts?: { retryCount: number; outcome: string }[] }): string[] {
  const left = Object.keys(run.storage).filter((k) => k.startsWith("job:"));
  return left.length === 0 || abandonedByRuntime(run) ? [] : [`${left.length} job(s) never run`];
}
