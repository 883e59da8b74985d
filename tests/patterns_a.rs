//! Patterns A of the reference document: Schema Migration, In-Memory Caching, Rate
//! Limiting, Initialization, Safe Counter / Optimized Write. Each faithful port that is
//! wrong is caught within a stated seed budget, by its own invariant, and the CLI prints
//! the command that replays it; each fixed port, and each that is right as written,
//! passes a stated number of seeds.

use dosim::scenarios::{self, check, Outcome, Verdict};
use dosim::sim::{GatePolicy, SimConfig};
use std::process::Command;

/// Seeds within which a faithful port's defect must show.
const DEFECT_BUDGET: u64 = 50;
/// Seeds a fixed (or right as written) port must pass.
const PASS_SEEDS: u64 = 300;

/// The first failing seed of `name` within the budget, and its outcome.
fn first_failure(name: &str, config: impl Fn(u64) -> SimConfig) -> (u64, Outcome) {
    let s = scenarios::find(name).unwrap();
    (0..DEFECT_BUDGET)
        .map(|seed| (seed, check(s, config(seed))))
        .find(|(_, o)| o.verdict() == Verdict::Fail)
        .unwrap_or_else(|| panic!("{name}: its defect was not found in {DEFECT_BUDGET} seeds"))
}

/// Asserts that the scenario's own checker `checker` says something containing each of
/// `words`, and that `dosim fuzz` exits 1 and prints the replay command of that seed.
fn caught(name: &str, checker: &str, words: &[&str]) {
    let (seed, o) = first_failure(name, SimConfig::new);
    let mine: Vec<_> = o.violations.iter().filter(|v| v.checker == checker).collect();
    assert!(
        words.iter().all(|w| mine.iter().any(|v| v.message.contains(w))),
        "{name} seed {seed}: expected [{checker}] naming {words:?}, got {:?}",
        o.violations
    );
    let out = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["fuzz", "--scenario", name, "--seeds", &DEFECT_BUDGET.to_string(), "--no-save"])
        .output()
        .expect("dosim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let replay = format!("replay: dosim run {name} --seed {seed} --trace");
    assert!(stdout.lines().any(|l| l.trim() == replay), "expected `{replay}` in:\n{stdout}");
}

fn passes(name: &str, seeds: u64) {
    let s = scenarios::find(name).unwrap();
    for seed in 0..seeds {
        let o = check(s, SimConfig::new(seed));
        assert_eq!(
            o.verdict(),
            Verdict::Pass,
            "{name} seed {seed}: {:?}\nreplay: dosim run {name} --seed {seed} --trace",
            o.violations
        );
    }
}

#[test]
fn schema_migration_as_written_never_starts() {
    // PRAGMA user_version is not authorized: the constructor throws on every start, so even
    // with the faults stopped no request can write or read users.
    caught("schema-migration", "users", &["after the faults stopped", "not authorized"]);
}

#[test]
fn schema_migration_fixed_passes() {
    passes("schema-migration-fixed", PASS_SEEDS);
}

#[test]
fn rate_limiter_as_written_refuses_everything() {
    caught("rate-limiter", "rate-limit", &["Cannot read properties of undefined (reading 'exec')", "not admitted"]);
}

#[test]
fn rate_limiter_fixed_passes() {
    passes("rate-limiter-fixed", PASS_SEEDS);
}

#[test]
fn optimized_write_as_written_hands_out_undefined_then_nan() {
    caught("optimized-write", "unique-number", &["handed undefined", "handed NaN"]);
}

#[test]
fn optimized_write_fixed_passes() {
    passes("optimized-write-fixed", PASS_SEEDS);
}

#[test]
fn initialization_passes() {
    passes("initialization", PASS_SEEDS);
}

#[test]
fn in_memory_cache_passes_on_both_back_ends() {
    passes("in-memory-cache", PASS_SEEDS);
    passes("in-memory-cache-kv", PASS_SEEDS);
}

/// The cache is right because of the gates: with either switched off, its own invariant
/// (not only the runtime's self-checks) must find a stale or lost value.
#[test]
fn in_memory_cache_invariant_bites_with_a_gate_off() {
    for name in ["in-memory-cache", "in-memory-cache-kv"] {
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
