// The accounting service outside the Worker, as dosim simulates it: `dosim.jsonc` names it
// the responder for accounting.example, so the office's `fetch` to it never leaves the run.

/** Takes the office's receipts: each posts the count of tickets sold so far. */
export const Accounting = {
  async fetch(request: Request): Promise<Response> {
    const { sold } = (await request.json()) as { sold: unknown };
    if (typeof sold !== "number") return new Response("a receipt needs a count", { status: 400 });
    return new Response("recorded", { status: 200 });
  },
};
