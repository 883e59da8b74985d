// The bindings wrangler.jsonc declares.
export interface Env {
  OFFICES: DurableObjectNamespace;
  PREFIX: string;
}

// Structural stand-in for the workers-types declaration, so the project needs no type package.
interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}
