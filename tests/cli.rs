//! The `dosim` command as a user drives it: exit codes, JSON fields, messages for bad
//! input, and the replay round-trip (run a failing case, parse what it printed, replay
//! it, get the identical failure and trace hash).

use std::process::{Command, Output};

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).lines().last().expect("no output")).expect("not JSON")
}

#[test]
fn list_names_every_scenario() {
    let o = dosim(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    for name in ["counter", "safe-counter", "racy-counter"] {
        assert!(stdout(&o).lines().any(|l| l.starts_with(name)), "{name} missing from:\n{}", stdout(&o));
    }
}

#[test]
fn run_json_is_stable_and_complete() {
    let a = dosim(&["run", "counter", "--seed", "7", "--json"]);
    let b = dosim(&["run", "counter", "--seed", "7", "--json"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    let (ja, jb) = (json(&a), json(&b));
    for field in ["scenario", "seed", "verdict", "trace_hash", "violations", "sim_time_ms", "wall_ms"] {
        assert!(ja.get(field).is_some(), "missing {field}: {ja}");
    }
    assert_eq!(ja["verdict"], "pass");
    assert_eq!(ja["seed"], 7);
    assert_eq!(ja["trace_hash"], jb["trace_hash"]);
    assert_eq!(ja["trace_hash"].as_str().unwrap().len(), 16);
}

#[test]
fn replay_round_trip() {
    let fuzz = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "200"]);
    assert_eq!(fuzz.status.code(), Some(1), "fuzz must report the lost update:\n{}", stdout(&fuzz));
    let out = stdout(&fuzz);
    let replay = out.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("no replay command printed");
    let first = out.lines().find_map(|l| l.trim().strip_prefix("first failure: ")).expect("no failure printed");
    let mut words = replay.split_whitespace();
    assert_eq!(words.next(), Some("dosim"));
    let mut args: Vec<&str> = words.collect();
    // Replay twice, as JSON, and compare with what fuzz printed.
    args.retain(|a| *a != "--trace");
    args.push("--json");
    let (r1, r2) = (dosim(&args), dosim(&args));
    assert_eq!(r1.status.code(), Some(1));
    let (j1, j2) = (json(&r1), json(&r2));
    assert_eq!(j1["verdict"], "fail");
    assert_eq!(j1["trace_hash"], j2["trace_hash"]);
    let seed = j1["seed"].as_u64().unwrap();
    let violation = first.strip_prefix(&format!("seed {seed}: ")).expect("first failure names the replayed seed");
    assert_eq!(j1["violations"][0], violation);
    // The human replay shows the trace that explains it.
    args.retain(|a| *a != "--json");
    args.push("--trace");
    let t = dosim(&args);
    assert!(stdout(&t).contains("invoke #0"), "{}", stdout(&t));
}

#[test]
fn fuzz_json_lines_and_summary() {
    let o = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "10", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["runs"], 10);
    let failing = &lines[..lines.len() - 1];
    assert_eq!(summary["failures"], failing.len());
    assert!(failing
        .iter()
        .all(|l| l["verdict"] == "fail" && l["replay"].as_str().unwrap().starts_with("dosim run racy-counter --seed")));
}

#[test]
fn fuzz_over_all_builtins_passes_when_only_known_defects_fail() {
    let o = dosim(&["fuzz", "--seeds", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("known defect found"), "{}", stdout(&o));
}

#[test]
fn bad_input_is_a_clear_message_and_exit_2() {
    let cases: [(&[&str], &str); 6] = [
        (&["run", "no-such", "--seed", "1"], "unknown scenario \"no-such\""),
        (&["run", "counter", "--seed", "x1"], "invalid value 'x1'"),
        (&["run", "counter"], "--seed"),
        (&["fuzz", "--time", "ten"], "malformed duration"),
        (&["fuzz"], "--seeds N or --time DURATION"),
        (&["fuzz", "--scenario", "nope", "--seeds", "1"], "unknown scenario"),
    ];
    for (args, message) in cases {
        let o = dosim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: expected {message:?} in {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?} panicked: {}", stderr(&o));
    }
}

#[test]
fn first_run_of_a_process_matches_later_runs() {
    // Process-wide lazy state (hash seeds, SQLite's PRNG) once shifted the first run of
    // every process. `dosim run` is always a first run; here it meets a later one.
    use dosim::scenarios::{self, check};
    use dosim::sim::SimConfig;
    let s = scenarios::find("racy-counter").unwrap();
    let _warm = check(s, SimConfig::new(0));
    let later = check(s, SimConfig::new(1)).report.trace_hash;
    let first = json(&dosim(&["run", "racy-counter", "--seed", "1", "--json"]));
    assert_eq!(first["trace_hash"], later.as_str());
}
