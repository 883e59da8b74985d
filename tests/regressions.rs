//! Every regression file in `regressions/` replays here, forever. A file of a scenario
//! whose model is right must now pass (the bug it recorded stays fixed); a file of a
//! scenario with a known defect must still fail the invariant it recorded (the harness
//! still finds it). Replaying is deterministic: twice, the same trace.

use dosim::scenarios::regression::{files_in, Regression};
use dosim::scenarios::{Expect, Verdict};
use std::path::Path;

#[test]
fn every_regression_file_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let files = files_in(&dir);
    assert!(!files.is_empty(), "no regression files in {}", dir.display());
    for path in files {
        let r = Regression::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let first = r.replay().unwrap();
        let again = r.replay().unwrap();
        assert_eq!(first.report.trace_hash, again.report.trace_hash, "{}: not deterministic", path.display());
        match r.scenario().unwrap().expect() {
            Expect::Pass => assert_eq!(
                first.verdict(),
                Verdict::Pass,
                "{}: the recorded failure is back: {:?}",
                path.display(),
                first.violations
            ),
            Expect::Defect => assert!(
                first.violations.iter().any(|v| v.checker == r.violation.checker),
                "{}: the known defect ({}) no longer shows: {:?}",
                path.display(),
                r.violation.message,
                first.violations
            ),
        }
    }
}

#[test]
fn a_shrunk_regression_is_a_few_steps() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let r = Regression::load(&dir.join("racy-counter-seed-1.json")).unwrap();
    assert!(r.workload.calls() <= 3, "{}", r.workload.timeline());
    assert!(r.workload.crashes.is_empty());
}
