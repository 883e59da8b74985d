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

/** What dosim shows the invariant of a run (the parts this one reads). */
interface Run {
  history: {
    index: number;
    method?: string;
    args?: { method?: string; url?: string }[];
    ok: boolean | null;
    value: unknown;
    received?: string;
  }[];
  storage: Record<string, unknown>;
  fetches: { request: { url: string; body: string }; delivered: boolean }[];
}

/** The ticket a call got, whether it bought over RPC (`sell`) or over HTTP (POST .../tickets). */
function ticketOf(call: Run["history"][number]): Ticket | undefined {
  if (call.ok !== true) return undefined;
  if (call.method === "sell") return call.value as Ticket;
  const request = call.args?.[0];
  if (call.method !== "fetch" || request?.method !== "POST" || !request.url?.endsWith("/tickets")) return undefined;
  const response = call.value as { status: number; json: Ticket | null };
  return response.status === 200 && response.json ? response.json : undefined;
}

/**
 * Judges every run dosim makes: no ticket number is sold twice, what was sold stays sold, and
 * no count told to the outside (a watcher's WebSocket, a receipt to accounting) exceeds it.
 */
export function invariant(run: Run): string[] {
  const problems: string[] = [];
  const buyers = new Map<number, number>();
  for (const call of run.history) {
    const ticket = ticketOf(call);
    if (ticket === undefined) continue;
    const first = buyers.get(ticket.number);
    if (first !== undefined) problems.push(`ticket ${ticket.number} was sold to call #${first} and to call #${call.index}`);
    buyers.set(ticket.number, call.index);
  }
  const stored = (run.storage.sold as number | undefined) ?? 0;
  const highest = Math.max(0, ...buyers.keys());
  if (stored < highest) problems.push(`ticket ${highest} was sold but the office's count is ${stored}`);
  for (const call of run.history) {
    if (call.received === undefined) continue;
    const { sold } = JSON.parse(call.received) as { sold: number };
    if (sold > stored) problems.push(`a watcher heard of ticket ${sold} (call #${call.index}) but the office's count is ${stored}`);
  }
  for (const exchange of run.fetches) {
    if (!exchange.delivered || !exchange.request.url.startsWith("https://accounting.example/")) continue;
    const { sold } = JSON.parse(exchange.request.body) as { sold: number };
    if (sold > stored) problems.push(`accounting got a receipt for ${sold} tickets but the office's count is ${stored}`);
  }
  return problems;
}
