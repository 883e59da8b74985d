//! Where an import specifier leads, as wrangler's bundler resolves it: relative paths,
//! `node_modules` packages (`exports` conditions, `module`, `main`), tsconfig `paths`,
//! folder `index` files, and the built-in `cloudflare:*` / `node:*` modules.

use oxc_resolver::{ResolveOptions, Resolver, TsconfigDiscovery};
use std::path::{Component, Path, PathBuf};

/// What a specifier names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A module dosim provides (`cloudflare:workers`, `node:buffer`).
    Builtin(String),
    /// A file of the program, with whether it may be CommonJS (its package does not say
    /// it is an ES module).
    File { path: PathBuf, commonjs: bool },
}

/// Node's built-in modules that a bare name (`buffer`, `events`) means, as wrangler maps
/// them to `node:` under `nodejs_compat`.
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "crypto",
    "diagnostics_channel",
    "dns",
    "events",
    "net",
    "os",
    "path",
    "process",
    "querystring",
    "stream",
    "string_decoder",
    "timers",
    "tls",
    "url",
    "util",
    "zlib",
];

/// Resolves specifiers for the modules of one program.
pub(crate) struct ModuleResolver {
    resolver: Resolver,
}

impl ModuleResolver {
    pub(crate) fn new() -> ModuleResolver {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let options = ResolveOptions {
            tsconfig: Some(TsconfigDiscovery::Auto),
            // The conditions wrangler's esbuild uses for a Worker, in its order.
            condition_names: strings(&["workerd", "worker", "browser", "import", "default"]),
            main_fields: strings(&["browser", "module", "jsnext:main", "main"]),
            extensions: strings(&[".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".json"]),
            // TypeScript's ESM convention: `./x.js` names `x.ts`.
            extension_alias: vec![
                (".js".into(), strings(&[".ts", ".tsx", ".js"])),
                (".mjs".into(), strings(&[".mts", ".mjs"])),
            ],
            module_type: true,
            // Nothing from the environment (NODE_PATH) may change what a program is; links
            // are followed by name so module names stay inside the project.
            node_path: false,
            symlinks: false,
            ..ResolveOptions::default()
        };
        ModuleResolver { resolver: Resolver::new(options) }
    }

    /// Where `spec`, imported by the file `from`, leads.
    pub(crate) fn resolve(&self, from: &Path, spec: &str) -> Result<Target, String> {
        if let Some(builtin) = builtin_name(spec) {
            return Ok(Target::Builtin(builtin));
        }
        let found = self.resolver.resolve_file(from, spec).map_err(|e| e.to_string())?;
        let commonjs = found.module_type() != Some(oxc_resolver::ModuleType::Module);
        Ok(Target::File { path: found.into_path_buf(), commonjs })
    }
}

/// The built-in module a specifier names, if it names one.
fn builtin_name(spec: &str) -> Option<String> {
    if spec.starts_with("cloudflare:") || spec.starts_with("node:") || spec.starts_with(crate::builtins::HELPERS) {
        return Some(spec.to_owned());
    }
    let head = spec.split('/').next().unwrap_or(spec);
    NODE_BUILTINS.contains(&head).then(|| format!("node:{spec}"))
}

/// A module's name: its path relative to the program's root folder, with `/` (`src/a.ts`,
/// `node_modules/x/index.js`, `../shared/b.ts`), so traces and stack frames name the same
/// module on every machine.
pub(crate) fn module_name(root: &Path, file: &Path) -> String {
    let (root, file) = (lexical(root), lexical(file));
    let common = root.components().zip(file.components()).take_while(|(a, b)| a == b).count();
    let ups = root.components().count() - common;
    let mut parts: Vec<String> = vec!["..".to_owned(); ups];
    parts.extend(file.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// `path` absolute with `.` and `..` folded away, without touching the file system.
pub(crate) fn lexical(path: &Path) -> PathBuf {
    let absolute =
        if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_builtins_by_bare_name_map_to_node_prefix() {
        assert_eq!(builtin_name("buffer"), Some("node:buffer".into()));
        assert_eq!(builtin_name("util/types"), Some("node:util/types".into()));
        assert_eq!(builtin_name("node:assert"), Some("node:assert".into()));
        assert_eq!(builtin_name("cloudflare:workers"), Some("cloudflare:workers".into()));
        assert_eq!(builtin_name("buffers"), None);
        assert_eq!(builtin_name("./events"), None);
    }

    #[test]
    fn module_names_are_relative_to_the_root() {
        let root = Path::new("/p/app");
        assert_eq!(module_name(root, Path::new("/p/app/src/index.ts")), "src/index.ts");
        assert_eq!(module_name(root, Path::new("/p/app/./src/../lib/a.ts")), "lib/a.ts");
        assert_eq!(module_name(root, Path::new("/p/shared/b.ts")), "../shared/b.ts");
    }
}
