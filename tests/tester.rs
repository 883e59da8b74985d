//! Testing the tester: with a gate switched off, the checkers must complain. A harness
//! that stays quiet here would prove nothing when the gates are on.

use dosim::scenarios::{self, check, Outcome, Verdict};
use dosim::sim::{FaultPolicy, GatePolicy, SimConfig};

fn first_failure(name: &str, config: impl Fn(u64) -> SimConfig, budget: u64) -> Option<Outcome> {
    let s = scenarios::find(name).unwrap();
    (0..budget).map(|seed| check(s, config(seed))).find(|o| o.verdict() == Verdict::Fail)
}

#[test]
fn safe_counter_loses_updates_with_the_input_gate_off() {
    let o = first_failure("safe-counter", |s| SimConfig::new(s).input_gate(GatePolicy::Disabled), 20)
        .expect("safe-counter must fail with the input gate off");
    // Both the runtime's self-check and the user-visible invariant fire.
    assert!(o.violations.iter().any(|v| v.checker == "input-gate"), "{:?}", o.violations);
    let lost = (0..40)
        .map(|seed| {
            check(scenarios::find("safe-counter").unwrap(), SimConfig::new(seed).input_gate(GatePolicy::Disabled))
        })
        .any(|o| o.violations.iter().any(|v| v.checker == "counter" && v.message.contains("lost update")));
    assert!(lost, "with the input gate off, two calls must read the same counter value");
}

#[test]
fn safe_counter_passes_the_same_seeds_with_the_input_gate_on() {
    for seed in 0..40 {
        let o = check(scenarios::find("safe-counter").unwrap(), SimConfig::new(seed));
        assert_eq!(o.verdict(), Verdict::Pass, "seed {seed}: {:?}", o.violations);
    }
}

#[test]
fn durability_checker_fires_with_the_output_gate_off() {
    let o = first_failure("counter", |s| SimConfig::new(s).output_gate(GatePolicy::Disabled), 60)
        .expect("counter must fail with the output gate off");
    assert!(o.violations.iter().any(|v| v.checker == "output-gate"), "{:?}", o.violations);
}

#[test]
fn output_gate_off_is_harmless_without_crashes() {
    // Without crashes nothing is lost, so the switch alone must not produce findings:
    // the checker reacts to lost acknowledged writes, not to the switch.
    for seed in 0..20 {
        let c = SimConfig::new(seed).output_gate(GatePolicy::Disabled).faults(FaultPolicy::Off);
        let o = check(scenarios::find("counter").unwrap(), c);
        assert_eq!(o.verdict(), Verdict::Pass, "seed {seed}: {:?}", o.violations);
    }
}

#[test]
fn bank_money_is_created_or_lost_with_the_input_gate_off() {
    // transaction() is a critical section; without the gate two transfers interleave and
    // the bank's own invariant (money conserved) must see it, not only the self-check.
    let bank = scenarios::find("bank").unwrap();
    let broken = (0..60)
        .map(|seed| check(bank, SimConfig::new(seed).input_gate(GatePolicy::Disabled)))
        .any(|o| o.violations.iter().any(|v| v.checker == "bank"));
    assert!(broken, "no seed broke the bank with the input gate off");
    for seed in 0..60 {
        let o = check(bank, SimConfig::new(seed));
        assert_eq!(o.verdict(), Verdict::Pass, "seed {seed}: {:?}", o.violations);
    }
}
