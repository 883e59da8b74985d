//! The JavaScript ports of patterns A (the reference document's TypeScript, run by the JS
//! host) reach the verdicts of their Rust faithful ports, under the same workloads and
//! checkers: a defect is caught within the same seed budget, by the same checker, saying
//! the same things; a port that is right passes as many seeds.

use dosim::scenarios::{self, check, Outcome, Verdict};
use dosim::sim::{GatePolicy, SimConfig};
use std::collections::BTreeSet;
use std::process::Command;

/// Seeds within which a faithful port's defect must show (as in `patterns_a`).
const DEFECT_BUDGET: u64 = 50;
/// Seeds a port that is right must pass (as in `patterns_a`).
const PASS_SEEDS: u64 = 300;

/// The first failing seed of `name` within the budget, and its outcome.
fn first_failure(name: &str, config: impl Fn(u64) -> SimConfig) -> (u64, Outcome) {
    let s = scenarios::find(name).unwrap();
    (0..DEFECT_BUDGET)
        .map(|seed| (seed, check(s, config(seed))))
        .find(|(_, o)| o.verdict() == Verdict::Fail)
        .unwrap_or_else(|| panic!("{name}: its defect was not found in {DEFECT_BUDGET} seeds"))
}

fn checkers(o: &Outcome) -> BTreeSet<&str> {
    o.violations.iter().map(|v| v.checker.as_str()).collect()
}

/// `js` is caught as `patterns_a` asserts of `rust`: within the budget, its own checker
/// `checker` saying each of `words`, and `dosim fuzz` exits 1 with the replay command. Its
/// first failing seed is found by the same checkers as the Rust port's.
fn caught_like(js: &str, rust: &str, checker: &str, words: &[&str]) {
    let (seed, o) = first_failure(js, SimConfig::new);
    let mine: Vec<_> = o.violations.iter().filter(|v| v.checker == checker).collect();
    assert!(
        words.iter().all(|w| mine.iter().any(|v| v.message.contains(w))),
        "{js} seed {seed}: expected [{checker}] naming {words:?}, got {:?}",
        o.violations
    );
    let (rust_seed, r) = first_failure(rust, SimConfig::new);
    assert_eq!(
        checkers(&o),
        checkers(&r),
        "{js} seed {seed}: {:?}\n{rust} seed {rust_seed}: {:?}",
        o.violations,
        r.violations
    );
    let out = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["fuzz", "--scenario", js, "--seeds", &DEFECT_BUDGET.to_string(), "--no-save"])
        .output()
        .expect("dosim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let replay = format!("replay: dosim run {js} --seed {seed} --trace");
    assert!(stdout.lines().any(|l| l.trim() == replay), "expected `{replay}` in:\n{stdout}");
}

/// Every seed of the budget passes; returns the outcomes.
fn passes(name: &str) -> Vec<Outcome> {
    let s = scenarios::find(name).unwrap();
    (0..PASS_SEEDS)
        .map(|seed| {
            let o = check(s, SimConfig::new(seed));
            assert_eq!(
                o.verdict(),
                Verdict::Pass,
                "{name} seed {seed}: {:?}\nreplay: dosim run {name} --seed {seed} --trace",
                o.violations
            );
            o
        })
        .collect()
}

#[test]
fn schema_migration_js_never_starts() {
    caught_like("schema-migration-js", "schema-migration", "users", &["after the faults stopped", "not authorized"]);
}

#[test]
fn optimized_write_js_hands_out_undefined_then_nan() {
    caught_like("optimized-write-js", "optimized-write", "unique-number", &["handed undefined", "handed NaN"]);
}

#[test]
fn in_memory_cache_js_passes() {
    passes("in-memory-cache-js");
}

#[test]
fn in_memory_cache_kv_js_passes() {
    passes("in-memory-cache-kv-js");
}

/// As for the Rust port: with either gate off, the cache's own invariant finds a stale
/// value, so the JS ports' passes are not vacuous.
#[test]
fn in_memory_cache_js_invariant_bites_with_a_gate_off() {
    for name in ["in-memory-cache-js", "in-memory-cache-kv-js"] {
        for (gate, config) in [
            ("input", (|s| SimConfig::new(s).input_gate(GatePolicy::Disabled)) as fn(u64) -> SimConfig),
            ("output", |s| SimConfig::new(s).output_gate(GatePolicy::Disabled)),
        ] {
            let s = scenarios::find(name).unwrap();
            let found = (0..DEFECT_BUDGET)
                .map(|seed| check(s, config(seed)))
                .any(|o| o.violations.iter().any(|v| v.checker == "cache" && v.message.contains("had replaced it")));
            assert!(found, "{name} with the {gate} gate off: no stale value in {DEFECT_BUDGET} seeds");
        }
    }
}

/// Passes, and not vacuously: each seed's calls end as the Rust port's do (acknowledged,
/// failed, effect unknown), which a constructor's critical section that never closes, or
/// a killed event's storage read that outlives it, would change. Seeds where an isolate
/// restarted are left out: the Rust port has no isolate, so it meets one crash fewer.
#[test]
fn initialization_js_passes_and_answers_as_the_rust_port() {
    let rust = scenarios::find("initialization").unwrap();
    let all = passes("initialization-js");
    let compared: Vec<_> = all.iter().filter(|o| !o.report.trace_text().contains(": the isolate of ")).collect();
    assert!(compared.len() * 2 > all.len(), "only {} of {} seeds had no isolate restart", compared.len(), all.len());
    for o in compared {
        let (js, r) = (o.summary(), check(rust, SimConfig::new(o.config.seed)).summary());
        assert_eq!(
            (js.ok, js.fail, js.info, js.pending),
            (r.ok, r.fail, r.info, r.pending),
            "seed {}: initialization-js (ok, fail, info, pending) vs initialization",
            o.config.seed
        );
    }
}
