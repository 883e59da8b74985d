// A counter Durable Object for benchmarking workerd (SQLite-backed storage).
//
//   POST /increment?id=NAME  -> increments the counter of object NAME, replies with the new value
//   GET  /get?id=NAME        -> replies with the current value of object NAME (0 if never written)
//   GET  /health             -> "ok" (answered by the worker itself, no object involved)
//
// The increment is the pattern dosim's `counter` model uses: read, then an un-awaited put.
// The put is not awaited, but the output gate holds the reply back until the write is
// committed, so an acknowledged increment is durable and no two increments see the same value
// (the input gate keeps other events out while the get is in flight).

import { DurableObject } from "cloudflare:workers";

export class Counter extends DurableObject {
  async increment() {
    let v = (await this.ctx.storage.get("value")) || 0;
    this.ctx.storage.put("value", v + 1);
    return v + 1;
  }

  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/increment" && request.method === "POST") {
      return new Response(String(await this.increment()));
    }
    if (pathname === "/get" && request.method === "GET") {
      return new Response(String((await this.ctx.storage.get("value")) || 0));
    }
    return new Response("not found\n", { status: 404 });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") {
      return new Response("ok");
    }
    const name = url.searchParams.get("id");
    if (!name) {
      return new Response("missing ?id=NAME\n", { status: 400 });
    }
    const stub = env.COUNTER.get(env.COUNTER.idFromName(name));
    return stub.fetch(request);
  },
};
