//! The built-in modules a program may import (`cloudflare:*`, `node:*`): their names and
//! their JavaScript. The loader resolves these specifiers here instead of on disk.

/// The module that re-exports the prelude's `cloudflare:workers` API.
const WORKERS: &str = "const w = globalThis.__dosimWorkers;\n\
    export const DurableObject = w.DurableObject;\n\
    export const WorkerEntrypoint = w.WorkerEntrypoint;\n\
    export const env = w.env;\n";

/// The source of built-in module `name`, if dosim has it.
pub(crate) fn module_source(name: &str) -> Option<&'static str> {
    match name {
        "cloudflare:workers" => Some(WORKERS),
        _ => None,
    }
}
