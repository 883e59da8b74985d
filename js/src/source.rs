//! Programs: a module file and the relative modules it imports, TypeScript stripped with
//! oxc and compiled once per process to QuickJS bytecode. Every instance (every restart)
//! loads from that bytecode, so a crash costs no recompilation.

use oxc::allocator::Allocator;
use oxc::ast::ast::Statement;
use oxc::codegen::Codegen;
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
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
}

impl JsProgram {
    /// The program whose entry module is the file at `path` (`.ts`, `.mts`, `.js`, `.mjs`),
    /// with every module it imports by relative path.
    pub fn load(path: &Path) -> Result<Arc<JsProgram>, String> {
        let root = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or("not a file path")?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut sources = BTreeMap::new();
        let mut todo = vec![root.clone()];
        while let Some(name) = todo.pop() {
            if sources.contains_key(&name) {
                continue;
            }
            let file = dir.join(&name);
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let (js, imports) = strip_types(&name, &text)?;
            for import in imports.iter().filter(|i| crate::builtins::module_source(i).is_none()) {
                if !import.starts_with('.') {
                    return Err(format!(
                        "{name}: cannot import {import:?}: dosim loads only relative modules, {WORKERS_MODULE:?} and node:* built-ins"
                    ));
                }
                todo.push(resolve(&name, import));
            }
            sources.insert(name, js);
        }
        Self::compile(root, sources)
    }

    /// A program of one module given as text (`name` ends in `.ts` for TypeScript).
    pub fn from_source(name: &str, text: &str) -> Result<Arc<JsProgram>, String> {
        let (js, imports) = strip_types(name, text)?;
        if let Some(other) = imports.iter().find(|i| crate::builtins::module_source(i).is_none()) {
            return Err(format!("{name}: cannot import {other:?} from a module given as text"));
        }
        Self::compile(name.to_owned(), BTreeMap::from([(name.to_owned(), js)]))
    }

    /// A built-in module, compiled once per process and shared by every run.
    pub fn embedded(cell: &'static std::sync::OnceLock<Arc<JsProgram>>, name: &str, text: &str) -> Arc<JsProgram> {
        cell.get_or_init(|| {
            JsProgram::from_source(name, text)
                .unwrap_or_else(|e| panic!("dosim's built-in module {name} is broken: {e}"))
        })
        .clone()
    }

    fn compile(root: String, sources: BTreeMap<String, String>) -> Result<Arc<JsProgram>, String> {
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
        Ok(Arc::new(JsProgram { root, modules, sources }))
    }

    /// The entry module's name.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// A module's bytecode.
    pub(crate) fn bytecode(&self, name: &str) -> Option<&[u8]> {
        self.modules.get(name).map(Vec::as_slice)
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

/// The module `spec` imported from module `base`, both relative to the program's folder.
pub(crate) fn resolve(base: &str, spec: &str) -> String {
    if let Some(builtin) = crate::builtins::canonical_name(spec) {
        return builtin.to_owned();
    }
    if !spec.starts_with('.') {
        return spec.to_owned();
    }
    let mut path: PathBuf = Path::new(base).parent().map(Path::to_path_buf).unwrap_or_default();
    for part in spec.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                path.pop();
            }
            p => path.push(p),
        }
    }
    let mut s = path.to_string_lossy().replace('\\', "/");
    if Path::new(&s).extension().is_none() {
        s.push_str(if base.ends_with(".ts") || base.ends_with(".mts") { ".ts" } else { ".js" });
    }
    s
}

/// JavaScript from `text` (TypeScript when `name` says so) and the modules it imports.
fn strip_types(name: &str, text: &str) -> Result<(String, Vec<String>), String> {
    let allocator = Allocator::default();
    let source_type = SourceType::from_path(name).unwrap_or_else(|_| SourceType::mjs()).with_module(true);
    let parsed = Parser::new(&allocator, text, source_type).parse();
    if let Some(e) = parsed.diagnostics.first() {
        return Err(format!("{name}: {}", render(e, text)));
    }
    let mut program = parsed.program;
    let imports = program
        .body
        .iter()
        .filter_map(|s| match s {
            Statement::ImportDeclaration(i) => Some(i.source.value.to_string()),
            Statement::ExportAllDeclaration(e) => Some(e.source.value.to_string()),
            _ => None,
        })
        .collect();
    if source_type.is_typescript() {
        let scoping = SemanticBuilder::new().with_enum_eval(true).build(&program).semantic.into_scoping();
        let options = TransformOptions::default();
        let done = Transformer::new(&allocator, Path::new(name), &options).build_with_scoping(scoping, &mut program);
        if let Some(e) = done.diagnostics.first() {
            return Err(format!("{name}: {}", render(e, text)));
        }
    }
    Ok((Codegen::new().build(&program).code, imports))
}

fn render(e: &oxc::diagnostics::OxcDiagnostic, text: &str) -> String {
    let labels: Vec<String> = e
        .labels
        .iter()
        .map(|l| {
            let line = text[..(l.offset() as usize).min(text.len())].matches('\n').count() + 1;
            format!("line {line}")
        })
        .collect();
    if labels.is_empty() {
        e.to_string()
    } else {
        format!("{} ({})", e, labels.join(", "))
    }
}
