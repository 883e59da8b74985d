// The parts of the office that need the web platform and network support being added to
// dosim separately (hibernatable WebSockets and outbound `fetch` in JavaScript). Only the
// object's `fetch` reaches them, so the default workload (its RPC methods) runs without
// them; drive them with --request once those land:
//   dosim fuzz --seeds 200 --request 'GET /offices/{key}/live' --request 'POST /offices/{key}/receipt'
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
