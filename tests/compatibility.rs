//! Compatibility date and flags (SEMANTICS.md §0): what the command line accepts and
//! refuses, that a behaviour follows the flag as well as the date, and that a regression
//! file carries the date and flags it was found at (and an older file without them loads).

use dosim::scenarios::regression::Regression;
use dosim::scenarios::{self, check, Scenario, Verdict};
use dosim::sim::{Compatibility, SimConfig};
use std::path::Path;
use std::process::{Command, Output};

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

#[test]
fn bad_dates_and_flags_are_exit_2_with_a_message() {
    let cases: [(&[&str], &str); 5] = [
        (&["--compatibility-date", "2026-02-30"], "is not a date of the form YYYY-MM-DD"),
        (&["--compatibility-date", "2027-01-01"], "is later than 2026-11-17"),
        (&["--compatibility-flags", "Not A Flag"], "is not a flag name"),
        (&["--compatibility-flags", "delete_all_deletes_alarm,delete_all_preserves_alarm"], "contradict"),
        (&["--compatibility-date", "yesterday"], "is not a date"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["run", "counter", "--seed", "0"];
        args.extend_from_slice(extra);
        let o = dosim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let o = dosim(&["conformance", "--compatibility-date", "2026-13-01"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a date"));
}

#[test]
fn a_good_date_runs_and_the_replay_command_repeats_it() {
    let at = Compatibility::new("2025-06-01", &["delete_all_deletes_alarm".into()]).expect("a date");
    let seed = first_failing_racy_seed(&at).to_string();
    let o = dosim(&[
        "run",
        "racy-counter",
        "--seed",
        &seed,
        "--compatibility-date",
        "2025-06-01",
        "--compatibility-flags",
        "delete_all_deletes_alarm",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "racy-counter fails on seed {seed}: {out}");
    assert!(
        out.contains("--compatibility-date 2025-06-01 --compatibility-flags delete_all_deletes_alarm"),
        "the replay command names the date and flags: {out}"
    );
}

#[test]
fn delete_all_follows_the_flag_as_well_as_the_date() {
    let s: &'static dyn Scenario = &scenarios::cleanup::CLEANUP_DELETE_ALL_ONLY;
    let preserving = |seed| {
        SimConfig::new(seed)
            .compatibility(Compatibility::new("2026-11-17", &["delete_all_preserves_alarm".into()]).expect("a flag"))
    };
    let caught = (0..200).find(|&seed| check(s, preserving(seed)).verdict() == Verdict::Fail);
    assert!(caught.is_some(), "with delete_all_preserves_alarm the surviving alarm is caught");
    let deleting = |seed| {
        SimConfig::new(seed)
            .compatibility(Compatibility::new("2024-01-01", &["delete_all_deletes_alarm".into()]).expect("a flag"))
    };
    for seed in 0..100 {
        let o = check(s, deleting(seed));
        assert_eq!(o.verdict(), Verdict::Pass, "seed {seed}: {:?}", o.violations);
    }
}

#[test]
fn regression_files_carry_the_compatibility_and_old_files_load() {
    let s = scenarios::find("racy-counter").expect("racy-counter");
    let at = Compatibility::new("2026-01-05", &["delete_all_deletes_alarm".into()]).expect("a date");
    let config = SimConfig::new(first_failing_racy_seed(&at)).compatibility(at.clone());
    let o = check(s, config);
    assert_eq!(o.verdict(), Verdict::Fail);
    let r = Regression::from_outcome(&o).expect("a failure");
    assert_eq!(r.config().compatibility, at);
    let text = serde_json::to_string(&r).expect("JSON");
    assert!(text.contains("\"compatibility\":{\"date\":\"2026-01-05\""), "{text}");
    let back = Regression::parse_untrusted(&text, "f.json", Path::new("."), false).expect("parses");
    assert_eq!(back.compatibility, at);
    assert_eq!(back.replay().expect("replays").violations, o.violations);

    // A file from before files carried it ran at the default date.
    let mut old: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    old.as_object_mut().expect("object").remove("compatibility");
    let old = Regression::parse_untrusted(&old.to_string(), "old.json", Path::new("."), false).expect("old file");
    assert_eq!(old.compatibility, Compatibility::default());
    assert_eq!(old.compatibility.date, "2026-11-17");

    // A malformed date is refused without quoting the file.
    let bad = text.replace("2026-01-05", "20260105-SECRET");
    let e = Regression::parse_untrusted(&bad, "bad.json", Path::new("."), false).expect_err("refused").to_string();
    assert!(e.contains("compatibility date or flags are malformed") && !e.contains("SECRET"), "{e}");
}

/// The first seed on which racy-counter's lost update is caught at `at` (which seeds catch
/// it depends on the fault plan's draws, not on the date).
fn first_failing_racy_seed(at: &Compatibility) -> u64 {
    let s = scenarios::find("racy-counter").expect("racy-counter");
    (0..100)
        .find(|&seed| check(s, SimConfig::new(seed).compatibility(at.clone())).verdict() == Verdict::Fail)
        .expect("racy-counter fails within 100 seeds")
}
