//! Shrinking: a failing seed of `racy-counter` shrinks to a workload of a few steps that
//! fails the same invariant, and the command `dosim shrink` prints replays it.

use dosim::scenarios::shrink::shrink;
use dosim::scenarios::{self, check_workload, Verdict};
use dosim::sim::SimConfig;
use std::process::Command;

#[test]
fn a_failing_racy_counter_seed_shrinks_to_a_few_steps() {
    let s = scenarios::find("racy-counter").unwrap();
    let seed = (0..20).find(|&seed| scenarios::check(s, SimConfig::new(seed)).verdict() == Verdict::Fail).unwrap();
    let shrunk = shrink(s, SimConfig::new(seed), 400).expect("the seed fails");
    let w = &shrunk.outcome.workload;
    assert!(shrunk.original.calls() > w.calls());
    assert!(w.calls() <= 3, "still {} calls:\n{}", w.calls(), w.timeline());
    assert_eq!(shrunk.outcome.violations[0].checker, "counter");
    // Replaying the shrunk workload gives the same failure, trace and all.
    let again = check_workload(s, SimConfig::new(seed), w.clone());
    assert_eq!(again.report.trace_hash, shrunk.outcome.report.trace_hash);
    assert_eq!(again.violations, shrunk.outcome.violations);
}

#[test]
fn the_printed_command_replays_the_saved_file() {
    let dir = std::env::temp_dir().join(format!("dosim-shrink-test-{}", std::process::id()));
    let dosim = env!("CARGO_BIN_EXE_dosim");
    // Seed 7 (seed 1 now runs its clients sparsely, up to 1 s apart: no race to shrink).
    let out = Command::new(dosim).args(["shrink", "racy-counter", "--seed", "7", "--save"]).arg(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let replay = text.lines().find_map(|l| l.strip_prefix("replay: ")).expect("no replay command");
    let args: Vec<&str> = replay.split_whitespace().skip(1).filter(|a| *a != "--trace").collect();
    let replayed = Command::new(dosim).args(&args).arg("--json").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&replayed.stdout).expect("replay --json prints JSON");
    assert_eq!(json["verdict"], "fail");
    assert!(json["violations"][0].as_str().unwrap().contains("lost update"));
    let _ = std::fs::remove_dir_all(dir);
}
