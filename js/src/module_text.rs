//! One file of a program as the ES module QuickJS runs: TypeScript stripped with oxc
//! (type-only imports go with it, before any import is resolved), every specifier
//! rewritten to the module name it resolves to, CommonJS wrapped, and wrangler's module
//! rules for the rest (JSON, text, data).

use oxc::allocator::Allocator;
use oxc::ast::ast::{
    Argument, CallExpression, ExportAllDeclaration, ExportFromDeclaration, Expression, ImportDeclaration,
    ImportExpression, Statement, StringLiteral,
};
use oxc::ast_visit::{walk_mut, VisitMut};
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::parser::Parser;
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};
use std::path::Path;

/// How a file becomes a module, by its extension (wrangler's default module rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// JavaScript or TypeScript.
    Code,
    /// `.json`: the parsed value is the default export.
    Json,
    /// `.txt`, `.html`, `.sql`: the text is the default export.
    Text,
    /// `.bin`: an `ArrayBuffer` of the bytes is the default export.
    Data,
}

impl Kind {
    pub(crate) fn of(path: &Path) -> Result<Kind, String> {
        match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
            "ts" | "mts" | "cts" | "tsx" | "js" | "mjs" | "cjs" | "jsx" => Ok(Kind::Code),
            "json" => Ok(Kind::Json),
            "txt" | "html" | "sql" => Ok(Kind::Text),
            "bin" => Ok(Kind::Data),
            other => Err(format!("{}: no module rule for files ending in {other:?}", path.display())),
        }
    }
}

/// How a specifier is used: a failed static import stops the load; a `require` or dynamic
/// `import()` that does not resolve throws when (and if) it runs, as in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Static,
    Dynamic,
    Require,
}

/// What resolves a specifier while a module is rewritten: the module name it leads to,
/// `None` to leave it as written, or an error that stops the load.
pub(crate) type Link<'a> = dyn FnMut(&str, Use) -> Result<Option<String>, String> + 'a;

/// The module a non-code file becomes.
pub(crate) fn data_module(name: &str, kind: Kind, bytes: &[u8]) -> Result<String, String> {
    match kind {
        Kind::Json => {
            let text = std::str::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8"))?;
            let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{name}: not JSON: {e}"))?;
            Ok(format!("export default {value};\n"))
        }
        Kind::Text => {
            let text = std::str::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8 text"))?;
            Ok(format!("export default {};\n", serde_json::Value::from(text)))
        }
        Kind::Data => {
            let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
            Ok(format!("export default new Uint8Array([{}]).buffer;\n", list.join(",")))
        }
        Kind::Code => Err(format!("{name}: code is not data")),
    }
}

/// The ES module for code `text` of module `name`. `link` gets every specifier (after
/// types are erased) and returns the module name it resolves to, `Ok(None)` to leave it
/// as written, or an error that stops the load. `commonjs` says the file may be CommonJS
/// (its package does not declare ES modules): one with no `import`/`export` is then
/// wrapped as CommonJS, as bundlers do.
pub(crate) fn code_module(
    name: &str,
    text: &str,
    commonjs: bool,
    link: &mut Link<'_>,
) -> Result<(String, Positions), String> {
    let allocator = Allocator::default();
    let path = Path::new(name);
    let source_type = SourceType::from_path(path).unwrap_or_else(|_| SourceType::mjs()).with_module(true);
    let parsed = Parser::new(&allocator, text, source_type).parse();
    if let Some(e) = parsed.diagnostics.first() {
        return Err(format!("{name}: {}", render(e, text)));
    }
    let mut program = parsed.program;
    let is_esm = program.body.iter().any(Statement::is_module_declaration);
    let wrap = !is_esm && (commonjs || matches!(path.extension().and_then(|e| e.to_str()), Some("cjs" | "cts")));
    if source_type.is_typescript() {
        let scoping = SemanticBuilder::new().with_enum_eval(true).build(&program).semantic.into_scoping();
        let mut options = TransformOptions::default();
        // TypeScript's decorators (`experimentalDecorators`), which QuickJS cannot parse and
        // Durable Object mixins use (`@Browsable()`): lowered to calls, as tsc does.
        options.decorator.legacy = true;
        let done = Transformer::new(&allocator, path, &options).build_with_scoping(scoping, &mut program);
        if let Some(e) = done.diagnostics.first() {
            return Err(format!("{name}: {}", render(e, text)));
        }
    }
    let mut relink = Relink { allocator: &allocator, link, requires: wrap, error: None, required: Vec::new() };
    relink.visit_program(&mut program);
    if let Some(e) = relink.error {
        return Err(format!("{name}: {e}"));
    }
    let required = relink.required;
    let exported = if wrap { commonjs_export_names(&program.body) } else { Vec::new() };
    let options = CodegenOptions { source_map_path: Some(path.to_path_buf()), ..CodegenOptions::default() };
    let generated = Codegen::new().with_options(options).build(&program);
    let js = generated.code;
    let (js, offset) = if wrap {
        let wrapped = commonjs_wrapper(name, &js, &required, &exported);
        let offset = wrapped.find(js.as_str()).map_or(0, |at| wrapped[..at].matches('\n').count() as u32);
        (wrapped, offset)
    } else {
        (js, 0)
    };
    let mut positions: Positions = generated
        .map
        .map(|m| {
            m.get_tokens()
                .map(|t| [t.get_dst_line() + offset, t.get_dst_col(), t.get_src_line(), t.get_src_col()])
                .collect()
        })
        .unwrap_or_default();
    positions.sort_unstable();
    Ok((js, positions))
}

/// Where the generated JavaScript came from: `[line, column, source line, source column]`
/// (all from 0), sorted, one per mapped token.
pub(crate) type Positions = Vec<[u32; 4]>;

/// The source position of generated line `line` and column `column` (both from 1, as
/// stack frames count): the last mapped token at or before it on that line.
pub(crate) fn original(positions: &Positions, line: u32, column: u32) -> Option<(u32, u32)> {
    let (line, column) = (line.checked_sub(1)?, column.saturating_sub(1));
    let before = positions.partition_point(|p| (p[0], p[1]) <= (line, column));
    let token = positions[..before]
        .last()
        .filter(|p| p[0] == line)
        .or_else(|| positions.get(before).filter(|p| p[0] == line))?;
    Some((token[2] + 1, token[3] + 1))
}

/// Rewrites specifiers to module names, and notes which modules `require` names.
struct Relink<'a, 'l> {
    allocator: &'a Allocator,
    link: &'l mut Link<'l>,
    /// Whether `require("x")` calls are links (in CommonJS code).
    requires: bool,
    error: Option<String>,
    required: Vec<String>,
}

impl<'a> Relink<'a, '_> {
    fn relink(&mut self, literal: &mut StringLiteral<'a>, how: Use) -> Option<String> {
        if self.error.is_some() {
            return None;
        }
        match (self.link)(literal.value.as_str(), how) {
            Ok(Some(name)) => {
                literal.value = oxc::str::Str::from(self.allocator.alloc_str(&name));
                literal.raw = None;
                Some(name)
            }
            Ok(None) => None,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl<'a> VisitMut<'a> for Relink<'a, '_> {
    fn visit_import_declaration(&mut self, it: &mut ImportDeclaration<'a>) {
        self.relink(&mut it.source, Use::Static);
    }

    fn visit_export_all_declaration(&mut self, it: &mut ExportAllDeclaration<'a>) {
        self.relink(&mut it.source, Use::Static);
    }

    fn visit_export_from_declaration(&mut self, it: &mut ExportFromDeclaration<'a>) {
        self.relink(&mut it.source, Use::Static);
    }

    fn visit_import_expression(&mut self, it: &mut ImportExpression<'a>) {
        if let Expression::StringLiteral(s) = &mut it.source {
            self.relink(s, Use::Dynamic);
        }
        walk_mut::walk_import_expression(self, it);
    }

    fn visit_call_expression(&mut self, it: &mut CallExpression<'a>) {
        let is_require = matches!(&it.callee, Expression::Identifier(id) if id.name == "require");
        if self.requires && is_require && it.arguments.len() == 1 {
            if let Argument::StringLiteral(s) = &mut it.arguments[0] {
                if let Some(name) = self.relink(s, Use::Require) {
                    if !self.required.contains(&name) {
                        self.required.push(name);
                    }
                }
            }
        }
        walk_mut::walk_call_expression(self, it);
    }
}

/// Names a CommonJS module visibly exports at its top level (`exports.x = ...`,
/// `module.exports.x = ...`, `module.exports = { x, y }`, `Object.defineProperty(exports,
/// "x", ...)`), so ES modules can import them by name, as bundlers allow.
fn commonjs_export_names(body: &[Statement<'_>]) -> Vec<String> {
    use oxc::ast::ast::{AssignmentTarget, ObjectPropertyKind, PropertyKey};
    let is_exports = |e: &Expression<'_>| match e {
        Expression::Identifier(id) => id.name == "exports",
        Expression::StaticMemberExpression(m) => {
            m.property.name == "exports" && matches!(&m.object, Expression::Identifier(id) if id.name == "module")
        }
        _ => false,
    };
    let mut names = Vec::new();
    for statement in body {
        let Statement::ExpressionStatement(s) = statement else { continue };
        match &s.expression {
            Expression::AssignmentExpression(a) => match &a.left {
                AssignmentTarget::StaticMemberExpression(m) if is_exports(&m.object) => {
                    names.push(m.property.name.to_string());
                }
                AssignmentTarget::StaticMemberExpression(m)
                    if m.property.name == "exports"
                        && matches!(&m.object, Expression::Identifier(id) if id.name == "module") =>
                {
                    if let Expression::ObjectExpression(o) = &a.right {
                        for p in &o.properties {
                            if let ObjectPropertyKind::ObjectProperty(p) = p {
                                if let PropertyKey::StaticIdentifier(k) = &p.key {
                                    names.push(k.name.to_string());
                                }
                            }
                        }
                    }
                }
                _ => {}
            },
            Expression::CallExpression(c) => {
                let define = matches!(&c.callee, Expression::StaticMemberExpression(m)
                    if m.property.name == "defineProperty" && matches!(&m.object, Expression::Identifier(id) if id.name == "Object"));
                if define && c.arguments.len() == 3 {
                    if let (Some(target), Argument::StringLiteral(k)) =
                        (c.arguments[0].as_expression(), &c.arguments[1])
                    {
                        if is_exports(target) {
                            names.push(k.value.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let reserved = ["default", "__esModule", "__dosimCommonJs"];
    let identifier = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    names.retain(|n| !reserved.contains(&n.as_str()) && identifier(n));
    names.sort();
    names.dedup();
    names
}

/// CommonJS code `js` as an ES module: it runs once, when the module is evaluated, with
/// `module`, `exports` and a `require` that answers from the modules it names (imported
/// statically, so the program's module graph holds them).
fn commonjs_wrapper(name: &str, js: &str, required: &[String], exported: &[String]) -> String {
    let mut out = String::new();
    for (i, module) in required.iter().enumerate() {
        out.push_str(&format!("import * as __dosim_r{i} from {};\n", serde_json::Value::from(module.as_str())));
    }
    let table: Vec<String> = required
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{}: __dosim_r{i}", serde_json::Value::from(m.as_str())))
        .collect();
    let dir = name.rsplit_once('/').map_or(".", |(d, _)| d);
    out.push_str(&format!(
        "const __dosim_modules = {{ {} }};\n\
         const __dosim_require = (s) => {{\n\
           const m = __dosim_modules[s];\n\
           if (m === undefined) {{ const e = new Error(`Cannot find module '${{s}}'`); e.code = 'MODULE_NOT_FOUND'; throw e; }}\n\
           return '__dosimCommonJs' in m ? m.__dosimCommonJs : m;\n\
         }};\n\
         const module = {{ exports: {{}} }};\n\
         (function (exports, require, module, __filename, __dirname) {{\n{js}\n}}).call(module.exports, module.exports, __dosim_require, module, {}, {});\n\
         export const __dosimCommonJs = module.exports;\n\
         export default module.exports !== null && typeof module.exports === 'object' && module.exports.__esModule && 'default' in module.exports ? module.exports.default : module.exports;\n",
        table.join(", "),
        serde_json::Value::from(name),
        serde_json::Value::from(dir),
    ));
    for (i, export) in exported.iter().enumerate() {
        out.push_str(&format!(
            "const __dosim_e{i} = module.exports[{}];\nexport {{ __dosim_e{i} as {export} }};\n",
            serde_json::Value::from(export.as_str())
        ));
    }
    out
}

pub(crate) fn render(e: &oxc::diagnostics::OxcDiagnostic, text: &str) -> String {
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
