// `cloudflare:workers`: the runtime's classes (from the prelude, so every import in an
// engine shares them) and the rest of what real code imports at module top level.
const w = globalThis.__dosimWorkers;
export const DurableObject = w.DurableObject;
export const WorkerEntrypoint = w.WorkerEntrypoint;
export const env = w.env;

// A class whose instances workerd passes by reference over RPC. Inside one engine it is an
// ordinary object; dosim sends values between objects by structured clone, which cannot
// carry a reference, so sending one to another object is a DataCloneError that says so
// (the brand below is what the prelude's clone looks for).
const RPC_TARGET = Symbol.for("dosim.RpcTarget");
export class RpcTarget {
  get [RPC_TARGET]() {
    return true;
  }
}

// Workflows and the other entry points are not simulated: extending them works (a module
// that declares one loads), constructing one says so.
const unsupported = (name) =>
  class {
    constructor() {
      throw new Error(`dosim does not simulate ${name}`);
    }
  };
export const WorkflowEntrypoint = unsupported("WorkflowEntrypoint");
export const WorkflowStep = unsupported("WorkflowStep");

// workerd's `waitUntil` export extends the current request's life; in dosim the object's
// own `ctx.waitUntil` is the one that matters, and a free-standing promise simply runs.
export function waitUntil(promise) {
  Promise.resolve(promise).catch(() => {});
}

export default { DurableObject, WorkerEntrypoint, RpcTarget, WorkflowEntrypoint, env, waitUntil };
