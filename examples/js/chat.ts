// Hibernatable WebSockets under dosim: a chat room that accepts clients through its fetch
// handler, remembers each client's name as an attachment, and broadcasts every message.
// Clients connect, send, and receive across hibernation and crashes (1006); `invariant`
// reads what each client sent and received (`run.history`).
//
//   dosim fuzz --module examples/js/chat.ts --class Room --websocket '/rooms/lobby?name={key}' \
//     --send '{"say": int 1..9}' --send 'who' --seeds 200
import { DurableObject } from "cloudflare:workers";

export class Room extends DurableObject {
  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade") !== "websocket") return new Response("WebSockets only", { status: 426 });
    const name = request.url.split("name=")[1] ?? "anonymous";
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, ["chat"]);
    server.serializeAttachment({ name });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws: WebSocket, message: string): Promise<void> {
    const { name } = ws.deserializeAttachment();
    if (message === "who") {
      ws.send(JSON.stringify({ here: this.ctx.getWebSockets("chat").map((w) => w.deserializeAttachment().name) }));
      return;
    }
    const n = ((await this.ctx.storage.get<number>("messages")) ?? 0) + 1;
    await this.ctx.storage.put("messages", n);
    const line = JSON.stringify({ n, from: name, ...JSON.parse(message) });
    for (const peer of this.ctx.getWebSockets("chat")) peer.send(line);
  }

  async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    ws.close(code, reason);
  }
}

type Entry = { client: number; websocket?: string; send?: string; received?: string; closed?: number; ok: boolean | null };

// On each connection (a client and a path): every message the client sent and the room
// took is echoed back, unless the connection closed first (a crash closes every
// connection with 1006); and message numbers only grow.
export function invariant(run: { history: Entry[] }): string[] {
  const problems: string[] = [];
  const connections = new Set(run.history.filter((e) => e.websocket).map((e) => `${e.client} ${e.websocket}`));
  for (const conn of connections) {
    const mine = run.history.filter((e) => `${e.client} ${e.websocket}` === conn);
    let last = 0;
    mine.forEach((e, i) => {
      if (e.received !== undefined && e.received.startsWith("{\"n\"")) {
        const n = JSON.parse(e.received).n;
        if (n <= last) problems.push(`${conn}: message ${n} after ${last}`);
        last = n;
      }
      if (e.closed !== undefined) last = 0;
      if (e.send === undefined || e.send === "who" || e.ok !== true) return;
      const rest = mine.slice(i + 1);
      const echoed = rest.some((r) => r.received !== undefined && r.received.endsWith(e.send!.slice(1)));
      const closed = rest.some((r) => r.closed !== undefined);
      if (!echoed && !closed) problems.push(`${conn}: sent ${e.send} and never saw it`);
    });
  }
  return problems;
}
