//! Shrinking: from a failing workload to a small one that still fails the same
//! invariant, on the same seed. proptest's value tree shrinks the clients' calls (fewer
//! clients, fewer calls, shorter think times, simpler requests) down to the strategy's
//! minimum sizes; then greedy passes drop clients and calls below those, drop timed
//! crashes and switch off faults one at a time, keeping each change that still fails.

use crate::outcome::{check_workload, Outcome};
use crate::workload::{generate, Workload};
use crate::Scenario;
use dosim_sim::{FaultPlan, SimConfig};

/// The result of shrinking.
pub struct Shrunk {
    /// The workload it started from.
    pub original: Workload,
    /// The smallest failing run found.
    pub outcome: Outcome,
    /// Runs spent.
    pub runs: u32,
}

/// The checker whose violation the shrunk case must keep.
fn target(o: &Outcome) -> Option<String> {
    o.violations.first().map(|v| v.checker.clone())
}

/// Shrinks the failing run of `scenario` for `config.seed` (the seed's own workload),
/// spending at most `budget` runs. `None` if that run does not fail.
pub fn shrink(scenario: &'static dyn Scenario, config: SimConfig, budget: u32) -> Option<Shrunk> {
    let mut generated = generate(scenario, config.seed, config.faults);
    let original = generated.workload.clone();
    let first = check_workload(scenario, config.clone(), original.clone());
    let checker = target(&first)?;
    let mut best = first;
    let mut runs = 1;
    let attempt = |w: Workload, runs: &mut u32| -> Option<Outcome> {
        *runs += 1;
        let o = check_workload(scenario, config.clone(), w);
        o.violations.iter().any(|v| v.checker == checker).then_some(o)
    };
    // 1. proptest's tree over the calls.
    let tree = &mut generated.tree;
    if tree.simplify() {
        while runs < budget {
            let candidate = Workload { clients: tree.current(), ..best.workload.clone() };
            let kept = match attempt(candidate, &mut runs) {
                Some(o) => {
                    best = o;
                    tree.simplify()
                }
                None => tree.complicate(),
            };
            if !kept {
                break;
            }
        }
    }
    // 2. Below the strategy's minimum sizes: whole clients, then single calls.
    let mut c = 0;
    while c < best.workload.clients.len() && best.workload.clients.len() > 1 && runs < budget {
        let mut w = best.workload.clone();
        w.clients.remove(c);
        match attempt(w, &mut runs) {
            Some(o) => best = o,
            None => c += 1,
        }
    }
    for c in 0..best.workload.clients.len() {
        let mut i = 0;
        while i < best.workload.clients[c].len() && best.workload.clients[c].len() > 1 && runs < budget {
            let mut w = best.workload.clone();
            w.clients[c].remove(i);
            match attempt(w, &mut runs) {
                Some(o) => best = o,
                None => i += 1,
            }
        }
    }
    // 3. Timed crashes, one at a time.
    let mut i = 0;
    while i < best.workload.crashes.len() && runs < budget {
        let mut w = best.workload.clone();
        w.crashes.remove(i);
        match attempt(w, &mut runs) {
            Some(o) => best = o,
            None => i += 1,
        }
    }
    // 4. Faults, one kind at a time.
    for off in FaultPlan::SWITCHES {
        if runs >= budget {
            break;
        }
        let mut w = best.workload.clone();
        let before = w.faults;
        off(&mut w.faults);
        if w.faults != before {
            if let Some(o) = attempt(w, &mut runs) {
                best = o;
            }
        }
    }
    Some(Shrunk { original, outcome: best, runs })
}
