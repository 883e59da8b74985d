//! The built-in modules a program may import (`cloudflare:*`, `node:*`): their names and
//! their JavaScript. The loader resolves these specifiers here instead of on disk.

/// The module that re-exports the prelude's `cloudflare:workers` API.
const WORKERS: &str = "const w = globalThis.__dosimWorkers;\n\
    export const DurableObject = w.DurableObject;\n\
    export const WorkerEntrypoint = w.WorkerEntrypoint;\n\
    export const env = w.env;\n";

/// The helpers oxc's TypeScript transform imports for legacy decorators (`@Browsable()`
/// on a class, `@inject` on a parameter), with TypeScript's `__decorate` semantics: the
/// decorators apply last to first, each may return a replacement.
const DECORATE: &str = "export default function decorate(decorators, target, key, descriptor) {\n\
      const onClass = arguments.length < 3;\n\
      let result = onClass ? target : descriptor ?? Object.getOwnPropertyDescriptor(target, key);\n\
      for (let i = decorators.length - 1; i >= 0; i--) {\n\
        const d = decorators[i];\n\
        if (!d) continue;\n\
        result = (onClass ? d(result) : d(target, key, result)) || result;\n\
      }\n\
      if (!onClass && result) Object.defineProperty(target, key, result);\n\
      return result;\n\
    }\n";
const DECORATE_PARAM: &str =
    "export default function decorateParam(index, decorator) { return (target, key) => decorator(target, key, index); }\n";

/// Where oxc's transform imports its helpers from.
pub(crate) const HELPERS: &str = "@oxc-project/runtime/helpers/";

/// The source of built-in module `name`, if dosim has it.
pub(crate) fn module_source(name: &str) -> Option<&'static str> {
    match name {
        "cloudflare:workers" => Some(WORKERS),
        _ => match name.strip_prefix(HELPERS) {
            Some("decorate") => Some(DECORATE),
            Some("decorateParam") => Some(DECORATE_PARAM),
            _ => None,
        },
    }
}
