//! A Worker project as the unit: `dosim` run inside a folder with a wrangler config runs
//! that project (entry module, bindings, back-ends, vars from the config), finds the bug
//! planted in `examples/ticket-office`, and saves a regression file that replays from
//! anywhere. The example's npm dependencies are installed by dosim itself (`npm ci`);
//! without npm that test is skipped with the reason printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dosim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).current_dir(dir).output().expect("run dosim")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn has_npm() -> bool {
    Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ticket-office")
}

#[test]
fn the_example_project_fuzzes_from_its_folder_and_its_bug_is_found() {
    let dir = example();
    if !dir.join("node_modules").is_dir() && !has_npm() {
        eprintln!("skipped: examples/ticket-office needs its npm dependencies and npm is not installed");
        return;
    }
    let o = dosim_in(&dir, &["fuzz", "--seeds", "200", "--no-save", "--jobs", "2"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "the planted bug makes the run fail:\n{out}");
    assert!(out.contains("calls ") && out.contains("FAILING"), "{out}");
    assert!(out.contains("was sold to call #"), "the invariant names the duplicate ticket:\n{out}");
    // The printed replay needs no flags inside the project's folder.
    let seed = out
        .split("replay: dosim run calls --seed ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a replay command")
        .to_owned();
    let a = dosim_in(&dir, &["run", "calls", "--seed", &seed, "--json"]);
    let b = dosim_in(&dir, &["run", "calls", "--seed", &seed, "--json"]);
    assert_eq!(a.status.code(), Some(1), "{}", text(&a));
    let json = |o: &Output| -> serde_json::Value { serde_json::from_slice(&o.stdout).expect("JSON") };
    let (ja, jb) = (json(&a), json(&b));
    assert_eq!(ja["trace_hash"], jb["trace_hash"], "the same seed gives the same run");
    assert_eq!(ja["violations"], jb["violations"]);
    // The default workload (dosim.jsonc) reaches the object's URL routing, its WebSocket
    // and its outbound fetch to the responder.
    let o = dosim_in(&dir, &["run", "calls", "--seed", &seed, "--trace"]);
    let trace = text(&o);
    for seen in
        [r#""method":"sell""#, "/tickets\"", r#""websocket":"/offices/"#, "POST https://accounting.example/receipts"]
    {
        assert!(trace.contains(seen), "the trace shows {seen}:\n{trace}");
    }
}

/// Writes a small project (no npm dependencies) into a scratch folder.
fn scratch_project(tag: &str, config_name: &str, config: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dosim-project-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join(config_name), config).unwrap();
    std::fs::write(
        dir.join("src/counter.ts"),
        r#"import { DurableObject } from "cloudflare:workers";
export class Counter extends DurableObject {
  async bump(): Promise<number> {
    const n: number = ((await this.ctx.storage.get("n")) ?? 0) + 1;
    await this.ctx.storage.put("n", n);
    return n;
  }
  async label(): Promise<string> { return this.env.LABEL; }
  async add(by: number): Promise<number> { return by; }
}
export function invariant(run: any) {
  const labels = run.history.filter((c: any) => c.method === "label" && c.ok === true).map((c: any) => c.value);
  return labels.filter((l: string) => l !== "from-config").map((l: string) => `label was ${l}`);
}
"#,
    )
    .unwrap();
    dir
}

#[test]
fn a_toml_project_runs_with_its_vars_and_default_methods_and_replays_from_its_file() {
    let dir = scratch_project(
        "toml",
        "wrangler.toml",
        "main = \"src/counter.ts\"\n[[durable_objects.bindings]]\nname = \"COUNTERS\"\nclass_name = \"Counter\"\n\
         [[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\"]\n[vars]\nLABEL = \"from-config\"\n",
    );
    let o = dosim_in(&dir, &["fuzz", "--seeds", "30", "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Default methods: those without parameters (bump, label), not add(by).
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3", "--trace"]);
    let out = text(&o);
    assert!(out.contains("COUNTERS:object"), "clients call the config's binding:\n{out}");
    assert!(out.contains("bump") && out.contains("label") && !out.contains("add("), "{out}");
    // --env overrides a config var, and the invariant sees it.
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3", "--env", "LABEL=other"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A shrunk failure is saved with the project and replays from another folder.
    let saved = dir.join("saved");
    let o =
        dosim_in(&dir, &["shrink", "calls", "--seed", "3", "--env", "LABEL=other", "--save", saved.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let file = std::fs::read_dir(&saved).unwrap().next().unwrap().unwrap().path();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(record["module"]["project"], "../wrangler.toml", "{record}");
    assert_eq!(record["module"]["binding"], "COUNTERS", "{record}");
    assert_eq!(record["module"]["backends"][0], "Counter=kv", "{record}");
    let o = dosim_in(&std::env::temp_dir(), &["replay", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("label was other"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_project_without_bindings_or_with_an_unknown_object_is_a_usage_error() {
    let dir = scratch_project("bad", "wrangler.json", r#"{ "main": "src/counter.ts" }"#);
    let o = dosim_in(&dir, &["run", "calls", "--seed", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("binds no Durable Object class"), "{}", text(&o));
    std::fs::write(
        dir.join("wrangler.json"),
        r#"{ "main": "src/counter.ts", "durable_objects": { "bindings": [{ "name": "C", "class_name": "Counter" }] } }"#,
    )
    .unwrap();
    let o = dosim_in(&dir, &["run", "calls", "--seed", "0", "--object", "NOPE"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--object NOPE") && text(&o).contains(": C"), "{}", text(&o));
    // Outside any project, `calls` still asks for a module or a config.
    let o = dosim_in(&std::env::temp_dir(), &["run", "calls", "--seed", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("wrangler config"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_projects_dosim_jsonc_gives_its_default_workload_and_flags_win() {
    let dir = scratch_project(
        "workload",
        "wrangler.json",
        r#"{ "main": "src/counter.ts", "durable_objects": { "bindings": [{ "name": "C", "class_name": "Counter" }] },
             "vars": { "LABEL": "from-config" } }"#,
    );
    std::fs::write(
        dir.join("dosim.jsonc"),
        "{\n  // only add, with an argument\n  \"methods\": [\"add(int 1..3)\"],\n}\n",
    )
    .unwrap();
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3", "--trace"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(r#""method":"add""#) && !out.contains(r#""method":"bump""#), "the file's methods:\n{out}");
    // A flag replaces the file's workload.
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3", "--trace", "--method", "bump"]);
    let out = text(&o);
    assert!(out.contains(r#""method":"bump""#) && !out.contains(r#""method":"add""#), "--method wins:\n{out}");
    // A mistake in the file is a usage error naming it.
    std::fs::write(dir.join("dosim.jsonc"), r#"{ "method": ["bump"] }"#).unwrap();
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("dosim.jsonc") && text(&o).contains("unknown field"), "{}", text(&o));
    std::fs::write(dir.join("dosim.jsonc"), r#"{ "object": "NOPE" }"#).unwrap();
    let o = dosim_in(&dir, &["run", "calls", "--seed", "3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("dosim.jsonc") && text(&o).contains("NOPE"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(dir);
}
