//! `dosim::testing` as a user meets it: `#[dosim::test]` and `dosim::check` over seeds,
//! a failure's message (seed, violation, exact replay command), shrinking, the
//! regression file replayed first, determinism, and bad environment variables. Some
//! tests run this test binary again as a child, with the environment a user would set.

use dosim::models::racy_counter::RacyCounterCall;
use dosim::models::safe_counter::SafeCounterCall;
use dosim::models::{RacyCounter, SafeCounter};
use dosim::prelude::*;
use dosim::testing::Builder;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// 2–4 clients of 1–4 increments each, with 0–3 ms between calls, on one counter.
async fn hammer<O: DurableObject>(world: World, binding: &'static str, call: O::Request)
where
    O::Request: Clone,
{
    let ns = world.namespace::<O>(binding);
    let id = ns.id_from_name("c");
    let clients = world.draw(2..=4usize);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let calls = world.draw(1..=4usize);
        let (w, ns, id, call) = (world.clone(), ns.clone(), id.clone(), call.clone());
        tasks.push(world.spawn(async move {
            for _ in 0..calls {
                let think = w.draw(0..=3u64);
                w.sleep(Duration::from_millis(think)).await;
                let _ = w.client(c).call(&ns.get(&id), call.clone()).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn racy(world: World) {
    hammer::<RacyCounter>(world, "RACY", RacyCounterCall::Increment).await
}

async fn safe(world: World) {
    hammer::<SafeCounter>(world, "SAFE", SafeCounterCall::Increment).await
}

/// No value is acknowledged to two increments.
fn unique_acks(report: &RunReport) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = Vec::new();
    for op in &report.history {
        if let Some(v) = op.ok_value() {
            if let Some(first) = seen.insert(v.to_string(), op.index) {
                found.push(format!("value {v} was acknowledged to #{first} and #{}: a lost update", op.index));
            }
        }
    }
    found
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dosim-testing-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[dosim::test(seeds = 30, invariant = unique_acks)]
async fn the_safe_counter_passes_with_the_attribute(world: World) {
    safe(world).await
}

#[test]
fn the_function_form_runs_a_passing_workload() {
    dosim::check(|world| async move { safe(world).await });
}

#[test]
fn a_racy_counter_fails_with_the_seed_the_violation_and_the_exact_replay_command() {
    let dir = temp_dir("racy");
    let b = Builder::new().seeds(50).invariant(unique_acks).regressions_in(&dir);
    let msg = b.clone().try_check(racy).expect_err("read-sleep-write loses updates");
    assert!(msg.contains("failed on seed"), "{msg}");
    assert!(msg.contains("[invariant]") && msg.contains("a lost update"), "{msg}");
    // libtest names this thread after the test: the command runs exactly this test.
    let expected = "cargo test -p dosim --test testing_harness -- --exact \
                    a_racy_counter_fails_with_the_seed_the_violation_and_the_exact_replay_command";
    assert!(msg.contains(expected), "{msg}");
    assert!(msg.contains("shrunk in"), "{msg}");
    let file = b.regression_file();
    assert!(msg.contains("saved:") && file.exists(), "{msg}");
    let saved = dosim::testing::RegressionFile::load(&file).unwrap().unwrap();
    assert_eq!(saved.cases.len(), 1);
    assert_eq!(saved.cases[0].violation.checker, "invariant");

    // The saved case is replayed first, and still fails.
    let again = b.clone().try_check(racy).expect_err("the saved case fails again");
    assert!(again.contains("still fails saved case 1"), "{again}");
    // The shrunk case is smaller than the seed's own run, and replays exactly.
    let seed = saved.cases[0].case.seed;
    let original = b.run_seed(seed, racy);
    let shrunk = b.run_exactly(saved.cases[0].case.clone(), racy);
    assert!(!shrunk.passed());
    assert!(shrunk.report.history.len() <= original.report.history.len());
    assert_eq!(shrunk.report.trace_hash, b.run_exactly(saved.cases[0].case.clone(), racy).report.trace_hash);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_first_failing_seed_and_the_verdict_are_the_same_for_any_number_of_jobs() {
    let failing = Builder::new().seeds(60).invariant(unique_acks).save_regressions(false).shrink_budget(0);
    let one = failing.clone().jobs(1).try_check(racy).expect_err("read-sleep-write loses updates");
    let four = failing.jobs(4).try_check(racy).expect_err("read-sleep-write loses updates");
    assert_eq!(one, four);
    assert!(one.contains("failed on seed"), "{one}");
    let passing = Builder::new().seeds(12).invariant(unique_acks).save_regressions(false);
    let one = passing.clone().jobs(1).try_check(safe).expect("the safe counter passes");
    assert_eq!(one, passing.jobs(5).try_check(safe).expect("the safe counter passes"));
    assert!(one.contains("12 runs passed"), "{one}");
}

#[test]
fn a_seed_runs_the_same_twice() {
    let b = Builder::new().invariant(unique_acks);
    for seed in [0, 5, 17] {
        let (x, y) = (b.run_seed(seed, racy), b.run_seed(seed, racy));
        assert_eq!(x.report.trace_hash, y.report.trace_hash, "seed {seed}");
        assert_eq!(x.case, y.case);
    }
    assert_ne!(b.run_seed(0, racy).report.trace_hash, b.run_seed(1, racy).report.trace_hash);
}

#[test]
fn a_workload_that_takes_from_outside_the_simulation_is_reported_as_not_deterministic() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = temp_dir("nondet");
    let msg = Builder::new()
        .regressions_in(&dir)
        .try_check(|world: World| async move {
            // Outside state: each run sleeps a different time.
            let n = RUNS.fetch_add(1, Ordering::SeqCst);
            world.sleep(Duration::from_millis(1 + n)).await;
            world.trace("test", format!("woke after {} ms", 1 + n));
        })
        .expect_err("two runs of one seed differ");
    assert!(msg.contains("not deterministic"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_workload_error_and_an_invariant_panic_are_findings() {
    let b = Builder::new().faults(dosim::sim::FaultPolicy::Off);
    let r = b.run_seed(0, |_world| async move { Err::<(), _>("the workload gave up") });
    assert_eq!(r.violations[0].checker, "workload");
    assert_eq!(r.violations[0].message, "the workload gave up");
    let b = b.invariant(|report: &RunReport| assert!(report.history.is_empty(), "expected no calls"));
    let r = b.run_seed(0, safe);
    assert_eq!(r.violations[0].checker, "invariant");
    assert!(r.violations[0].message.contains("expected no calls"), "{:?}", r.violations);
}

/// Runs `test` of this binary as a child with `env`; returns (success, stdout + stderr).
fn child(test: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    for var in ["DOSIM_SEED", "DOSIM_SEEDS", "DOSIM_TIME", "DOSIM_BASE_SEED", "DOSIM_SHRINK"] {
        cmd.env_remove(var);
    }
    cmd.env("DOSIM_CHILD", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the test binary runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Only does something in a child: a racy counter with the function form, its file
/// under a folder the parent names.
#[test]
fn child_racy_counter() {
    let Ok(dir) = std::env::var("DOSIM_CHILD_DIR") else { return };
    Builder::new().invariant(unique_acks).regressions_in(dir).check(racy);
}

#[test]
fn bad_environment_values_get_a_clear_message() {
    let (ok, out) = child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_SEEDS", "lots")]);
    assert!(!ok);
    assert!(out.contains("DOSIM_SEEDS=\"lots\" is not a whole number: expected a number of seeds"), "{out}");
    let (ok, out) = child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_TIME", "5 parsecs")]);
    assert!(!ok);
    assert!(out.contains("DOSIM_TIME=\"5 parsecs\": malformed duration"), "{out}");
    let (ok, out) = child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_SEEDS", "3"), ("DOSIM_TIME", "1s")]);
    assert!(!ok);
    assert!(out.contains("DOSIM_SEEDS and DOSIM_TIME are both set"), "{out}");
}

#[test]
fn dosim_seeds_and_dosim_time_set_how_much_runs() {
    let (ok, out) = child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_SEEDS", "7")]);
    assert!(ok && out.contains("dosim: 7 runs passed (seeds 0..7)"), "{out}");
    let (ok, out) =
        child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_SEEDS", "3"), ("DOSIM_BASE_SEED", "1000")]);
    assert!(ok && out.contains("dosim: 3 runs passed (seeds 1000..1003)"), "{out}");
    // A time budget runs seeds until it is spent: at least one, however slow the machine.
    let (ok, out) = child("the_safe_counter_passes_with_the_attribute", &[("DOSIM_TIME", "300ms")]);
    assert!(ok && out.contains(" runs passed (seeds 0.."), "{out}");
}

#[test]
fn dosim_seed_replays_one_seed_and_prints_its_trace() {
    let dir = temp_dir("child");
    let dir_text = dir.display().to_string();
    let (ok, out) = child("child_racy_counter", &[("DOSIM_CHILD_DIR", &dir_text), ("DOSIM_SHRINK", "0")]);
    assert!(!ok, "{out}");
    let seed: u64 = out
        .split("failed on seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no seed in {out}"));
    let (ok, trace) = child("child_racy_counter", &[("DOSIM_CHILD_DIR", &dir_text), ("DOSIM_SEED", &seed.to_string())]);
    assert!(!ok);
    assert!(trace.contains(&format!("seed {seed}: FAIL: [invariant]")), "{trace}");
    assert!(trace.contains("invoke #0"), "the trace is printed: {trace}");
    assert!(trace.contains(&format!("replay: DOSIM_SEED={seed} cargo test -p dosim --test testing_harness")));
    let _ = std::fs::remove_dir_all(&dir);
}
