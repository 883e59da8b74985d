//! Programs: an entry module and every module it imports (relative files, npm packages,
//! JSON, text and data files, built-in modules), each turned into an ES module
//! (`module_text`) and compiled once per process to QuickJS bytecode. Every instance (every
//! restart) loads from that bytecode, so a crash costs no recompilation.

use crate::module_text::{code_module, data_module, original, Kind, Positions, Use};
use crate::resolve::{lexical, module_name, ModuleResolver, Target};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The module every program may import the runtime from.
pub const WORKERS_MODULE: &str = "cloudflare:workers";

/// A compiled program: its modules by name, as bytecode.
#[derive(Debug)]
pub struct JsProgram {
    root: String,
    modules: BTreeMap<String, Vec<u8>>,
    sources: BTreeMap<String, String>,
    /// Each code module's map back to its source file, for stack frames.
    positions: BTreeMap<String, Positions>,
}

impl JsProgram {
    /// The program whose entry module is the file at `path`, with every module it imports.
    /// Module names are paths relative to the project folder: the nearest folder above the
    /// entry holding a `package.json` or a wrangler config (not above a `.git` folder's),
    /// else the entry's own folder.
    pub fn load(path: &Path) -> Result<Arc<JsProgram>, String> {
        let entry = lexical(path);
        let folder = entry.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::load_in(&entry, &project_folder(&folder).unwrap_or(folder))
    }

    /// The program whose entry module is `entry`, its modules named relative to `root`.
    pub fn load_in(entry: &Path, root: &Path) -> Result<Arc<JsProgram>, String> {
        let entry = lexical(entry);
        if !entry.is_file() {
            return Err(format!("cannot read {}: no such file", entry.display()));
        }
        let resolver = ModuleResolver::new();
        let root_name = module_name(root, &entry);
        let mut sources = BTreeMap::new();
        let mut positions = BTreeMap::new();
        let mut todo = vec![(entry, false)];
        while let Some((file, commonjs)) = todo.pop() {
            let name = module_name(root, &file);
            if sources.contains_key(&name) {
                continue;
            }
            let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let kind = Kind::of(&file)?;
            if kind != Kind::Code {
                sources.insert(name.clone(), data_module(&name, kind, &bytes)?);
                continue;
            }
            let text = String::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8 text"))?;
            let mut link = |spec: &str, how: Use| -> Result<Option<String>, String> {
                match resolver.resolve(&file, spec) {
                    Ok(Target::Builtin(b)) if crate::builtins::module_source(&b).is_some() => Ok(Some(b)),
                    Ok(Target::Builtin(b)) if how == Use::Static => {
                        Err(format!("cannot import {spec:?}: dosim has no built-in module {b:?}"))
                    }
                    Ok(Target::Builtin(_)) => Ok(None),
                    Ok(Target::File { path, commonjs }) => {
                        let target = module_name(root, &path);
                        todo.push((path, commonjs));
                        Ok(Some(target))
                    }
                    Err(e) if how == Use::Static => Err(format!("cannot import {spec:?}: {e}")),
                    Err(_) => Ok(None),
                }
            };
            let (js, map) = code_module(&name, &text, commonjs, &mut link)?;
            positions.insert(name.clone(), map);
            sources.insert(name, js);
        }
        Self::compile(root_name, sources, positions)
    }

    /// A program of one module given as text (`name` ends in `.ts` for TypeScript).
    pub fn from_source(name: &str, text: &str) -> Result<Arc<JsProgram>, String> {
        let mut link = |spec: &str, _: Use| match crate::builtins::module_source(spec) {
            // One name per built-in module (`events` is `node:events`): one instance of it.
            Some(_) => Ok(Some(crate::builtins::canonical_name(spec).unwrap_or(spec).to_owned())),
            None => Err(format!("cannot import {spec:?} from a module given as text")),
        };
        let (js, map) = code_module(name, text, false, &mut link)?;
        Self::compile(
            name.to_owned(),
            BTreeMap::from([(name.to_owned(), js)]),
            BTreeMap::from([(name.to_owned(), map)]),
        )
    }

    /// A built-in module, compiled once per process and shared by every run.
    pub fn embedded(cell: &'static std::sync::OnceLock<Arc<JsProgram>>, name: &str, text: &str) -> Arc<JsProgram> {
        cell.get_or_init(|| {
            JsProgram::from_source(name, text)
                .unwrap_or_else(|e| panic!("dosim's built-in module {name} is broken: {e}"))
        })
        .clone()
    }

    fn compile(
        root: String,
        sources: BTreeMap<String, String>,
        positions: BTreeMap<String, Positions>,
    ) -> Result<Arc<JsProgram>, String> {
        let sources = Arc::new(sources);
        let mut modules = BTreeMap::new();
        for name in sources.keys() {
            // A runtime per module: declaring one loads what it imports, and each module
            // must be declared exactly once where its bytecode is written.
            let rt = rquickjs::Runtime::new().map_err(|e| e.to_string())?;
            rt.set_loader(crate::instance::ProgramResolver, SourceLoader(sources.clone()));
            let ctx = rquickjs::Context::full(&rt).map_err(|e| e.to_string())?;
            let bytes = ctx.with(|ctx| -> Result<Vec<u8>, String> {
                let module = rquickjs::Module::declare(ctx.clone(), name.as_str(), sources[name].as_str())
                    .map_err(|e| format!("{name}: {}", crate::convert::exception_text(&ctx, e)))?;
                module
                    .write(rquickjs::module::WriteOptions::default())
                    .map_err(|e| format!("{name}: cannot compile: {e}"))
            })?;
            modules.insert(name.clone(), bytes);
        }
        let sources = Arc::try_unwrap(sources).unwrap_or_else(|s| (*s).clone());
        Ok(Arc::new(JsProgram { root, modules, sources, positions }))
    }

    /// The entry module's name.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// A module's bytecode.
    pub(crate) fn bytecode(&self, name: &str) -> Option<&[u8]> {
        self.modules.get(name).map(Vec::as_slice)
    }

    /// `text` with every stack frame position in one of the program's modules
    /// (`src/a.ts:12:5`, of the JavaScript QuickJS ran) moved to the source file's line
    /// and column.
    pub fn map_frames(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, positions) in &self.positions {
            let needle = format!("{name}:");
            let mut from = 0;
            while let Some(found) = out[from..].find(&needle) {
                let start = from + found + needle.len();
                let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                let line_end = start + digits(&out[start..]);
                let line: Option<u32> = out[start..line_end].parse().ok();
                let (column, end) = match out[line_end..].strip_prefix(':') {
                    Some(rest) => {
                        let n = digits(rest);
                        (rest[..n].parse().ok(), line_end + 1 + n)
                    }
                    None => (Some(1), line_end),
                };
                from = end;
                let (Some(line), Some(column)) = (line, column) else { continue };
                if let Some((l, c)) = original(positions, line, column) {
                    let replaced = format!("{l}:{c}");
                    out.replace_range(start..end, &replaced);
                    from = start + replaced.len();
                }
            }
        }
        out
    }

    /// A module's JavaScript (types stripped), for messages and inspection.
    pub fn javascript(&self, name: &str) -> Option<&str> {
        self.sources.get(name).map(String::as_str)
    }
}

/// Serves modules from their JavaScript while a program compiles.
struct SourceLoader(Arc<BTreeMap<String, String>>);

impl rquickjs::loader::Loader for SourceLoader {
    fn load<'js>(
        &mut self,
        ctx: &rquickjs::Ctx<'js>,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<rquickjs::Module<'js, rquickjs::module::Declared>> {
        let text = match crate::builtins::module_source(name) {
            Some(text) => text,
            None => self.0.get(name).map(String::as_str).ok_or_else(|| rquickjs::Error::new_loading(name))?,
        };
        rquickjs::Module::declare(ctx.clone(), name, text)
    }
}

/// The module `spec` imported from module `base`: every specifier of a program was
/// rewritten to the name of the module it resolves to when the program loaded, so the
/// name is the specifier.
pub(crate) fn resolve(_base: &str, spec: &str) -> String {
    spec.to_owned()
}

/// The nearest folder from `folder` up that holds a `package.json` or a wrangler config,
/// looking no higher than a repository's root (a folder with `.git`).
fn project_folder(folder: &Path) -> Option<PathBuf> {
    const MARKERS: [&str; 4] = ["package.json", "wrangler.jsonc", "wrangler.json", "wrangler.toml"];
    for dir in folder.ancestors() {
        if MARKERS.iter().any(|m| dir.join(m).is_file()) {
            return Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}
