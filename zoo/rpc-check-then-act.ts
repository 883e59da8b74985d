// Zoo: seat booking that checks the seat is free, then asks another object (a pricing
// service) for the price before writing. The RPC await opens the input gate, so two callers
// both see the seat free and both are told they booked it. The twin claims the seat first
// and asks for the price after.
import { DurableObject } from "cloudflare:workers";

export class Pricer extends DurableObject {
  async price(seat: number): Promise<number> {
    return 10 + seat;
  }
}

export class Bug extends DurableObject {
  async book(seat: number, who: string): Promise<{ seat: number; who: string } | null> {
    if ((await this.ctx.storage.get(`seat:${seat}`)) !== undefined) return null;
    await this.env.PRICER.get(this.env.PRICER.idFromName("prices")).price(seat);
    await this.ctx.storage.put(`seat:${seat}`, who);
    return { seat, who };
  }
}

export class Fixed extends DurableObject {
  async book(seat: number, who: string): Promise<{ seat: number; who: string } | null> {
    if ((await this.ctx.storage.get(`seat:${seat}`)) !== undefined) return null;
    this.ctx.storage.put(`seat:${seat}`, who); // claimed before the gate can open
    try {
      await this.env.PRICER.get(this.env.PRICER.idFromName("prices")).price(seat);
    } catch (e) {
      await this.ctx.storage.delete(`seat:${seat}`);
      throw e;
    }
    return { seat, who };
  }
}

type Call = { method: string; ok: boolean | null; value: any };

// No seat is acknowledged to two bookings.
export function invariant(run: { history: Call[] }): string[] {
  const holder = new Map<number, string>();
  const problems: string[] = [];
  for (const c of run.history) {
    if (c.ok !== true || c.value === null) continue;
    if (holder.has(c.value.seat)) problems.push(`seat ${c.value.seat} booked by ${holder.get(c.value.seat)} and by ${c.value.who}`);
    holder.set(c.value.seat, c.value.who);
  }
  return problems;
}
