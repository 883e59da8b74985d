//! The input gate for JavaScript objects: a TypeScript counter that awaits only storage
//! between its read and its write loses nothing over 2,000 seeds on either back-end, and
//! one that awaits a `setTimeout` there loses updates, which the harness finds. With the
//! gate switched off the safe counter loses updates too: the check can fail.

use dosim::scenarios::{self, check, Verdict};
use dosim::sim::{GatePolicy, SimConfig};

const SEEDS: u64 = 2_000;

#[test]
fn a_js_counter_awaiting_only_storage_loses_nothing_over_2000_seeds() {
    for name in ["safe-counter-js", "safe-counter-kv-js"] {
        let s = scenarios::find(name).unwrap();
        let mut acknowledged = 0;
        for seed in 0..SEEDS {
            let o = check(s, SimConfig::new(seed));
            assert_eq!(o.verdict(), Verdict::Pass, "{name} seed {seed}: {:?}", o.violations);
            acknowledged += o.report.history.iter().filter(|op| op.ok_value().is_some()).count();
        }
        // The runs did real work: most calls were answered.
        assert!(acknowledged > SEEDS as usize * 5, "{name}: only {acknowledged} calls acknowledged");
    }
}

#[test]
fn a_set_timeout_gap_opens_the_gate_and_updates_are_lost() {
    for name in ["racy-counter-js", "racy-counter-kv-js"] {
        let s = scenarios::find(name).unwrap();
        let lost = (0..20).map(|seed| check(s, SimConfig::new(seed))).find(|o| o.verdict() == Verdict::Fail);
        let o = lost.unwrap_or_else(|| panic!("{name}: no failure in 20 seeds"));
        assert!(o.violations.iter().any(|v| v.message.contains("lost update")), "{name}: {:?}", o.violations);
        // The trace shows why: the timer is not storage, so the input gate opened.
        assert!(o.report.trace_text().contains("ms timer (not storage: the input gate opens)"));
    }
}

#[test]
fn with_the_input_gate_off_the_js_safe_counter_loses_updates() {
    let s = scenarios::find("safe-counter-kv-js").unwrap();
    let config = |seed| SimConfig::new(seed).input_gate(GatePolicy::Disabled);
    let failed =
        (0..100).map(|seed| check(s, config(seed))).any(|o| o.violations.iter().any(|v| v.checker == "input-gate"));
    assert!(failed, "no input-gate violation in 100 seeds with the gate off");
}
