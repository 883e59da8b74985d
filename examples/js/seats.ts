// An example of pointing dosim at your own module: a seat-booking Durable Object with a
// bug that only shows under concurrency, and an `invariant` export that judges each run.
//
//   dosim fuzz --module examples/js/seats.ts --class Seats \
//     --method 'book(int 1..4, key)' --method 'release(int 1..4)' --seeds 200
//
// `book` checks the seat is free, then awaits a price lookup (a timer, standing in for a
// fetch) before writing: the input gate opens at that await, so two callers can both see
// the seat free and both be told they booked it.
import { DurableObject } from "cloudflare:workers";

type Booking = { seat: number; who: string };

export class Seats extends DurableObject {
  async book(seat: number, who: string): Promise<Booking | null> {
    const holder = await this.ctx.storage.get<string>(`seat:${seat}`);
    if (holder !== undefined) return null;
    await new Promise((resolve) => setTimeout(resolve, 3)); // "look up the price"
    await this.ctx.storage.put(`seat:${seat}`, who);
    return { seat, who };
  }

  async release(seat: number): Promise<boolean> {
    return this.ctx.storage.delete(`seat:${seat}`);
  }
}

type Call = { method: string; args: any[]; ok: boolean | null; value: any };

// No seat may be acknowledged to two callers unless it was released in between.
export function invariant(run: { history: Call[] }): string[] {
  const problems: string[] = [];
  const holder = new Map<number, string>();
  for (const call of run.history) {
    if (call.ok !== true) continue;
    if (call.method === "release") holder.delete(call.args[0]);
    if (call.method === "book" && call.value !== null) {
      const seat = call.value.seat;
      if (holder.has(seat)) problems.push(`seat ${seat} booked by ${holder.get(seat)} and then by ${call.value.who}`);
      holder.set(seat, call.value.who);
    }
  }
  return problems;
}
