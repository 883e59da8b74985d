//! Determinism is the product: every seed run twice gives the same trace hash, the same
//! history and the same durable state; different seeds give different runs.

use dosim::scenarios::{self, check};
use dosim::sim::SimConfig;
use std::collections::BTreeSet;

#[test]
fn same_seed_same_run() {
    for s in scenarios::all() {
        for seed in 0..25 {
            let a = check(*s, SimConfig::new(seed));
            let b = check(*s, SimConfig::new(seed));
            assert!(!a.report.trace.is_empty());
            assert_eq!(a.report.trace_hash, b.report.trace_hash, "{} seed {seed}", s.name());
            assert_eq!(a.report.history, b.report.history, "{} seed {seed}", s.name());
            assert_eq!(a.report.durable, b.report.durable, "{} seed {seed}", s.name());
            assert_eq!(a.violations, b.violations, "{} seed {seed}", s.name());
        }
    }
}

#[test]
fn parallel_runs_do_not_disturb_each_other() {
    // Runs on other threads at the same time (as `dosim fuzz --jobs` does) change nothing.
    let s = scenarios::find("counter").unwrap();
    let alone: Vec<String> = (0..8).map(|seed| check(s, SimConfig::new(seed)).report.trace_hash).collect();
    let together: Vec<String> = std::thread::scope(|scope| {
        let hs: Vec<_> =
            (0..8).map(|seed| scope.spawn(move || check(s, SimConfig::new(seed)).report.trace_hash)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(alone, together);
}

#[test]
fn different_seeds_explore_different_runs() {
    let s = scenarios::find("safe-counter").unwrap();
    let hashes: BTreeSet<String> = (0..30).map(|seed| check(s, SimConfig::new(seed)).report.trace_hash).collect();
    assert!(hashes.len() >= 28, "only {} distinct runs in 30 seeds", hashes.len());
}
