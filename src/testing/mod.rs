//! dosim in a user's own `cargo test`: [`Builder`] (and `#[dosim::test]`, and the plain
//! [`check`]) runs a workload closure over many seeds with the runtime's faults and
//! checkers plus the test's own invariant; a failure is re-run for determinism, shrunk,
//! saved next to the test crate, and reported with the command that replays it.
//!
//! What a run is made of, and so what replays and shrinks: the seed (madsim's scheduler
//! and the harness's decisions), the fault plan, the times of timed crashes, and the
//! workload's [`Draw`]s. Environment variables, read when a check starts:
//!
//! | variable          | meaning                                                         |
//! |-------------------|-----------------------------------------------------------------|
//! | `DOSIM_SEED`      | run only this seed and print its trace (no shrinking, no saving) |
//! | `DOSIM_SEEDS`     | how many seeds (default: the test's `seeds`, else 100)          |
//! | `DOSIM_TIME`      | run seeds for this long instead (`30s`, `5m`)                    |
//! | `DOSIM_BASE_SEED` | the first seed (default 0)                                      |
//! | `DOSIM_SHRINK`    | runs the shrinker may spend on a failure (default 200; 0: none) |
//! | `DOSIM_JOBS`      | seeds run at once (default: every core); the verdict is the same |

mod draw;
mod regress;
mod site;

pub use draw::{Draw, DrawRange};
pub use regress::{RegressionFile, SavedCase};
pub use site::TestSite;

use crate::scenarios::regression::Recorded;
use crate::sim::faults::Decisions;
use crate::sim::time::parse_duration;
use crate::sim::{run, FaultPlan, FaultPolicy, GatePolicy, RunReport, SimConfig, Violation, World};
use draw::Draws;
use serde::{Deserialize, Serialize};
use site::Site;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Seeds a test runs when neither the test nor the environment says: enough to find
/// the usual interleaving bug, few enough for every `cargo test`.
pub const DEFAULT_SEEDS: u64 = 100;

/// Runs the shrinker may spend on one failure by default.
pub const DEFAULT_SHRINK_BUDGET: u32 = 200;

/// Stream of the decision generator that timed crash times are drawn from.
const CRASH_STREAM: u64 = 0x7573_6572_6372;

/// Everything one run is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The seed: madsim's scheduler and the harness's decisions.
    pub seed: u64,
    /// Input gate policy.
    #[serde(default)]
    pub input_gate: GatePolicy,
    /// Output gate policy.
    #[serde(default)]
    pub output_gate: GatePolicy,
    /// Which faults are injected, and how often.
    pub faults: FaultPlan,
    /// Simulated times (ms) of timed crashes.
    pub crashes: Vec<u64>,
    /// The workload's draws; `None`: drawn fresh from the seed.
    #[serde(default)]
    pub draws: Option<Vec<u64>>,
}

/// A finished, judged run.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The case, with the draws the run made.
    pub case: Case,
    /// What the run produced.
    pub report: RunReport,
    /// The runtime's violations, then the invariant's.
    pub violations: Vec<Violation>,
}

impl Ran {
    /// Whether no checker found anything.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What an invariant may return: nothing (and `assert!` inside), `true`/`false`, one
/// message or many.
pub trait Findings {
    /// The violations, as messages.
    fn into_findings(self) -> Vec<String>;
}

impl Findings for () {
    fn into_findings(self) -> Vec<String> {
        Vec::new()
    }
}

impl Findings for bool {
    fn into_findings(self) -> Vec<String> {
        if self {
            Vec::new()
        } else {
            vec!["the invariant returned false".into()]
        }
    }
}

impl Findings for Vec<String> {
    fn into_findings(self) -> Vec<String> {
        self
    }
}

impl Findings for Option<String> {
    fn into_findings(self) -> Vec<String> {
        self.into_iter().collect()
    }
}

impl<E: std::fmt::Display> Findings for Result<(), E> {
    fn into_findings(self) -> Vec<String> {
        self.err().map(|e| e.to_string()).into_iter().collect()
    }
}

/// What a workload may return: nothing, or a `Result` whose error is a finding.
pub trait WorkloadOutput {
    /// The error, as a message.
    fn into_result(self) -> Result<(), String>;
}

impl WorkloadOutput for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Display> WorkloadOutput for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

type Body = Arc<dyn Fn(World) -> Pin<Box<dyn Future<Output = Result<(), String>>>> + Send + Sync>;
type Invariant = Arc<dyn Fn(&RunReport) -> Vec<String> + Send + Sync>;

/// How a test runs: built from defaults and the test's settings; the environment
/// variables of the [module](self) decide how many seeds, or which one.
#[derive(Clone)]
pub struct Builder {
    site: Site,
    seeds: u64,
    faults: FaultPolicy,
    input_gate: GatePolicy,
    output_gate: GatePolicy,
    chaos_window_ms: u64,
    shrink_budget: u32,
    save: bool,
    regressions: Option<std::path::PathBuf>,
    invariant: Option<Invariant>,
    jobs: Option<usize>,
}

impl Default for Builder {
    #[track_caller]
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults, for a test at the caller's location (see [`check`] for what it can and
    /// cannot learn about the test from there).
    #[track_caller]
    pub fn new() -> Builder {
        Builder::with_site(Site::from_runtime(std::panic::Location::caller().file()))
    }

    /// Defaults, for the test `#[dosim::test]` describes.
    pub fn for_test(site: TestSite) -> Builder {
        Builder::with_site(Site::from_macro(&site))
    }

    fn with_site(site: Site) -> Builder {
        Builder {
            site,
            seeds: DEFAULT_SEEDS,
            faults: FaultPolicy::Swarm,
            input_gate: GatePolicy::Enforced,
            output_gate: GatePolicy::Enforced,
            chaos_window_ms: 100,
            shrink_budget: DEFAULT_SHRINK_BUDGET,
            save: true,
            regressions: None,
            invariant: None,
            jobs: None,
        }
    }

    /// Seeds run at once (`DOSIM_JOBS` overrides; default: every core). The verdict and
    /// the failure reported are the same for any number: results are judged in seed order,
    /// and the first failing seed in that order is the one shrunk and reported.
    pub fn jobs(mut self, n: usize) -> Self {
        self.jobs = Some(n.max(1));
        self
    }

    /// Seeds to run when neither `DOSIM_SEED`, `DOSIM_SEEDS` nor `DOSIM_TIME` is set.
    pub fn seeds(mut self, n: u64) -> Self {
        self.seeds = n;
        self
    }

    /// Which faults runs inject (default: swarm, drawn per seed).
    pub fn faults(mut self, f: FaultPolicy) -> Self {
        self.faults = f;
        self
    }

    /// The input gate's policy (the tester's switch; default enforced).
    pub fn input_gate(mut self, p: GatePolicy) -> Self {
        self.input_gate = p;
        self
    }

    /// The output gate's policy (the tester's switch; default enforced).
    pub fn output_gate(mut self, p: GatePolicy) -> Self {
        self.output_gate = p;
        self
    }

    /// Timed crashes strike inside the first `ms` of simulated time (default 100).
    pub fn chaos_window(mut self, ms: u64) -> Self {
        self.chaos_window_ms = ms.max(1);
        self
    }

    /// Runs the shrinker may spend on a failure (`DOSIM_SHRINK` overrides; 0: none).
    pub fn shrink_budget(mut self, runs: u32) -> Self {
        self.shrink_budget = runs;
        self
    }

    /// Whether failures are saved as regression files (default yes).
    pub fn save_regressions(mut self, save: bool) -> Self {
        self.save = save;
        self
    }

    /// Keep the regression file in `dir` instead of `dosim-regressions/` of the package.
    pub fn regressions_in(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.regressions = Some(dir.into());
        self
    }

    /// The test's own invariant, judged after each run (outside the simulation) on the
    /// run's report: its history of calls, the committed state, the trace. A panic
    /// inside it (`assert!`) is a finding too.
    pub fn invariant<F, R>(mut self, f: F) -> Self
    where
        F: Fn(&RunReport) -> R + Send + Sync + 'static,
        R: Findings,
    {
        self.invariant = Some(Arc::new(move |r| f(r).into_findings()));
        self
    }

    /// Applies `f` (what `#[dosim::test(with = f)]` does).
    pub fn with(self, f: impl FnOnce(Builder) -> Builder) -> Self {
        f(self)
    }

    /// The regression file of this test.
    pub fn regression_file(&self) -> std::path::PathBuf {
        let dir = self.regressions.clone().unwrap_or_else(|| self.site.regressions_dir());
        dir.join(format!("{}.json", self.site.key()))
    }

    /// The command that replays `seed` of this test.
    pub fn replay_command(&self, seed: u64) -> String {
        self.site.replay_command(seed)
    }

    /// Runs the test; panics with the seed, the violation and the replay command on a
    /// failure, and with a clear message on bad environment variables.
    #[track_caller]
    pub fn check<F, Fut>(self, body: F)
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: WorkloadOutput,
    {
        match self.try_check(body) {
            // Shown by `cargo test -- --nocapture`, and with the output of a failing test.
            Ok(line) => println!("{line}"),
            Err(message) => panic!("{message}"),
        }
    }

    /// [`check`](Self::check), returning the failure message instead of panicking, and
    /// on success a line saying what ran.
    pub fn try_check<F, Fut>(self, body: F) -> Result<String, String>
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: WorkloadOutput,
    {
        let body = erase(body);
        let budget = Budget::from_env(self.seeds).map_err(|e| format!("dosim: {e}"))?;
        let shrink_budget = match env_number("DOSIM_SHRINK", "a number of runs, like DOSIM_SHRINK=200")? {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => self.shrink_budget,
        };
        if let Some(seed) = budget.one {
            return self.one_seed(&body, seed);
        }
        let jobs = match env_number("DOSIM_JOBS", "a number of seeds run at once, like DOSIM_JOBS=4")? {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 1024),
            None => self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        };
        let replayed = self.replay_regressions(&body)?;
        let started = Instant::now();
        let mut checked_twice = false;
        let mut ran = 0u64;
        let mut next = budget.base;
        loop {
            // A window of seeds runs at once (each run on its own thread); their results are
            // judged in seed order, so the outcome does not depend on `jobs`.
            let mut window = Vec::new();
            while window.len() < jobs {
                let done = match budget.limit {
                    Limit::Seeds(n) => ran + window.len() as u64 >= n,
                    Limit::Time(d) => started.elapsed() >= d,
                };
                if done {
                    break;
                }
                window.push(next);
                next += 1;
            }
            if window.is_empty() {
                break;
            }
            for (seed, r) in window.iter().zip(self.run_seeds(&body, &window)) {
                ran += 1;
                if !r.passed() {
                    return Err(self.failure(&body, r, ran, shrink_budget));
                }
                if !checked_twice {
                    // The first seed runs twice: a test whose runs differ cannot be replayed.
                    checked_twice = true;
                    let again = self.run_case(&body, self.case(*seed));
                    if again.report.trace_hash != r.report.trace_hash {
                        return Err(nondeterministic(*seed, &r, &again));
                    }
                }
            }
        }
        let seeds = if ran == 0 { "no seeds".into() } else { format!("seeds {}..{}", budget.base, budget.base + ran) };
        Ok(format!("dosim: {ran} runs passed ({seeds}); {replayed} saved cases replayed"))
    }

    /// Runs `seeds` at once, one thread each; results in the order given.
    fn run_seeds(&self, body: &Body, seeds: &[u64]) -> Vec<Ran> {
        if let [seed] = seeds {
            return vec![self.run_case(body, self.case(*seed))];
        }
        std::thread::scope(|s| {
            let running: Vec<_> =
                seeds.iter().map(|&seed| s.spawn(move || self.run_case(body, self.case(seed)))).collect();
            running.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    }

    /// Runs one seed (with fresh draws) and judges it; never panics, saves nothing.
    pub fn run_seed<F, Fut>(&self, seed: u64, body: F) -> Ran
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: WorkloadOutput,
    {
        self.run_case(&erase(body), self.case(seed))
    }

    /// Runs exactly `case` and judges it.
    pub fn run_exactly<F, Fut>(&self, case: Case, body: F) -> Ran
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
        Fut::Output: WorkloadOutput,
    {
        self.run_case(&erase(body), case)
    }

    /// The case seed `seed` gives: its fault plan, its crash times, fresh draws.
    pub fn case(&self, seed: u64) -> Case {
        let faults = self.faults.plan(seed);
        let mut d = Decisions::new(seed, CRASH_STREAM);
        let mut crashes: Vec<u64> = (0..faults.timed_crashes).map(|_| d.between(1, self.chaos_window_ms)).collect();
        crashes.sort_unstable();
        Case { seed, input_gate: self.input_gate, output_gate: self.output_gate, faults, crashes, draws: None }
    }

    fn run_case(&self, body: &Body, case: Case) -> Ran {
        let mut config = SimConfig::new(case.seed)
            .input_gate(case.input_gate)
            .output_gate(case.output_gate)
            .faults(FaultPolicy::Fixed(case.faults));
        config.crash_times = Some(case.crashes.clone());
        config.chaos_window_ms = self.chaos_window_ms;
        let used: Arc<Mutex<Vec<u64>>> = Arc::default();
        let (seed, given, sink, body2) = (case.seed, case.draws.clone(), used.clone(), body.clone());
        let report = run(config, move |world| {
            world.set_extension(Rc::new(Draws::new(seed, given, sink)));
            let work = body2(world.clone());
            async move {
                if let Err(message) = work.await {
                    world.violation("workload", message);
                }
            }
        });
        let mut violations = report.violations.clone();
        // A run that panicked has a cut-off history: the invariant would only add noise.
        if !violations.iter().any(|v| v.checker == "harness") {
            if let Some(inv) = &self.invariant {
                let found = catch_unwind(AssertUnwindSafe(|| inv(&report)))
                    .unwrap_or_else(|p| vec![format!("the invariant panicked: {}", panic_message(p.as_ref()))]);
                violations.extend(found.into_iter().map(|message| Violation {
                    checker: "invariant".into(),
                    message,
                    at: report.sim_time,
                }));
            }
        }
        let draws = std::mem::take(&mut *used.lock().unwrap_or_else(|p| p.into_inner()));
        Ran { case: Case { draws: Some(draws), ..case }, report, violations }
    }

    /// `DOSIM_SEED`: that seed alone, its trace printed where `cargo test` does not hide it.
    fn one_seed(&self, body: &Body, seed: u64) -> Result<String, String> {
        let r = self.run_case(body, self.case(seed));
        let mut out = format!("dosim: {} seed {seed}, faults: {}\n", self.site.key(), r.case.faults);
        out += &r.report.trace_text();
        let verdict = if r.passed() { "PASS".to_owned() } else { format!("FAIL: {}", r.violations[0]) };
        let _ = writeln!(out, "dosim: seed {seed}: {verdict} (trace hash {})", r.report.trace_hash);
        // Straight to the terminal: libtest captures print!, and a trace asked for by
        // seed is wanted even when the seed passes.
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        if r.passed() {
            Ok(format!("dosim: seed {seed} passed"))
        } else {
            Err(format!(
                "dosim: {} failed on seed {seed}\n  {}\n  replay: {}{}",
                self.site.key(),
                r.violations[0],
                self.site.replay_command(seed),
                caveat(&self.site)
            ))
        }
    }

    /// Replays the saved cases; the first that still fails is the test's failure.
    fn replay_regressions(&self, body: &Body) -> Result<usize, String> {
        let path = self.regression_file();
        let Some(file) = RegressionFile::load(&path).map_err(|e| format!("dosim: {e}"))? else { return Ok(0) };
        for (i, saved) in file.cases.iter().enumerate() {
            let r = self.run_case(body, saved.case.clone());
            if !r.passed() {
                eprintln!("dosim: the saved case's run:\n{}", r.report.trace_text());
                return Err(format!(
                    "dosim: {} still fails saved case {} of {} (seed {})\n  {}\n  replay: {}  (the original seed, with its trace; the saved case replays first on every `cargo test`)\n  delete the file once the failure is understood and fixed, or keep it as a regression test",
                    self.site.key(),
                    i + 1,
                    shown(&path),
                    saved.case.seed,
                    r.violations[0],
                    saved.replay,
                ));
            }
        }
        Ok(file.cases.len())
    }

    /// A seed failed: check it replays, shrink it, save it, and say all that.
    fn failure(&self, body: &Body, first: Ran, ran: u64, budget: u32) -> String {
        let seed = first.case.seed;
        let again = self.run_case(body, first.case.clone());
        if again.report.trace_hash != first.report.trace_hash {
            return nondeterministic(seed, &first, &again);
        }
        let replay = self.site.replay_command(seed);
        let mut msg = format!(
            "dosim: {} failed on seed {seed} (run {ran})\n  {}\n  replay: {replay}{}",
            self.site.key(),
            first.violations[0],
            caveat(&self.site)
        );
        for v in first.violations.iter().skip(1).take(3) {
            let _ = write!(msg, "\n  also: {v}");
        }
        let (small, runs) = if budget > 0 { shrink(self, body, first.clone(), budget) } else { (first.clone(), 0) };
        if runs > 0 {
            let _ = write!(msg, "\n  shrunk in {runs} runs: {}", describe_shrink(&first.case, &small.case));
            if small.violations[0].message != first.violations[0].message {
                let _ = write!(msg, "\n    now: {}", small.violations[0]);
            }
        }
        if self.save {
            let v = &small.violations[0];
            let saved = SavedCase {
                case: small.case.clone(),
                violation: Recorded { checker: v.checker.clone(), message: v.message.clone() },
                replay: replay.clone(),
            };
            match RegressionFile::append(&self.regression_file(), &self.site.key(), saved) {
                Ok(path) => {
                    let _ = write!(msg, "\n  saved: {} (replayed first by the next `cargo test`)", shown(&path));
                }
                Err(e) => {
                    let _ = write!(msg, "\n  not saved: {e}");
                }
            }
        }
        msg
    }
}

/// Runs `body` over seeds with the defaults of [`Builder`], as a plain function (in the
/// style of shuttle's `check_random`): `dosim::check(|world| async move { ... })`.
///
/// Without the attribute, dosim learns the test's package and folder from the variables
/// `cargo test` sets, its name from libtest's thread name and its target from the
/// caller's file; it cannot see which `--features` the build has, so the replay command
/// says so. `#[dosim::test]` knows all of it.
#[track_caller]
pub fn check<F, Fut>(body: F)
where
    F: Fn(World) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: WorkloadOutput,
{
    Builder::new().check(body)
}

fn erase<F, Fut>(body: F) -> Body
where
    F: Fn(World) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: WorkloadOutput,
{
    Arc::new(move |world| {
        let fut = body(world);
        Box::pin(async move { fut.await.into_result() })
    })
}

/// How many seeds, from where, or just one.
struct Budget {
    one: Option<u64>,
    base: u64,
    limit: Limit,
}

enum Limit {
    Seeds(u64),
    Time(Duration),
}

impl Budget {
    fn from_env(default_seeds: u64) -> Result<Budget, String> {
        let one = env_number("DOSIM_SEED", "a seed, like DOSIM_SEED=42")?;
        let base = env_number("DOSIM_BASE_SEED", "a seed, like DOSIM_BASE_SEED=1000")?.unwrap_or(0);
        let seeds = env_number("DOSIM_SEEDS", "a number of seeds, like DOSIM_SEEDS=500")?;
        let time = match env_text("DOSIM_TIME")? {
            Some(t) => Some(parse_duration(&t).map_err(|e| format!("DOSIM_TIME={t:?}: {e}"))?),
            None => None,
        };
        let limit = match (seeds, time) {
            (Some(_), Some(_)) if one.is_none() => {
                return Err("DOSIM_SEEDS and DOSIM_TIME are both set: set one (how many seeds, or how long)".into())
            }
            (_, Some(d)) => Limit::Time(d),
            (Some(n), None) => Limit::Seeds(n),
            (None, None) => Limit::Seeds(default_seeds),
        };
        Ok(Budget { one, base, limit })
    }
}

/// An environment variable's text; unset and empty are the same.
fn env_text(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid text")),
    }
}

fn env_number(name: &str, expected: &str) -> Result<Option<u64>, String> {
    match env_text(name)? {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| format!("{name}={t:?} is not a whole number: expected {expected}")),
    }
}

fn nondeterministic(seed: u64, a: &Ran, b: &Ran) -> String {
    let (ta, tb) = (a.report.trace_text(), b.report.trace_text());
    let at = ta.lines().zip(tb.lines()).position(|(x, y)| x != y).unwrap_or(ta.lines().count().min(tb.lines().count()));
    format!(
        "dosim: seed {seed} ran twice with different traces ({} and {}): the test is not deterministic, so no seed of it can be replayed.\n  first difference at trace line {}:\n    {}\n    {}\n  look for what the workload or the object takes from outside the simulation: the wall clock, thread_rng, HashMap order, threads, real I/O",
        a.report.trace_hash,
        b.report.trace_hash,
        at + 1,
        ta.lines().nth(at).unwrap_or("(end of trace)"),
        tb.lines().nth(at).unwrap_or("(end of trace)"),
    )
}

fn caveat(site: &Site) -> String {
    site.replay_caveat().map(|c| format!("\n          {c}")).unwrap_or_default()
}

/// `path`, relative to the current folder when it is inside it.
fn shown(path: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(path).display().to_string()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

fn describe_shrink(from: &Case, to: &Case) -> String {
    let n = |c: &Case| c.draws.as_ref().map_or(0, Vec::len);
    let nonzero = |c: &Case| c.draws.as_ref().map_or(0, |d| d.iter().filter(|v| **v > 0).count());
    format!(
        "{} draws ({} above their minimum) -> {} ({}); {} timed crashes -> {}; faults {} -> {}",
        n(from),
        nonzero(from),
        n(to),
        nonzero(to),
        from.crashes.len(),
        to.crashes.len(),
        from.faults,
        to.faults
    )
}

/// From a failing case to a smaller one that fails the same checker on the same seed:
/// timed crashes dropped, faults switched off one kind at a time, then the draws (each
/// set to its minimum, runs of them deleted, each halved) until nothing changes.
fn shrink(b: &Builder, body: &Body, first: Ran, budget: u32) -> (Ran, u32) {
    let checker = first.violations[0].checker.clone();
    let mut best = first;
    let mut runs = 0u32;
    // A change is kept only if it still fails the same checker and the case it ran is
    // smaller: a deletion whose run draws the deleted choices again is no progress.
    let attempt = |case: Case, runs: &mut u32, best: &Ran| -> Option<Ran> {
        if *runs >= budget {
            return None;
        }
        *runs += 1;
        let r = b.run_case(body, case);
        let fails = r.violations.iter().any(|v| v.checker == checker);
        (fails && size(&r.case) < size(&best.case)).then_some(r)
    };
    let mut i = 0;
    while i < best.case.crashes.len() {
        let mut c = best.case.clone();
        c.crashes.remove(i);
        c.faults.timed_crashes = c.crashes.len() as u32;
        match attempt(c, &mut runs, &best) {
            Some(r) => best = r,
            None => i += 1,
        }
    }
    // Timed crashes are the case's own list, shrunk on their own.
    for off in &FaultPlan::SWITCHES[1..] {
        let mut c = best.case.clone();
        off(&mut c.faults);
        if c.faults != best.case.faults {
            if let Some(r) = attempt(c, &mut runs, &best) {
                best = r;
            }
        }
    }
    loop {
        let before = best.case.draws.clone();
        // Each draw to its minimum.
        let mut i = 0;
        while i < draws(&best).len() {
            if draws(&best)[i] > 0 {
                let mut c = best.case.clone();
                c.draws.as_mut().expect("a run records its draws")[i] = 0;
                if let Some(r) = attempt(c, &mut runs, &best) {
                    best = r;
                }
            }
            i += 1;
        }
        // Runs of draws deleted (what a smaller workload drew no longer exists).
        for size in [4usize, 2, 1] {
            let mut i = 0;
            while i + size <= draws(&best).len() {
                let mut c = best.case.clone();
                c.draws.as_mut().expect("a run records its draws").drain(i..i + size);
                match attempt(c, &mut runs, &best) {
                    Some(r) => best = r,
                    None => i += 1,
                }
            }
        }
        // Each draw halved, down to what still fails.
        for i in 0..draws(&best).len() {
            while i < draws(&best).len() && draws(&best)[i] > 1 {
                let mut c = best.case.clone();
                let d = &mut c.draws.as_mut().expect("a run records its draws")[i];
                *d /= 2;
                match attempt(c, &mut runs, &best) {
                    Some(r) => best = r,
                    None => break,
                }
            }
        }
        if best.case.draws == before || runs >= budget {
            break;
        }
    }
    (best, runs)
}

/// How big a case is, for the shrinker: crashes first, then fault kinds on, then the
/// number of draws, then the draws themselves.
fn size(c: &Case) -> (usize, usize, usize, Vec<u64>) {
    let f = c.faults;
    let rates = [
        f.crash_at_await,
        f.crash_before_commit,
        f.commit_failure,
        f.read_failure,
        f.flush_transient_failure,
        f.flush_hard_failure,
        f.call_refused,
        f.call_reset,
        f.reply_lost,
    ];
    let kinds = rates.iter().filter(|r| **r > 0).count() + usize::from(f.storage_slowdown > 1);
    let draws = c.draws.clone().unwrap_or_default();
    (c.crashes.len(), kinds, draws.len(), draws)
}

fn draws(r: &Ran) -> &[u64] {
    r.case.draws.as_deref().unwrap_or_default()
}
