//! The bug zoo as `cargo test` keeps it: the manifest is complete (25+ cited mutants with
//! twins, negative controls, both back-ends), a fast subset of entries is killed and passes
//! as expected with the same runs to the first failure every time, and `dosim zoo` fails
//! when a mutant survives or a twin fails (roles swapped), and refuses a broken manifest.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Quick entries (killed on their first seeds in a debug build), one per kind of mistake.
const FAST: &[&str] =
    &["timer-lost-update", "cache-before-rollback", "alarm-memory-pending", "write-then-throw", "rmw-storage-awaits"];

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run dosim")
}

fn zoo_json(extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["zoo", "--json", "--jobs", "2"];
    args.extend_from_slice(extra);
    let o = dosim(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}\n{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), json)
}

fn manifest() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("zoo/zoo.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("zoo/zoo.json")).expect("zoo.json is JSON")
}

#[test]
fn the_manifest_has_25_cited_mutants_with_twins_controls_and_both_backends() {
    let m = manifest();
    let entries = m["entries"].as_array().expect("entries");
    let mutants: Vec<&Value> = entries.iter().filter(|e| e.get("mutant").is_some()).collect();
    assert!(mutants.len() >= 25, "{} mutants", mutants.len());
    assert!(mutants.iter().all(|e| e.get("twin").is_some()), "every mutant has its twin");
    assert!(entries.iter().filter(|e| e.get("control").is_some()).count() >= 3, "negative controls");
    for e in entries {
        let citation = e["citation"].as_str().unwrap_or_default();
        assert!(citation.len() > 20, "{} cites nothing", e["name"]);
        let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("zoo").join(e["module"].as_str().unwrap());
        let source = std::fs::read_to_string(&module).unwrap_or_else(|_| panic!("{}", module.display()));
        assert!(source.contains("export function invariant"), "{} has no user invariant", e["name"]);
    }
    for backend in ["sqlite", "kv"] {
        assert!(mutants.iter().any(|e| e["backend"] == backend), "no mutant on {backend}");
    }
    let categories: std::collections::BTreeSet<&str> =
        mutants.iter().map(|e| e["category"].as_str().unwrap()).collect();
    for c in [
        "interleaving",
        "crash-around-commit",
        "output-gate",
        "alarm",
        "hibernation",
        "storage-fault",
        "ambiguous-call",
        "block-concurrency",
        "stale-cache",
    ] {
        assert!(categories.contains(c), "no mutant of category {c}: {categories:?}");
    }
}

#[test]
fn a_fast_subset_is_killed_and_its_twins_and_controls_pass_the_same_way_twice() {
    let mut args = vec!["--seeds", "8", "--budget", "60s"];
    for e in FAST {
        args.extend_from_slice(&["--entry", e]);
    }
    let (code, first) = zoo_json(&args);
    assert_eq!(code, Some(0), "{first:#}");
    let results = first["results"].as_array().unwrap();
    let schedulers = first["schedulers"].as_array().map_or(0, Vec::len);
    assert_eq!(schedulers, 2, "both schedulers, random and pct: {first:#}");
    assert_eq!(results.len(), schedulers * (2 * FAST.len() - 1), "four mutants, four twins, one control: {first:#}");
    for r in results {
        match r["role"].as_str().unwrap() {
            "mutant" => {
                let f = &r["first_failure"];
                assert_eq!(f["checker"], "invariant", "killed by its own invariant: {r:#}");
                assert_eq!(f["replays"], true, "{r:#}");
                assert!(r["ok"].as_bool().unwrap(), "{r:#}");
            }
            _ => {
                assert_eq!(r["failures"], 0, "{r:#}");
                assert!(r["first_failure"].is_null(), "{r:#}");
                assert_eq!(r["runs"], 8, "{r:#}");
            }
        }
    }
    // Runs to the first failure and kill rates are the seeds' business, not the machine's.
    let (_, second) = zoo_json(&args);
    let key = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["entry"].clone(), r["failures"].clone(), r["first_failure"]["runs"].clone()))
            .collect()
    };
    assert_eq!(key(&first), key(&second));
}

/// A copy of the manifest's `timer-lost-update` entry with its classes in the wrong roles,
/// written to a scratch folder with the module's path made absolute.
fn swapped_manifest(dir: &Path) -> PathBuf {
    let m = manifest();
    let mut e = m["entries"].as_array().unwrap().iter().find(|e| e["name"] == "timer-lost-update").unwrap().clone();
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("zoo").join(e["module"].as_str().unwrap());
    e["module"] = module.display().to_string().into();
    let (bug, fixed) = (e["mutant"].clone(), e["twin"].clone());
    e["mutant"] = fixed;
    e["twin"] = bug;
    let path = dir.join("zoo.json");
    std::fs::write(&path, serde_json::json!({ "entries": [e] }).to_string()).unwrap();
    path
}

#[test]
fn a_surviving_mutant_or_a_failing_twin_is_exit_1() {
    let dir = std::env::temp_dir().join(format!("dosim-zoo-swapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = swapped_manifest(&dir);
    let (code, report) = zoo_json(&["--manifest", path.to_str().unwrap(), "--seeds", "5", "--budget", "1s"]);
    assert_eq!(code, Some(1), "{report:#}");
    let results = report["results"].as_array().unwrap();
    let mutant = results.iter().find(|r| r["role"] == "mutant").unwrap();
    let twin = results.iter().find(|r| r["role"] == "twin").unwrap();
    assert!(mutant["first_failure"].is_null() && mutant["ok"] == false, "the correct class survives: {mutant:#}");
    assert!(twin["failures"].as_u64().unwrap() > 0 && twin["ok"] == false, "the buggy class fails: {twin:#}");
    assert_eq!(report["mutants_killed"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_manifest_is_exit_2_with_a_message() {
    let dir = std::env::temp_dir().join(format!("dosim-zoo-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("{\"entries\": [", "line"),
        ("{\"entries\": [], \"extra\": 1}", "unknown field"),
        (
            r#"{"entries": [{"name": "x", "category": "c", "module": "missing.ts", "mutant": "A", "twin": "B",
               "methods": ["m"], "backend": "sqlite", "citation": "somewhere public, cited", "about": "a"}]}"#,
            "no module",
        ),
        (
            r#"{"entries": [{"name": "x", "category": "c", "module": "missing.ts", "mutant": "A",
               "methods": ["m"], "backend": "sqlite", "citation": "somewhere public, cited", "about": "a"}]}"#,
            "give `mutant` and `twin`",
        ),
    ];
    for (text, expected) in cases {
        let path = dir.join("zoo.json");
        std::fs::write(&path, text).unwrap();
        let o = dosim(&["zoo", "--manifest", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(expected), "{text}: expected {expected:?} in {err}");
    }
    let o = dosim(&["zoo", "--entry", "no-such-entry"]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The two entries where dosim disagreed with workerd carry no `divergence` any more and
/// behave as workerd does: a constructor's un-awaited KV read keeps even the waking request
/// out until it lands (the control passes), and a `blockConcurrencyWhile` callback that does
/// not await the RPC it starts ends the section at once (measured on workerd 1.20261117.1),
/// so requests reuse generation 0 and the mutant is killed; its twin passes.
#[test]
fn the_two_settled_gate_divergences_behave_as_workerd() {
    let names = ["storage-init-without-bcw", "bcw-unawaited-init"];
    let m = manifest();
    for e in m["entries"].as_array().unwrap().iter().filter(|e| names.contains(&e["name"].as_str().unwrap())) {
        assert!(e.get("divergence").is_none(), "{} still notes a divergence", e["name"]);
    }
    let (code, report) = zoo_json(&["--seeds", "30", "--budget", "60s", "--entry", names[0], "--entry", names[1]]);
    assert_eq!(code, Some(0), "{report:#}");
    let results = report["results"].as_array().unwrap();
    let schedulers = report["schedulers"].as_array().map_or(0, Vec::len);
    assert_eq!(results.len(), 3 * schedulers, "a control, a mutant and its twin, per scheduler: {report:#}");
    for r in results {
        assert!(r["ok"].as_bool().unwrap(), "{r:#}");
        match r["role"].as_str().unwrap() {
            "mutant" => assert_eq!(r["first_failure"]["checker"], "invariant", "{r:#}"),
            _ => assert_eq!((r["failures"].as_u64(), r["runs"].as_u64()), (Some(0), Some(30)), "{r:#}"),
        }
    }
    assert_eq!(report["known_divergences"], 0, "{report:#}");
}
