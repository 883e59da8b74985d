import { DurableObject } from "cloudflare:workers";
import { AutoRouter } from "itty-router";
import type { Env } from "./env";
import { announce, openLive, sendReceipt } from "./live";
import { makeTicket, settlePayment, type Ticket } from "./tickets";

/** One box office: sells numbered tickets, each number to exactly one buyer. */
export class TicketOffice extends DurableObject<Env> {
  async sell(): Promise<Ticket> {
    const sold = (await this.ctx.storage.get<number>("sold")) ?? 0;
    // The planted bug: the payment is settled between reading the count and writing it
    // back. The timer opens the input gate, so two buyers can read the same count and get
    // the same number. (Settle the payment before the read, or after the write, to fix it.)
    await settlePayment();
    const ticket = makeTicket(this.env.PREFIX, sold + 1);
    this.ctx.storage.put("sold", ticket.number);
    this.ctx.storage.put(`ticket:${ticket.number}`, ticket);
    return ticket;
  }

  async sold(): Promise<number> {
    return (await this.ctx.storage.get<number>("sold")) ?? 0;
  }

  // HTTP for the Worker below: GET /offices/:name/sold, POST /offices/:name/tickets, and
  // (src/live.ts) GET /offices/:name/live (a WebSocket told of each sale) and
  // POST /offices/:name/receipt (the count posted to an outside service).
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/live")) return openLive(this.ctx as never);
    if (request.method === "POST" && url.pathname.endsWith("/receipt")) return sendReceipt(await this.sold());
    if (request.method === "POST" && url.pathname.endsWith("/tickets")) {
      const ticket = await this.sell();
      announce(this.ctx as never, ticket);
      return Response.json(ticket);
    }
    return Response.json({ sold: await this.sold() });
  }

  // A buyer's message over the live socket asks for the count.
  async webSocketMessage(ws: WebSocket, _message: string): Promise<void> {
    ws.send(JSON.stringify({ sold: await this.sold() }));
  }
}

// The Worker in front: routes /offices/:name/... to that office's object.
const router = AutoRouter();
router.all("/offices/:name/*", (request, env: Env) => {
  const office = env.OFFICES.get(env.OFFICES.idFromName(request.params.name));
  return office.fetch(request);
});
export default { fetch: router.fetch };

/** Judges every run dosim makes: no ticket number is sold twice, and what was sold stays sold. */
export function invariant(run: {
  history: { index: number; method: string; ok: boolean | null; value: Ticket | number | null }[];
  storage: Record<string, unknown>;
}): string[] {
  const problems: string[] = [];
  const buyers = new Map<number, number>();
  for (const call of run.history) {
    if (call.method !== "sell" || call.ok !== true) continue;
    const { number } = call.value as Ticket;
    const first = buyers.get(number);
    if (first !== undefined) problems.push(`ticket ${number} was sold to call #${first} and to call #${call.index}`);
    buyers.set(number, call.index);
  }
  const stored = (run.storage.sold as number | undefined) ?? 0;
  const highest = Math.max(0, ...buyers.keys());
  if (stored < highest) problems.push(`ticket ${highest} was sold but the office's count is ${stored}`);
  return problems;
}
