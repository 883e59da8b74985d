//! Every import form a Worker project uses loads as wrangler bundles it: packages from
//! `node_modules` (exports conditions, `module`/`main`, CommonJS), JSON, text and data
//! files, tsconfig `paths`, type-only imports, re-exports, `..` inside the project, folder
//! imports, dynamic `import()` and TypeScript's decorators. The project is written to a scratch folder by the test
//! (the packages are our own few lines, not third-party code).

use dosim_js::{register, JsCall, JsClass, JsProgram};
use dosim_sim::{run, Backend, Completion, FaultPolicy, SimConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

const FILES: &[(&str, &str)] = &[
    ("package.json", r#"{ "name": "app", "private": true, "type": "module" }"#),
    ("tsconfig.json", r#"{ "compilerOptions": { "baseUrl": ".", "paths": { "@lib/*": ["src/lib/*"] } } }"#),
    (
        "src/index.ts",
        r#"
import { DurableObject } from "cloudflare:workers";
import type { Shape } from "./types";
import { type Other, area } from "./geometry";
import { pick } from "conditional";
import legacy, { twice } from "legacy";
import config from "./config.json";
import page from "./page.html";
import schema from "./schema.sql";
import blob from "./blob.bin";
import { shout } from "@lib/text";
import { folder } from "./lib";
import { up } from "../shared/up";
export { area } from "./geometry";
export * from "./more";

function tagged<T extends new (...a: any[]) => object>(C: T): T {
  return class extends C { tagged = "by a decorator"; };
}

@tagged
export class Probe extends DurableObject {
  async everything(): Promise<Record<string, unknown>> {
    const s: Shape = { w: 2, h: 3 };
    const o: Other | undefined = undefined;
    const lazy = await import("./lazy");
    return {
      area: area(s), pick, legacy: legacy.name, twice: twice(4), config: config.answer,
      page: page.trim(), schema: schema.trim(), blob: new Uint8Array(blob).join(","),
      shout: shout("hi"), folder, up, lazy: lazy.value, other: o ?? null,
      tagged: (this as unknown as { tagged: string }).tagged,
    };
  }
}
"#,
    ),
    ("src/types.ts", "export interface Shape { w: number; h: number }\n"),
    (
        "src/geometry.ts",
        "import type { Shape } from './types';\nexport type Other = string;\nexport function area(s: Shape): number { return s.w * s.h; }\n",
    ),
    ("src/more.ts", "export const more = 'more';\n"),
    ("src/lazy.ts", "export const value = 'lazy';\n"),
    ("src/config.json", r#"{ "answer": 42 }"#),
    ("src/page.html", "<p>hello</p>\n"),
    ("src/schema.sql", "CREATE TABLE t (k TEXT);\n"),
    ("src/lib/text.ts", "export const shout = (s: string) => s.toUpperCase() + '!';\n"),
    ("src/lib/index.ts", "export const folder = 'index.ts';\n"),
    ("shared/up.ts", "export const up = 'above src';\n"),
    (
        "node_modules/conditional/package.json",
        r#"{ "name": "conditional", "exports": { ".": { "node": "./node.js", "workerd": "./workerd.js", "default": "./default.js" } } }"#,
    ),
    ("node_modules/conditional/node.js", "export const pick = 'node';\n"),
    ("node_modules/conditional/workerd.js", "export const pick = 'workerd';\n"),
    ("node_modules/conditional/default.js", "export const pick = 'default';\n"),
    ("node_modules/legacy/package.json", r#"{ "name": "legacy", "main": "lib/main.js" }"#),
    (
        "node_modules/legacy/lib/main.js",
        "const helper = require('./helper');\nconst events = (() => { try { return require('not-installed'); } catch (e) { return e.code; } })();\nmodule.exports = { name: 'legacy-' + events, twice: helper.twice };\n",
    ),
    ("node_modules/legacy/lib/helper.js", "exports.twice = function (n) { return 2 * n; };\n"),
];

/// Writes the project into a fresh scratch folder and returns it.
fn project(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dosim-imports-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in FILES {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    std::fs::write(dir.join("src/blob.bin"), [1u8, 2, 255]).unwrap();
    dir
}

fn call(program: std::sync::Arc<JsProgram>, class: &str, method: &str) -> serde_json::Value {
    let class = class.to_owned();
    let name = method.to_owned();
    let report = run(SimConfig::new(1).faults(FaultPolicy::Off), move |world| async move {
        let ns = register(&world, "P", Backend::Sqlite, JsClass::new(program, &class));
        let stub = ns.get(&ns.id_from_name("p"));
        let _ = world.client(0).call(&stub, JsCall::new(&name, vec![])).await;
    });
    match &report.history[0].completion {
        Completion::Ok { value } => value.clone(),
        other => panic!("{method}: {other:?}\n{}", report.trace_text()),
    }
}

#[test]
fn every_import_form_loads() {
    let dir = project("all");
    let program = JsProgram::load(&dir.join("src/index.ts")).expect("the project loads");
    assert_eq!(program.root(), "src/index.ts", "module names are relative to the folder with package.json");
    let exports: Vec<String> = dosim_js::exports(&program).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(exports, ["Probe", "area", "more"], "re-exports are exports of the entry module");
    let got = call(program, "Probe", "everything");
    assert_eq!(
        got,
        json!({
            "area": 6, "pick": "workerd", "legacy": "legacy-MODULE_NOT_FOUND", "twice": 8, "config": 42,
            "page": "<p>hello</p>", "schema": "CREATE TABLE t (k TEXT);", "blob": "1,2,255",
            "shout": "HI!", "folder": "index.ts", "up": "above src", "lazy": "lazy", "other": null,
            "tagged": "by a decorator",
        })
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_missing_import_names_the_module_and_the_specifier() {
    let dir = project("missing");
    std::fs::write(
        dir.join("src/broken.ts"),
        "import { x } from 'no-such-package';\nexport class B { f() { return x; } }\n",
    )
    .unwrap();
    let err = JsProgram::load(&dir.join("src/broken.ts")).unwrap_err();
    assert!(err.contains("src/broken.ts") && err.contains("\"no-such-package\""), "{err}");
    std::fs::write(dir.join("src/node.ts"), "import assert from 'assert';\nexport class B { f() { assert(true); } }\n")
        .unwrap();
    let program = JsProgram::load(&dir.join("src/node.ts")).expect("a bare Node built-in loads");
    let js = program.javascript("src/node.ts").unwrap_or_default();
    assert!(js.contains("\"node:assert\""), "a bare Node built-in means its node: module: {js}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_package_the_entry_folder_is_the_root() {
    let dir = std::env::temp_dir().join(format!("dosim-imports-plain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.js"), "export { b } from './b';\nexport class A {}\n").unwrap();
    std::fs::write(dir.join("sub/b.js"), "export const b = 1;\n").unwrap();
    let program = JsProgram::load(Path::new(&dir.join("sub/a.js"))).unwrap();
    assert_eq!(program.root(), "a.js");
    assert!(program.javascript("b.js").is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn stack_frames_point_at_the_typescript_source() {
    let dir = project("frames");
    let source = "// a comment\ninterface Shape {\n  w: number;\n}\ntype Name = string;\nconst f = (n: number): number => {\n  return (undefined as any).boom + n;\n};\nf(1);\nexport class C {}\n";
    std::fs::write(dir.join("src/thrower.ts"), source).unwrap();
    let program = JsProgram::load(&dir.join("src/thrower.ts")).unwrap();
    let js = program.javascript("src/thrower.ts").unwrap();
    let generated_line = js.lines().position(|l| l.contains("boom")).unwrap() + 1;
    assert_ne!(generated_line, 7, "the types moved the code, or the test proves nothing:\n{js}");
    let err = dosim_js::exports(&program).unwrap_err();
    assert!(err.contains("src/thrower.ts:7:"), "the frame names the TypeScript line 7: {err}");
    let _ = std::fs::remove_dir_all(dir);
}
