//! Run hosts (`dosim_sim::run::spawn_host`): `dosim fuzz`'s workers run their runs on
//! themselves instead of a fresh thread each. A hosted run must be the run a fresh thread
//! makes of the same seed: every built-in scenario, hosted and fresh, same trace.

use dosim::scenarios::{self, check};
use dosim::sim::run::{on_fresh_threads, on_host};
use dosim::sim::SimConfig;

/// Seeds per scenario: a few, each run twice (the debug build runs 40-odd scenarios).
const SEEDS: u64 = 3;

#[test]
fn every_built_in_scenario_runs_the_same_hosted_and_on_fresh_threads() {
    let mut compared = 0;
    let mut differing = Vec::new();
    on_host(|| {
        for s in scenarios::all() {
            for seed in 0..SEEDS {
                let hosted = check(*s, SimConfig::new(seed));
                let fresh = on_fresh_threads(|| check(*s, SimConfig::new(seed)));
                compared += 1;
                if hosted.report.trace_hash != fresh.report.trace_hash || hosted.violations != fresh.violations {
                    differing.push(format!("{} seed {seed}", s.name()));
                }
            }
        }
    });
    assert!(differing.is_empty(), "hosted runs differ from fresh-thread runs: {differing:?}");
    assert_eq!(compared, scenarios::all().len() as u64 * SEEDS);
}

#[test]
fn a_host_runs_on_its_own_thread_and_fresh_threads_do_not() {
    // The run's thread is the one that opened the object's database; its name and id are
    // observable from the workload. A hosted run executes where `on_host` put it.
    let here = |fresh: bool| {
        on_host(|| {
            let me = std::thread::current().id();
            let ran_on = std::sync::Arc::new(std::sync::Mutex::new(None));
            let seen = ran_on.clone();
            let go = move || {
                let seen = seen.clone();
                dosim::sim::run::run_repeatable(SimConfig::new(1), move |_world| {
                    *seen.lock().unwrap() = Some(std::thread::current().id());
                    async {}
                })
            };
            let report = if fresh { on_fresh_threads(go) } else { go() };
            assert!(report.violations.is_empty(), "{:?}", report.violations);
            let ran = ran_on.lock().unwrap().expect("the workload ran");
            ran == me
        })
    };
    assert!(here(false), "a hosted run executes on the host");
    assert!(!here(true), "on_fresh_threads gives the run a thread of its own");
}

#[test]
fn a_hosted_run_past_the_watchdog_is_stopped_and_says_so() {
    // A JavaScript loop that never ends, on a host with a one-second watchdog and budgets
    // too large to stop it first: the shared watchdog raises the run's flag and the
    // engine stops at it.
    let dir = std::env::temp_dir().join(format!("dosim-run-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let module = dir.join("spin.js");
    std::fs::write(
        &module,
        "import { DurableObject } from 'cloudflare:workers';\n\
         export class Spin extends DurableObject { async spin() { for (;;) {} } }\n",
    )
    .expect("write module");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["fuzz", "--module"])
        .arg(&module)
        .args(["--class", "Spin", "--method", "spin", "--seeds", "1", "--jobs", "1", "--no-save", "--json"])
        .args([
            "--limit",
            "watchdog=1",
            "--limit",
            "js-turn-steps=100000000000",
            "--limit",
            "js-run-steps=100000000000",
        ])
        .output()
        .expect("run dosim");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("[harness]") && stdout.contains("of wall-clock time (watchdog"),
        "expected a watchdog finding; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
