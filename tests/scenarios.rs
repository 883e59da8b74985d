//! Every built-in scenario over a fixed range of seeds. Scenarios whose model is right
//! must pass every seed; a scenario with a known defect must be caught within its budget.
//! `DOSIM_SEED=N cargo test` runs just seed N of each scenario and prints its trace.

use dosim::scenarios::{self, check, Expect, Verdict};
use dosim::sim::SimConfig;

/// Seeds per scenario that must pass (a few hundred in all).
const PASS_SEEDS: u64 = 150;
/// Seeds within which a known defect must show.
const DEFECT_BUDGET: u64 = 20;

fn single_seed() -> Option<u64> {
    std::env::var("DOSIM_SEED").ok().map(|s| s.parse().expect("DOSIM_SEED must be a number"))
}

#[test]
fn every_scenario_meets_its_expectation() {
    if let Some(seed) = single_seed() {
        for s in scenarios::all() {
            let o = check(*s, SimConfig::new(seed));
            println!("==== {} seed {seed}: {:?}\n{}", s.name(), o.verdict(), o.report.trace_text());
            for v in &o.violations {
                println!("  {v}");
            }
        }
        return;
    }
    for s in scenarios::all() {
        match s.expect() {
            Expect::Pass => {
                for seed in 0..PASS_SEEDS {
                    let o = check(*s, SimConfig::new(seed));
                    assert_eq!(
                        o.verdict(),
                        Verdict::Pass,
                        "{} seed {seed}: {:?}\nreplay: dosim run {} --seed {seed} --trace",
                        s.name(),
                        o.violations,
                        s.name()
                    );
                }
            }
            Expect::Defect => {
                let found = (0..DEFECT_BUDGET)
                    .map(|seed| check(*s, SimConfig::new(seed)))
                    .find(|o| o.verdict() == Verdict::Fail);
                assert!(found.is_some(), "{}: the known defect was not found in {DEFECT_BUDGET} seeds", s.name());
            }
        }
    }
}

#[test]
fn racy_counter_is_caught_by_its_own_invariant_with_every_gate_on() {
    let o = (0..DEFECT_BUDGET)
        .map(|seed| check(scenarios::find("racy-counter").unwrap(), SimConfig::new(seed)))
        .find(|o| o.verdict() == Verdict::Fail)
        .expect("racy-counter must fail");
    // The finding is the model's lost update, not a runtime self-check.
    assert!(o.violations.iter().all(|v| v.checker == "counter"), "{:?}", o.violations);
    assert!(o.violations.iter().any(|v| v.message.contains("lost update")), "{:?}", o.violations);
}
