//! Hostile objects: ordinary mistakes in object code (endless loops everywhere code runs,
//! runaway microtasks, allocation and SQL, self-recursion, endless intervals, a promise
//! that never settles, critical sections that once livelocked, an over-limit write) must
//! each end with a verdict naming the budget or checker, in bounded wall time and memory,
//! under `dosim run` and under `dosim fuzz`, where the other seeds still run.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "hostile", name].iter().collect();
    path.display().to_string()
}

/// What a finished `dosim` process left: exit code, output, wall time, peak memory.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    wall: Duration,
    peak_kib: i64,
}

/// Far below CI's 90 minutes, and below what a hang would take.
const WALL_BOUND: Duration = Duration::from_secs(60);
/// Peak resident memory of one `dosim` process.
const MEMORY_BOUND_KIB: i64 = 1024 * 1024;

/// Runs `dosim args`, measuring its own peak RSS with `wait4`.
fn dosim(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let dir = std::env::temp_dir().join(format!("dosim-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    let started = Instant::now();
    // Reaped below with `wait4`, which also gives the child's own peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start dosim");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain libc calls on a child of this process; `usage` is written by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = started.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let ran = Ran {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        wall,
        peak_kib: usage.ru_maxrss,
    };
    eprintln!(
        "dosim {}: exit {:?} in {:.2} s, peak {} MiB",
        args.join(" "),
        ran.code,
        wall.as_secs_f64(),
        ran.peak_kib / 1024
    );
    ran
}

impl Ran {
    /// The run ended with exit `code`, in bounded time and memory.
    fn ended(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.wall < WALL_BOUND, "took {:?}", self.wall);
        assert!(self.peak_kib < MEMORY_BOUND_KIB, "peak RSS {} KiB", self.peak_kib);
        self
    }

    /// A violation of `checker` whose message contains `text` was reported.
    fn found(&self, checker: &str, text: &str) -> &Self {
        let needle = format!("[{checker}]");
        assert!(
            self.stdout.lines().any(|l| l.contains(&needle) && l.contains(text)),
            "no [{checker}] ... {text:?} in:\n{}",
            self.stdout
        );
        self
    }
}

fn run(module: &str, class: &str, method: &str, extra: &[&str]) -> Ran {
    let module = fixture(module);
    let mut args = vec!["run", "calls", "--seed", "3", "--module", &module, "--class", class, "--method", method];
    args.extend(extra);
    dosim(&args, &[])
}

fn fuzz(module: &str, class: &str, method: &str, seeds: &str, extra: &[&str]) -> Ran {
    let module = fixture(module);
    let mut args =
        vec!["fuzz", "--seeds", seeds, "--no-save", "--module", &module, "--class", class, "--method", method];
    args.extend(extra);
    dosim(&args, &[])
}

/// The fuzz summary came out and counted every seed.
fn summarised(r: &Ran, seeds: u64) {
    let line =
        r.stdout.lines().find(|l| l.contains(" runs in ")).unwrap_or_else(|| panic!("no summary:\n{}", r.stdout));
    assert!(line.starts_with(&format!("{seeds} runs")), "not every seed ran: {line}");
}

#[test]
fn an_endless_loop_in_a_method_is_stopped_and_named() {
    run("runaway.ts", "Runaway", "spin(13)", &[]).ended(1).found("budget", "call spin ran more than");
}

#[test]
fn an_endless_loop_on_some_seeds_is_found_and_the_other_seeds_still_run() {
    let r = fuzz("runaway.ts", "Runaway", "spin(int 10..40)", "12", &[]);
    r.ended(1).found("budget", "js-turn-steps");
    summarised(&r, 12);
    let failing: u64 =
        r.stdout.lines().find_map(|l| l.split(" runs ").nth(1)?.split_whitespace().next()?.parse().ok()).unwrap();
    assert!(failing > 0 && failing < 12, "some seeds call spin(13) and some do not: {failing} of 12 failed");
}

#[test]
fn an_endless_loop_in_a_constructor_top_level_code_or_alarm_is_stopped() {
    run("runaway.ts", "LoopingConstructor", "ping", &[]).ended(1).found("budget", "top-level code or constructor");
    run("toplevel.ts", "TopLevel", "ping", &[]).ended(1).found("budget", "top-level code or constructor");
    run("runaway.ts", "Runaway", "armAlarm", &[]).ended(1).found("budget", "alarm ran more than");
    fuzz("toplevel.ts", "TopLevel", "ping", "3", &[]).ended(1).found("budget", "js-turn-steps");
}

#[test]
fn an_endless_invariant_hook_is_stopped() {
    run("looping-hook.ts", "Plain", "ping", &[]).ended(1).found("budget", "the invariant hook went over budget");
    let r = fuzz("looping-hook.ts", "Plain", "ping", "3", &[]);
    r.ended(1);
    summarised(&r, 3);
}

#[test]
fn an_endless_microtask_chain_is_stopped() {
    // Each link of the chain holds the next: memory runs out before the steps do.
    let r = run("runaway.ts", "Runaway", "microtasks", &["--limit", "js-memory=16MiB"]);
    r.ended(1).found("budget", "call microtasks");
}

#[test]
fn runaway_allocation_and_a_huge_value_reset_the_object() {
    run("runaway.ts", "Runaway", "allocate", &[]).ended(1).found("budget", "bytes of JavaScript memory");
    run("runaway.ts", "Runaway", "huge", &["--faults", "off"]).ended(1).found("budget", "call huge");
    let r = fuzz("runaway.ts", "Runaway", "allocate", "2", &["--limit", "js-memory=16MiB"]);
    r.ended(1).found("budget", "js-memory");
    summarised(&r, 2);
}

#[test]
fn a_reply_over_the_size_limit_fails_the_call_and_is_reported() {
    let r = run("runaway.ts", "Runaway", "reply(2)", &["--faults", "off", "--limit", "reply-bytes=1MiB", "--trace"]);
    r.ended(1).found("budget", "budget reply-bytes");
    assert!(r.stdout.contains("RangeError"), "the caller gets a RangeError:\n{}", r.stdout);
}

#[test]
fn endless_intervals_stop_at_the_run_turn_budget() {
    for method in ["interval0", "interval1"] {
        let r = run("runaway.ts", "Runaway", method, &["--limit", "run-turns=20000"]);
        r.ended(1).found("budget", "budget run-turns");
    }
    let r = fuzz("runaway.ts", "Runaway", "interval1", "2", &["--limit", "run-turns=20000"]);
    r.ended(1);
    summarised(&r, 2);
}

#[test]
fn a_promise_that_never_settles_is_a_liveness_finding() {
    run("runaway.ts", "Runaway", "never", &[]).ended(1).found("liveness", "");
}

#[test]
fn an_object_calling_itself_stops_at_the_call_depth_limit() {
    let r = run("runaway.ts", "CallsItself", "ping(int)", &["--bind", "SELF=CallsItself", "--trace"]);
    r.ended(1).found("budget", "over the limit of 16 (budget call-depth)");
    assert!(r.stdout.contains("Subrequest depth limit exceeded"), "the caller sees production's error");
    let r = fuzz("runaway.ts", "CallsItself", "ping(int)", "3", &["--bind", "SELF=CallsItself"]);
    r.ended(1);
    summarised(&r, 3);
}

#[test]
fn a_runaway_sql_statement_is_interrupted() {
    let r = run("runaway.ts", "Runaway", "runawaySql", &["--limit", "sql-steps=2000000"]);
    r.ended(1).found("budget", "budget sql-steps");
}

#[test]
fn many_callers_entering_critical_sections_at_once_all_finish() {
    for target in ["Guarded", "GuardedConstructor"] {
        for n in [4, 8, 50] {
            for method in ["section", "transaction"] {
                if target == "GuardedConstructor" && method == "transaction" {
                    continue;
                }
                let spec = format!("fan({n}, \"{method}\")");
                let bind = format!("TARGET={target}");
                let r = run("runaway.ts", "Fan", &spec, &["--bind", &bind, "--faults", "off"]);
                r.ended(0);
                assert!(r.stdout.contains("fail 0, info 0, pending 0"), "every call answered:\n{}", r.stdout);
            }
        }
    }
}

#[test]
fn a_refused_oversized_write_leaves_storage_working_on_both_backends() {
    for backend in ["sqlite", "kv"] {
        let r = run("runaway.ts", "Runaway", "oversized", &["--backend", backend, "--faults", "off"]);
        r.ended(0);
        assert!(r.stdout.contains("fail 0, info 0, pending 0"), "{backend}:\n{}", r.stdout);
    }
}

#[test]
fn the_watchdog_ends_a_run_no_budget_stops() {
    // Budgets raised out of reach: only the wall clock can end this run.
    let limits = ["--limit", "js-turn-steps=1e15", "--limit", "js-run-steps=1e15", "--limit", "watchdog=2"];
    let r = run("runaway.ts", "Runaway", "spin(13)", &limits);
    r.ended(1).found("harness", "watchdog");
}

#[test]
fn objects_see_utc_and_the_hook_clock_is_frozen_whatever_the_host_zone() {
    let module = fixture("hooks.ts");
    let args = ["run", "calls", "--seed", "5", "--module", &module, "--class", "Plain", "--method", "ping", "--trace"];
    let hash = |r: &Ran| r.stdout.lines().find_map(|l| l.split("trace_hash ").nth(1).map(str::to_owned));
    let utc = dosim(&args, &[("TZ", "UTC")]);
    let elsewhere = dosim(&args, &[("TZ", "America/New_York")]);
    utc.ended(0);
    elsewhere.ended(0);
    assert!(hash(&utc).is_some());
    assert_eq!(hash(&utc), hash(&elsewhere), "the host's time zone reached the run");
    assert!(utc.stdout.contains("GMT+0000 (Coordinated Universal Time)"), "{}", utc.stdout);
    let counts: Vec<String> = (0..3)
        .map(|_| {
            let r = fuzz("hooks.ts", "Plain", "ping", "40", &[]);
            r.stdout.lines().find(|l| l.contains(" failing")).unwrap_or_default().to_owned()
        })
        .collect();
    assert!(counts.iter().all(|c| c == &counts[0]), "fuzz counts differ: {counts:?}");
    assert!(counts[0].contains(" 0 failing"), "a frozen clock never moves: {}", counts[0]);
}
