// The office's ties to the outside: a hibernatable WebSocket that tells watchers of each
// sale, and a receipt posted to the accounting service with `fetch`. The object's `fetch`
// reaches them; dosim.jsonc's workload drives both (and src/receipts.ts answers the post).
import type { Ticket } from "./tickets";

/** Upgrades a request to a hibernatable WebSocket that hears about every sale. */
export function openLive(ctx: DurableObjectState): Response {
  const pair = new WebSocketPair();
  const [client, server] = Object.values(pair);
  ctx.acceptWebSocket(server, ["buyers"]);
  return new Response(null, { status: 101, webSocket: client });
}

/** Tells every connected buyer about a sale (survives hibernation: the sockets are the runtime's). */
export function announce(ctx: DurableObjectState, ticket: Ticket): void {
  for (const ws of ctx.getWebSockets("buyers")) ws.send(JSON.stringify({ sold: ticket.number }));
}

/** Posts the office's count to the accounting service, outside the Worker. */
export async function sendReceipt(sold: number): Promise<Response> {
  const reply = await fetch("https://accounting.example/receipts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sold }),
  });
  return new Response(reply.ok ? "sent" : "accounting unavailable", { status: reply.ok ? 200 : 502 });
}

// Structural stand-ins for the workers-types declarations this file uses.
interface DurableObjectState {
  acceptWebSocket(ws: WebSocket, tags?: string[]): void;
  getWebSockets(tag?: string): WebSocket[];
}
declare class WebSocketPair {
  0: WebSocket;
  1: WebSocket;
}
