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
    let saves = std::env::temp_dir().join(format!("dosim-round-trip-{}", std::process::id()));
    let fuzz = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "200", "--save", saves.to_str().unwrap()]);
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
    // The failure was also shrunk and saved; that file replays to the same invariant.
    let saved = out.lines().find_map(|l| l.strip_prefix("saved: ")).expect("no saved file");
    let file = saved.split_whitespace().next().unwrap();
    let r = dosim(&["replay", file, "--json"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(json(&r)["violations"][0].as_str().unwrap().starts_with("[counter]"));
    let _ = std::fs::remove_dir_all(saves);
}

#[test]
fn fuzz_json_lines_and_summary() {
    let o = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "10", "--json", "--no-save"]);
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
    // The JS scenario also compiles its module (oxc, QuickJS) during its first run.
    for name in ["racy-counter", "racy-counter-kv-js"] {
        let s = scenarios::find(name).unwrap();
        let _warm = check(s, SimConfig::new(0));
        let later = check(s, SimConfig::new(1)).report.trace_hash;
        let first = json(&dosim(&["run", name, "--seed", "1", "--json"]));
        assert_eq!(first["trace_hash"], later.as_str(), "{name}");
    }
}

#[test]
fn chrome_trace_is_valid_trace_event_json() {
    let path = std::env::temp_dir().join(format!("dosim-chrome-{}.json", std::process::id()));
    let o = dosim(&["replay", "racy-counter", "--seed", "3", "--trace", "--trace-format", "chrome", "--trace-out"]);
    assert_eq!(o.status.code(), Some(2), "--trace-out needs a value");
    let o = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["replay", "racy-counter", "--seed", "3", "--trace", "--trace-format", "chrome", "--trace-out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "{}", stderr(&o));
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().expect("traceEvents array");
    assert!(events.len() > 10);
    let mut open = std::collections::BTreeMap::new();
    for e in events {
        let ph = e["ph"].as_str().expect("every event has a phase");
        assert!(e["pid"].is_u64(), "{e}");
        if ph != "M" {
            assert!(e["ts"].is_u64(), "{e}");
        }
        match ph {
            "b" => *open.entry(e["id"].to_string()).or_insert(0) += 1,
            "e" => *open.entry(e["id"].to_string()).or_insert(0) -= 1,
            "X" => assert!(e["dur"].is_u64()),
            "i" | "M" => {}
            other => panic!("unexpected phase {other}"),
        }
    }
    assert!(open.values().all(|n| *n == 0), "unbalanced async slices");
    assert!(events.iter().any(|e| e["cat"] == "commit") && events.iter().any(|e| e["cat"] == "request"));
    let _ = std::fs::remove_file(path);
}

#[test]
fn shards_split_the_seed_space() {
    let seeds = |shard: &str| -> std::collections::BTreeSet<u64> {
        let o =
            dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "20", "--shard", shard, "--json", "--no-save"]);
        stdout(&o)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|j| j["seed"].as_u64())
            .collect()
    };
    let (a, b) = (seeds("1/2"), seeds("2/2"));
    assert!(!a.is_empty() && !b.is_empty());
    assert!(a.is_disjoint(&b), "{a:?} / {b:?}");
    assert!(a.iter().all(|s| s % 2 == 0) && b.iter().all(|s| s % 2 == 1));
}

#[test]
fn timed_fuzz_shows_progress_summary_and_sometimes_table() {
    let o = dosim(&["fuzz", "--time", "3s", "--jobs", "2", "--json", "--no-save"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stderr(&o).contains("progress:"), "{}", stderr(&o));
    let summary = json(&o);
    assert!(summary["runs"].as_u64().unwrap() > 10);
    assert!(summary["sometimes"]["reply held by the output gate"].as_u64().unwrap() > 0);
    assert!(summary["never_reached"].is_array());
}

#[test]
fn bad_regression_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("dosim-bad-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions/racy-counter-seed-1.json")).unwrap();
    let cases = [
        ("corrupt.json", "{ this is not json".to_owned(), "is not a dosim regression file"),
        ("truncated.json", good[..good.len() / 2].to_owned(), "is not a dosim regression file"),
        ("unknown.json", good.replace("\"racy-counter\"", "\"no-such-scenario\""), "unknown scenario"),
        (
            "wrong-requests.json",
            good.replace("\"increment\"", "\"get_unique_number\""),
            "does not fit scenario racy-counter",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let o = dosim(&["replay", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{name}: expected {message:?} in {}", stderr(&o));
    }
    let good_path = dir.join("good.json");
    std::fs::write(&good_path, &good).unwrap();
    let o = dosim(&["replay", good_path.to_str().unwrap(), "--scenario", "counter"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("belongs to scenario \"racy-counter\""), "{}", stderr(&o));
    let o = dosim(&["replay", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    let o = dosim(&["fuzz", "--seeds", "1", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("malformed shard"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(dir);
}
