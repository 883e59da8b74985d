// @hono-rate-limiter/cloudflare's DurableObjectRateLimiter, unmodified: clients add hits
// (update), read them (value) and reset; its alarm resets the window.
export { DurableObjectRateLimiter } from "@hono-rate-limiter/cloudflare";

// No update reports more hits than updates could have made by the time it answered.
export function invariant(run) {
  const bad = [];
  for (const c of run.history) {
    if (c.method !== "update" || c.ok !== true) continue;
    const possible = run.history.filter((u) => u.method === "update" && u.invokedAt <= c.completedAt).length;
    if (c.value.totalHits > possible) bad.push(`update #${c.index} saw ${c.value.totalHits} hits; at most ${possible} updates had been made`);
  }
  return bad;
}
