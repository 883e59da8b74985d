//! `dosim bench` as a user drives it: the JSON has every figure, each positive; the tables
//! print; a workerd figure read from `bench/workerd/run.sh --json` output turns into ratios.
//! Timings are never asserted: only that they were measured.

use serde_json::Value;
use std::process::{Command, Output};

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).env_remove("DOSIM_WORKERD_RPS").output().expect("run dosim")
}

fn positive(v: &Value, path: &str) {
    let x = v.pointer(path).and_then(Value::as_f64).unwrap_or_else(|| panic!("missing {path} in {v}"));
    assert!(x > 0.0 && x.is_finite(), "{path} = {x}, expected a positive number");
}

/// A figure: median, min and max, all positive and in order.
fn figure(v: &Value, path: &str) {
    for part in ["median", "min", "max"] {
        positive(v, &format!("{path}/{part}"));
    }
    let f = |p: &str| v.pointer(&format!("{path}/{p}")).and_then(Value::as_f64).unwrap();
    assert!(f("min") <= f("median") && f("median") <= f("max"), "{path}: min <= median <= max");
}

#[test]
fn quick_json_has_every_figure() {
    let workerd = std::env::temp_dir().join(format!("dosim-bench-workerd-{}.out", std::process::id()));
    // The shape of bench/workerd/run.sh --json: tables, then one JSON line.
    std::fs::write(
        &workerd,
        "result (requests/s, median of repetitions, [min .. max]):\n\
         {\"clients\":4,\"results\":[{\"variant\":\"single\",\"median\":2000,\"min\":1900,\"max\":2100},\
         {\"variant\":\"spread\",\"median\":1800,\"min\":1700,\"max\":1900}]}\n",
    )
    .unwrap();
    let o = dosim(&["bench", "--quick", "--json", "--workerd-json", workerd.to_str().unwrap()]);
    let _ = std::fs::remove_file(&workerd);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let v: Value = serde_json::from_str(text.lines().last().expect("no output")).expect("not JSON");

    positive(&v, "/machine/cores");
    positive(&v, "/seeds");
    positive(&v, "/reps");
    let scenarios = v["scenarios"].as_array().expect("scenarios");
    for name in ["counter", "safe-counter", "safe-counter-kv"] {
        let i = scenarios.iter().position(|s| s["scenario"] == name && s["trace"] == true).expect(name);
        for f in ["runs_per_s", "requests_per_s", "storage_ops_per_s", "sim_ms_per_wall_s", "us_per_run"] {
            figure(&v, &format!("/scenarios/{i}/{f}"));
        }
        for f in ["requests_per_run", "storage_ops_per_run", "sim_ms_per_run"] {
            positive(&v, &format!("/scenarios/{i}/{f}"));
        }
        assert_eq!(v.pointer(&format!("/scenarios/{i}/failing_runs")), Some(&Value::from(0)), "{name} must pass");
    }

    let sizes = v.pointer("/fixed_cost/sizes").and_then(Value::as_array).expect("sizes");
    assert!(sizes.len() >= 2, "a fit needs at least two sizes");
    for i in 0..sizes.len() {
        figure(&v, &format!("/fixed_cost/sizes/{i}/us_per_run"));
        figure(&v, &format!("/fixed_cost/sizes/{i}/us_per_call"));
    }
    // The fitted intercept is a difference of noisy timings: only its presence is checked.
    for fit in ["fixed_us", "plain_fixed_us"] {
        assert!(v.pointer(&format!("/fixed_cost/{fit}/median")).and_then(Value::as_f64).is_some(), "{fit}");
    }
    figure(&v, "/fixed_cost/per_call_us");
    figure(&v, "/fixed_cost/plain_per_call_us");
    for p in ["thread_us", "thread_runtime_us", "sqlite_open_us", "workload_generation_us", "empty_run_us"] {
        figure(&v, &format!("/fixed_cost/pieces/{p}"));
    }

    let rows = v.pointer("/baselines/rows").and_then(Value::as_array).expect("baseline rows");
    assert!(rows[0]["what"].as_str().unwrap().starts_with("direct"), "the direct baseline comes first");
    for i in 0..rows.len() {
        figure(&v, &format!("/baselines/rows/{i}/requests_per_s"));
        positive(&v, &format!("/baselines/rows/{i}/overhead_vs_direct"));
        positive(&v, &format!("/baselines/rows/{i}/vs_workerd"));
    }
    assert_eq!(v.pointer("/baselines/workerd_rps").and_then(Value::as_f64), Some(2000.0), "the single median");

    for t in v["timers"].as_array().expect("timers") {
        assert_eq!(t["wakes"], 3600);
        assert!(t["sim_ms"].as_u64().unwrap() >= 3_600_000, "an hour was simulated: {t}");
        assert_eq!(t["violations"], Value::Array(vec![]), "{t}");
        assert!(t["wall_ms"]["median"].as_f64().unwrap() > 0.0);
    }
    assert!(v["alarm_hour"]["wakes"].as_u64().unwrap() > 0, "{}", v["alarm_hour"]);
    assert!(v["alarm_hour"]["violations"].as_array().unwrap().is_empty(), "{}", v["alarm_hour"]);
    positive(&v, "/peak_rss_kib");
}

#[test]
fn tables_print_every_section() {
    let o = dosim(&["bench", "--quick", "--seeds", "2", "--reps", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for heading in
        ["Exploration speed", "Per run", "Fixed cost", "least squares", "directly, in dosim", "timer", "Targets"]
    {
        assert!(out.contains(heading), "no {heading:?} in:\n{out}");
    }
    assert!(out.contains("workerd: not given"), "no workerd figure was given:\n{out}");
}

#[test]
fn bad_bench_options_are_usage_errors() {
    for args in [
        &["bench", "--workerd-rps", "0"][..],
        &["bench", "--workerd-json", "no/such/file.json"],
        &["bench", "--reps", "0"],
    ] {
        let o = dosim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&o.stdout));
        assert!(String::from_utf8_lossy(&o.stderr).contains("error"), "{args:?}");
    }
}
