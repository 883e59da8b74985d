//! Patterns B in TypeScript: the reference document's code, run by the JS host, reaches
//! the verdict of its Rust faithful port. A defective port's defect is found within the
//! same seed budget, by the same checkers on the first failing seed, naming the same
//! defect; a port that is right as written passes the same seeds.

use dosim::scenarios::{self, check, Outcome, Scenario, Verdict};
use dosim::sim::{Compatibility, SimConfig};
use std::collections::BTreeSet;

/// Seeds within which a defect must show (as in tests/patterns_b.rs).
const DEFECT_BUDGET: u64 = 100;

fn scenario(name: &str) -> &'static dyn Scenario {
    scenarios::find(name).unwrap_or_else(|| panic!("{name} is not a built-in scenario"))
}

/// The first failing seed of `name` within the budget.
fn first_failure(name: &str, config: fn(u64) -> SimConfig) -> Outcome {
    let s = scenario(name);
    (0..DEFECT_BUDGET)
        .map(|seed| check(s, config(seed)))
        .find(|o| o.verdict() == Verdict::Fail)
        .unwrap_or_else(|| panic!("{name}: the known defect was not found in {DEFECT_BUDGET} seeds"))
}

/// The checkers an outcome's violations come from.
fn checkers(o: &Outcome) -> BTreeSet<&str> {
    o.violations.iter().map(|v| v.checker.as_str()).collect()
}

/// Both ports fail within the budget; the first failing seeds' violations come from the
/// same checkers, the pattern's own among them; and the JS port's pattern violations
/// name each of `words`.
fn same_defect(js: &str, rust: &str, words: &[&str]) {
    let (j, r) = (first_failure(js, SimConfig::new), first_failure(rust, SimConfig::new));
    assert_eq!(
        checkers(&j),
        checkers(&r),
        "{js} seed {} and {rust} seed {}:\n{:?}\n{:?}",
        j.report.seed,
        r.report.seed,
        j.violations,
        r.violations
    );
    assert!(checkers(&j).contains(rust), "{js} seed {}: {:?}", j.report.seed, j.violations);
    for w in words {
        assert!(
            j.violations.iter().any(|v| v.checker == rust && v.message.contains(w)),
            "{js} seed {}: no [{rust}] violation naming {w:?}: {:?}",
            j.report.seed,
            j.violations
        );
    }
}

/// Every seed in `0..seeds` passes.
fn holds(name: &str, seeds: u64, config: fn(u64) -> SimConfig) {
    let s = scenario(name);
    for seed in 0..seeds {
        let o = check(s, config(seed));
        assert_eq!(
            o.verdict(),
            Verdict::Pass,
            "{name} seed {seed}: {:?}\nreplay: dosim run {name} --seed {seed} --trace",
            o.violations
        );
    }
}

#[test]
fn batch_processing_js_never_processes_an_acknowledged_item() {
    // Every alarm throws (this.sql is undefined) after dropping its batch, and is abandoned.
    same_defect("batch-processing-js", "batch-processing", &["never processed", "the alarm was abandoned"]);
}

#[test]
fn parent_child_js_fails_every_create_and_list() {
    same_defect(
        "parent-child-js",
        "parent-child",
        &["createDocument calls failed with the objects' own error", "TypeError"],
    );
    // Lists fail the same way, on the first seed where a list ran (as for the Rust port).
    let o = (0..DEFECT_BUDGET)
        .map(|seed| check(scenario("parent-child-js"), SimConfig::new(seed)))
        .find(|o| o.violations.iter().any(|v| v.message.contains("listDocuments call")))
        .expect("a failed listDocuments within the budget");
    assert!(o.violations.iter().any(|v| v.message.contains("createDocument calls failed")), "{:?}", o.violations);
}

#[test]
fn write_coalescing_js_counts_nan_and_refuses_begin() {
    same_defect(
        "write-coalescing-js",
        "write-coalescing",
        &["undefined + 1 is NaN", "batchUpdate calls failed", "To execute a transaction, please use"],
    );
}

#[test]
fn cleanup_js_holds_as_written() {
    holds("cleanup-js", 300, SimConfig::new);
}

#[test]
fn cleanup_js_holds_without_delete_all_deleting_the_alarm() {
    holds("cleanup-js", 200, |seed| {
        SimConfig::new(seed).compatibility(Compatibility::at("2026-02-23").expect("a date"))
    });
}
