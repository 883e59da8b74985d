//! Snapshots of each scenario's outcome for a few fixed seeds: calls, acknowledgements,
//! failures by kind, crashes, commits, the durable state and its digest, the verdict.
//! They live in `snapshots/` and are reviewed like code: a change here is a change in
//! what dosim does for that seed.

use dosim::scenarios::{self, check};
use dosim::sim::SimConfig;

const SEEDS: [u64; 3] = [1, 7, 42];

#[test]
fn scenario_outcomes() {
    for s in scenarios::all() {
        for seed in SEEDS {
            let summary = check(*s, SimConfig::new(seed)).summary();
            insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_json_snapshot!(format!("{}-seed-{seed}", s.name()), summary);
            });
        }
    }
}
