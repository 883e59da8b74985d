//! Real code, outside the repository: npm packages that ship Durable Object classes (or
//! the base classes and helpers Durable Objects are written with), pinned in
//! `tests/corpus/package-lock.json`, are installed with `npm ci` into a cache folder
//! (`$DOSIM_CACHE`, else `~/.cache/dosim`, never this repository), and the modules of
//! `tests/corpus/` (ours) import them unmodified and run under the seed's faults, each with
//! its own invariant. Without npm every test here is skipped with the reason printed.
//!
//! A case whose failure is not yet understood is `#[ignore]`d with
//! that reason (run them with `cargo test --test corpus -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// The folder the corpus is installed in, once per test process; `None` without npm.
fn installed() -> Option<PathBuf> {
    static DIR: OnceLock<Mutex<Option<Option<PathBuf>>>> = OnceLock::new();
    let cell = DIR.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    guard.get_or_insert_with(install).clone()
}

fn install() -> Option<PathBuf> {
    if !Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: the corpus needs npm (Node.js) to install its packages");
        return None;
    }
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let lock = std::fs::read(ours.join("package-lock.json")).expect("tests/corpus/package-lock.json");
    // One folder per lockfile, so a changed pin installs afresh.
    let hash = lock.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let cache = std::env::var_os("DOSIM_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/dosim")))
        .expect("DOSIM_CACHE or HOME");
    let dir = cache.join(format!("corpus-{hash:016x}"));
    let done = dir.join(".installed");
    if !done.is_file() {
        std::fs::create_dir_all(&dir).expect("the cache folder");
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(ours.join(f), dir.join(f)).expect("copy the manifest");
        }
        eprintln!("installing the corpus's npm packages into {}", dir.display());
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("run npm");
        assert!(status.success(), "npm ci failed in {}", dir.display());
        std::fs::write(&done, "").expect("mark the install done");
    }
    // Our modules sit next to node_modules, so their imports resolve as in a project.
    for entry in std::fs::read_dir(&ours).expect("tests/corpus") {
        let path = entry.expect("a corpus file").path();
        if path.extension().is_some_and(|e| e == "ts" || e == "js") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).expect("copy a corpus module");
        }
    }
    Some(dir)
}

fn fuzz(module: &str, class: &str, methods: &[&str], seeds: u32) -> Option<String> {
    let dir = installed()?;
    let module = dir.join(module);
    let seeds = seeds.to_string();
    let mut args = vec!["fuzz", "--module", module.to_str().unwrap(), "--class", class, "--seeds", &seeds, "--no-save"];
    for m in methods {
        args.extend(["--method", m]);
    }
    let o: Output = Command::new(env!("CARGO_BIN_EXE_dosim")).args(&args).output().expect("run dosim");
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{class} of {}:\n{out}", module.display());
    assert!(out.contains(" 0 failing  pass"), "{out}");
    // Passing because nothing works would prove nothing.
    assert!(!out.contains("what went wrong") && !out.contains("WARNING"), "{out}");
    Some(out)
}

#[test]
fn hono_rate_limiter_durable_object_counts_hits_across_crashes() {
    // @hono-rate-limiter/cloudflare 0.2.2: DurableObjectRateLimiter (update, value, reset, alarm).
    fuzz("rate_limiter.js", "DurableObjectRateLimiter", &["update(1, 60000)", "value", "reset"], 40);
}

#[test]
fn cloudflare_actors_actor_base_class_runs() {
    // @cloudflare/actors 0.0.1-beta.6: Actor, the base class (its constructor and lifecycle).
    fuzz("actor_tally.ts", "Tally", &["bump"], 20);
}

#[test]
fn durable_utils_sql_migrations_migrate_before_every_request() {
    // durable-utils 0.3.5: SQLSchemaMigrations over ctx.storage (transaction, sql.exec).
    fuzz("sql_migrations.ts", "Notes", &["add(string)", "count"], 40);
}

#[test]
fn workers_qb_durable_object_query_builder_keeps_the_ledger() {
    // workers-qb 1.14.0: DOQB over ctx.storage.sql.
    fuzz("query_builder.ts", "Ledger", &["deposit(int 1..9)", "balance"], 30);
}

#[test]
fn browsable_durable_object_decorator_wraps_the_class() {
    // @outerbase/browsable-durable-object 0.1.1: the @Browsable() class decorator.
    fuzz("browsable.ts", "Catalog", &["stock(key, int 1..5)"], 40);
}

#[test]
fn partyserver_server_base_class_runs() {
    // partyserver 0.5.10: Server.
    fuzz("party_room.ts", "Room", &["bump"], 20);
}

#[test]
#[ignore = "under faults an acknowledged append is missing later (seed 1: append #3 saw 4 words after #5 saw 5); \
            whether y-partyserver, this module or dosim is at fault is not established yet"]
fn y_partyserver_document_survives_restarts() {
    // y-partyserver 2.2.0 (with yjs): YServer with onLoad/onSave.
    fuzz("yjs_document.ts", "Notes", &["append(key)"], 20);
}
