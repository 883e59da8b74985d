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
    let summary = json(&o);
    // Three seconds give each scenario a seed or two: a known defect may go unfound in them
    // (one seed in four runs its clients sparsely, where races do not happen), so exit 1 is
    // fine as long as nothing expected to pass failed.
    for c in summary["scenarios"].as_array().unwrap() {
        assert!(!(c["expect"] == "pass" && c["failures"].as_u64().unwrap() > 0), "{c}: {}", stdout(&o));
    }
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stdout(&o));
    assert!(stderr(&o).contains("progress:"), "{}", stderr(&o));
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

#[test]
fn odd_inputs_are_exit_2_and_one_line() {
    let cases: [(&[&str], &str); 12] = [
        (&["fuzz", "--seeds", "0"], "--seeds must be at least 1"),
        (&["fuzz", "--time", "0s"], "must be more than 0"),
        (&["fuzz", "--time", "0ms"], "must be more than 0"),
        (&["fuzz", "--time", "99999999999999999999h"], "too long"),
        (&["fuzz", "--time", "18446744073709551615s"], "too long"),
        (&["fuzz", "--time", "5124095576030432h"], "too long"),
        (&["fuzz", "--time", "721h"], "at most 30 days"),
        (&["fuzz", "--seeds", "1", "--jobs", "0"], "between 1 and 1024"),
        (&["fuzz", "--seeds", "1", "--jobs", "1025"], "between 1 and 1024"),
        (&["fuzz", "--seeds", "1", "--jobs", "18446744073709551615"], "between 1 and 1024"),
        (&["fuzz", "--seeds", "1", "--shard", "0/2"], "malformed shard"),
        (&["fuzz", "--seeds", "1", "--time", "1s"], "cannot be used together"),
    ];
    for (args, message) in cases {
        let o = dosim(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: expected {message:?} in {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(stdout(&o).is_empty(), "{args:?} printed {}", stdout(&o));
    }
    // Malformed seeds are clap's to refuse (with its usage hint after the message).
    for seed in ["x1", "-1", "18446744073709551616", ""] {
        let o = dosim(&["run", "counter", "--seed", seed]);
        assert_eq!(o.status.code(), Some(2), "--seed {seed:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "--seed {seed:?}: {}", stderr(&o));
        let o = dosim(&["fuzz", "--seeds", "1", "--base-seed", seed]);
        assert_eq!(o.status.code(), Some(2), "--base-seed {seed:?}: {}", stderr(&o));
    }
}

#[test]
fn class_naming_a_function_export_says_it_is_not_a_class() {
    let seats = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/js/seats.ts");
    let o = dosim(&["run", "calls", "--seed", "1", "--module", seats, "--class", "invariant", "--method", "book"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("\"invariant\" is not a class"), "{}", stderr(&o));
    assert!(stderr(&o).contains("its classes: Seats"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn a_regression_file_with_fault_rates_above_1000_per_mille_is_refused() {
    let dir = std::env::temp_dir().join(format!("dosim-rates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions/racy-counter-seed-1.json")).unwrap();
    let cases = [
        ("\"crash_at_await\": 0", "\"crash_at_await\": 1001", "crash_at_await is above 1000"),
        ("\"commit_failure\": 0", "\"commit_failure\": 4000000000", "commit_failure is above 1000"),
        ("\"storage_slowdown\": 1", "\"storage_slowdown\": 0", "storage_slowdown must be between"),
        ("\"think_ms\": 0", "\"think_ms\": 18446744073709551615", "think time"),
    ];
    for (from, to, message) in cases {
        assert!(good.contains(from), "{from}");
        let path = dir.join("bad.json");
        std::fs::write(&path, good.replacen(from, to, 1)).unwrap();
        let o = dosim(&["replay", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{to}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(message), "{to}: expected {message:?} in {}", stderr(&o));
        assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
    }
    // 1000 per mille is the edge, and accepted.
    let path = dir.join("edge.json");
    let edge = good.replacen("\"commit_failure\": 0", "\"commit_failure\": 1000", 1);
    std::fs::write(&path, edge).unwrap();
    let o = dosim(&["replay", path.to_str().unwrap(), "--json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(dir);
}

/// The `--json` output of a fuzz run without its wall-clock fields.
fn fuzz_json_without_wall_time(args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let o = dosim(args);
    let mut lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let summary = lines.last_mut().expect("a summary line");
    assert_eq!(summary["summary"], true, "{summary}");
    summary.as_object_mut().unwrap().remove("wall_s");
    // The wall time until each scenario's first failure varies too (its run count does not).
    for c in summary["scenarios"].as_array_mut().into_iter().flatten() {
        c.as_object_mut().unwrap().remove("first_failure_s");
    }
    (o.status.code(), lines)
}

#[test]
fn every_core_by_default_gives_the_same_results_as_one_job() {
    let runs = [
        vec!["fuzz", "--scenario", "racy-counter", "--seeds", "40", "--json", "--no-save"],
        vec!["fuzz", "--scenario", "racy-counter-kv-js", "--seeds", "12", "--base-seed", "100", "--json", "--no-save"],
        // Several scenarios at once: one pool of runs across them.
        vec!["fuzz", "--seeds", "3", "--json", "--no-save", "--check-determinism"],
    ];
    for args in runs {
        let (status, default) = fuzz_json_without_wall_time(&args);
        let mut one = args.clone();
        one.extend(["--jobs", "1"]);
        let (status_one, single) = fuzz_json_without_wall_time(&one);
        let mut four = args.clone();
        four.extend(["--jobs", "4"]);
        let (status_four, several) = fuzz_json_without_wall_time(&four);
        assert_eq!(status, status_one, "{args:?}");
        assert_eq!(status, status_four, "{args:?}");
        assert!(default.len() > 1 || args.contains(&"--check-determinism"), "{args:?}: no failing run to compare");
        assert_eq!(default, single, "{args:?}: the default and --jobs 1 differ");
        assert_eq!(default, several, "{args:?}: --jobs 4 and --jobs 1 differ");
    }
}

#[test]
fn merged_shards_count_what_one_unsharded_run_counts() {
    let dir = std::env::temp_dir().join(format!("dosim-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shard = |k: &str| {
        let o = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "15", "--shard", k, "--json", "--no-save"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let path = dir.join(format!("shard-{}.jsonl", k.replace('/', "-of-")));
        std::fs::write(&path, &o.stdout).unwrap();
        path
    };
    let (a, b) = (shard("1/2"), shard("2/2"));
    let whole = dosim(&["fuzz", "--scenario", "racy-counter", "--seeds", "30", "--json", "--no-save"]);
    let whole_lines: Vec<serde_json::Value> =
        stdout(&whole).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let whole_summary = whole_lines.last().unwrap();
    let merged = dosim(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    assert_eq!(merged.status.code(), Some(1), "a single scenario's failures are findings: {}", stderr(&merged));
    let lines: Vec<serde_json::Value> = stdout(&merged).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.last().unwrap();
    assert_eq!(summary["runs"], 30);
    for field in ["runs", "failures", "sometimes", "never_reached", "nondeterministic"] {
        assert_eq!(summary[field], whole_summary[field], "{field}");
    }
    assert_eq!(summary["scenarios"][0]["failures"], whole_summary["scenarios"][0]["failures"]);
    assert_eq!(summary["shard"], "1/2,2/2");
    // The union of the failing runs, replay commands and all, is the unsharded run's.
    let failing = |lines: &[serde_json::Value]| -> std::collections::BTreeSet<(u64, String)> {
        lines[..lines.len() - 1]
            .iter()
            .map(|l| (l["seed"].as_u64().unwrap(), l["replay"].as_str().unwrap().to_owned()))
            .collect()
    };
    assert!(failing(&whole_lines).len() > 10);
    assert_eq!(failing(&lines), failing(&whole_lines));
    // The text summary says the same.
    let text = dosim(&["merge", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(text.status.code(), Some(1));
    let failures = whole_summary["failures"].as_u64().unwrap();
    assert!(stdout(&text).contains(&format!("30 runs {failures:>6} failing")), "{}", stdout(&text));
    assert!(stdout(&text).contains("replay: dosim run racy-counter --seed"), "{}", stdout(&text));
    // One shard alone is reported with the other missing.
    let o = dosim(&["merge", a.to_str().unwrap()]);
    assert!(stdout(&o).contains("missing shards: 2/2"), "{}", stdout(&o));
    // Bad or missing files are exit 2 with a message.
    let cut = dir.join("cut.jsonl");
    let text_a = std::fs::read_to_string(&a).unwrap();
    std::fs::write(&cut, text_a.lines().next().unwrap()).unwrap();
    let garbage = dir.join("garbage.jsonl");
    std::fs::write(&garbage, "{\"summary\": true, \"runs\": \"SECRET-merge-token\"}\n").unwrap();
    let absent = dir.join("absent.jsonl");
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["merge"], "FILE"),
        (vec!["merge", absent.to_str().unwrap()], "cannot read"),
        (vec!["merge", cut.to_str().unwrap()], "has no summary line"),
        (vec!["merge", garbage.to_str().unwrap()], "is not a summary"),
        (vec!["merge", a.to_str().unwrap(), a.to_str().unwrap()], "given twice"),
    ];
    for (args, message) in cases {
        let o = dosim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: expected {message:?} in {}", stderr(&o));
        assert!(!stderr(&o).contains("SECRET"), "{}", stderr(&o));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn merging_the_builtins_passes_when_each_known_defect_was_found_by_some_shard() {
    let dir = std::env::temp_dir().join(format!("dosim-merge-all-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for k in ["1/3", "2/3", "3/3"] {
        let o = dosim(&["fuzz", "--seeds", "4", "--shard", k, "--json", "--no-save"]);
        let path = dir.join(format!("shard-{}.jsonl", &k[..1]));
        std::fs::write(&path, &o.stdout).unwrap();
        files.push(path);
    }
    let mut args = vec!["merge".to_owned(), "--json".to_owned()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let merged = dosim(&args);
    let whole = dosim(&["fuzz", "--seeds", "12", "--json", "--no-save"]);
    assert_eq!(merged.status.code(), whole.status.code(), "{}", stdout(&merged));
    let m = json(&merged);
    let w = json(&whole);
    assert_eq!(m["runs"], w["runs"]);
    let counts = |s: &serde_json::Value| -> Vec<(String, u64, bool)> {
        s["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (c["scenario"].as_str().unwrap().to_owned(), c["failures"].as_u64().unwrap(), c["unexpected"] == true)
            })
            .collect()
    };
    let mut sorted_m = counts(&m);
    sorted_m.sort();
    let mut sorted_w = counts(&w);
    sorted_w.sort();
    assert_eq!(sorted_m, sorted_w);
    let _ = std::fs::remove_dir_all(dir);
}
