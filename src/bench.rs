//! What `dosim bench` measures: exploration speed on a fixed set of scenarios, the per-run
//! fixed cost split from the per-call cost, and baselines timed in the same process (the
//! counter's storage logic on plain SQLite, the workerd workload, an hour of timers).

use crate::scenarios::workload::generate;
use crate::scenarios::{self, check, check_workload, Call, Scenario, Workload};
use crate::sim::run::{on_fresh_threads, on_host};
use crate::sim::{async_trait, run, DurableObject, Env, FaultPlan, FaultPolicy, Result, RunReport, SimConfig, State};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The scenarios timed, in this order (a fixed set, so figures compare across commits).
pub const SCENARIOS: &[&str] =
    &["counter", "safe-counter", "safe-counter-kv", "racy-counter", "racy-counter-kv", "safe-counter-js"];

/// The same counter in Rust and in TypeScript (JS host), for the per-call comparison.
pub const LANGUAGES: [(&str, &str); 2] = [("Rust", "safe-counter"), ("TypeScript (JS host)", "safe-counter-js")];

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seeds per scenario per repetition.
    pub seeds: u64,
    /// Repetitions of every measurement; figures are their median, min and max.
    pub reps: usize,
    /// Workload sizes (calls of one client) for the fixed/per-call split.
    pub sizes: Vec<usize>,
    /// Increments in the direct-SQLite baseline, per repetition.
    pub direct_increments: u64,
    /// Clients and increments per client of the workerd workload (`bench/workerd` defaults).
    pub workerd_workload: (usize, usize),
    /// Iterations of each fixed-cost piece, per repetition.
    pub piece_iterations: u32,
    /// Wakes of the timer object (one a second).
    pub timer_ticks: u64,
    /// Requests/s of local workerd on the same workload, if measured (never invented).
    pub workerd_rps: Option<f64>,
}

impl Options {
    /// The full run that BENCHMARKS.md records.
    pub fn full() -> Options {
        Options {
            seeds: 500,
            reps: 5,
            sizes: vec![1, 10, 100, 1000],
            direct_increments: 50_000,
            workerd_workload: (4, 2000),
            piece_iterations: 200,
            timer_ticks: 3600,
            workerd_rps: None,
        }
    }

    /// A smoke run: every table, small numbers.
    pub fn quick() -> Options {
        Options {
            seeds: 40,
            reps: 3,
            sizes: vec![1, 10, 100],
            direct_increments: 2000,
            workerd_workload: (4, 100),
            piece_iterations: 20,
            timer_ticks: 3600,
            workerd_rps: None,
        }
    }
}

/// The median of some repetitions, with their min and max.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figure {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Figure {
    /// The figure of `values` (at least one).
    pub fn of(values: &[f64]) -> Figure {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Figure { median, min: v[0], max: v[n - 1] }
    }
}

/// Where and when the figures were taken.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cores: usize,
    /// CPU model as the kernel names it.
    pub cpu: String,
    /// 1-minute load average before and after the benchmark.
    pub load_before: f64,
    /// 1-minute load average after.
    pub load_after: f64,
    /// `release` or `debug` (only release figures mean anything).
    pub profile: &'static str,
}

/// Exploration speed on one scenario: `seeds` runs per repetition, one thread.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioFigures {
    /// Scenario name.
    pub scenario: String,
    /// Whether the runtime trace was recorded (it is in every normal run).
    pub trace: bool,
    /// Whether each run had a fresh thread (as through the test API) rather than running
    /// on the measuring run host (as in `dosim fuzz`).
    pub fresh_threads: bool,
    /// Runs per repetition.
    pub seeds: u64,
    /// Runs per wall second.
    pub runs_per_s: Figure,
    /// Client calls per wall second.
    pub requests_per_s: Figure,
    /// Storage operations per wall second.
    pub storage_ops_per_s: Figure,
    /// Simulated milliseconds per wall second.
    pub sim_ms_per_wall_s: Figure,
    /// Wall microseconds per run.
    pub us_per_run: Figure,
    /// Mean calls per run (the same every repetition: runs are deterministic).
    pub requests_per_run: f64,
    /// Mean storage operations per run.
    pub storage_ops_per_run: f64,
    /// Mean simulated milliseconds per run.
    pub sim_ms_per_run: f64,
    /// Runs with a violation (expected only for the racy scenarios).
    pub failing_runs: u64,
    /// The process's CPU time over wall time: near 1 when the runs had a core to
    /// themselves, lower when they waited (other processes, thread wake-ups).
    pub cpu_per_wall: Figure,
}

/// Runs of the `counter` scenario with one client making `calls` calls, no faults.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    /// Calls in the run.
    pub calls: usize,
    /// Runs per repetition.
    pub runs: usize,
    /// Wall microseconds per run.
    pub us_per_run: Figure,
    /// The same divided by the calls.
    pub us_per_call: Figure,
}

/// Pieces of a run's fixed cost, each timed alone (microseconds per iteration).
#[derive(Debug, Clone, Serialize)]
pub struct Pieces {
    /// Spawning and joining an empty OS thread (every run gets a fresh one).
    pub thread_us: Figure,
    /// A fresh thread with a madsim runtime and an empty `block_on` in it.
    pub thread_runtime_us: Figure,
    /// `Connection::open_in_memory` plus the `_cf_KV` table (every object gets one).
    pub sqlite_open_us: Figure,
    /// Generating a `counter` workload from a seed (proptest strategies).
    pub workload_generation_us: Figure,
    /// A whole dosim run whose workload does nothing (no object).
    pub empty_run_us: Figure,
}

/// The per-run fixed cost and the per-call cost, fitted and in pieces.
#[derive(Debug, Clone, Serialize)]
pub struct FixedCost {
    /// Timings per workload size.
    pub sizes: Vec<SizeFigures>,
    /// Intercept of time = fixed + per_call × calls, least squares weighted by 1/time² (so
    /// every size counts by its relative error), one fit per repetition.
    pub fixed_us: Figure,
    /// Slope of the same fit.
    pub per_call_us: Figure,
    /// Intercept of the unweighted fit, where the largest size dominates both estimates.
    pub plain_fixed_us: Figure,
    /// Slope of the unweighted fit.
    pub plain_per_call_us: Figure,
    /// The pieces.
    pub pieces: Pieces,
}

/// The per-run and per-call cost of one object's language, fitted as in [`FixedCost`].
#[derive(Debug, Clone, Serialize)]
pub struct LanguageFigures {
    /// The language.
    pub language: String,
    /// The scenario timed (one client making N increments, no faults).
    pub scenario: String,
    /// Weighted fit: fixed cost per run.
    pub fixed_us: Figure,
    /// Weighted fit: cost per call.
    pub per_call_us: Figure,
    /// Per-call cost over the first language's (medians).
    pub per_call_vs_first: f64,
    /// Fixed cost over the first language's (medians).
    pub fixed_vs_first: f64,
}

/// One way of doing the counter's increments, and how it compares with doing them directly.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// What was timed.
    pub what: String,
    /// Increments (requests) per wall second.
    pub requests_per_s: Figure,
    /// Direct requests/s over this one's (medians): the simulation overhead.
    pub overhead_vs_direct: f64,
    /// This one's requests/s over local workerd's, when workerd's figure was given.
    pub vs_workerd: Option<f64>,
}

/// The counter done directly, in dosim, and in workerd.
#[derive(Debug, Clone, Serialize)]
pub struct Baselines {
    /// Each way, the direct one first.
    pub rows: Vec<Throughput>,
    /// Local workerd's requests/s on the workerd workload, as given (`--workerd-rps`).
    pub workerd_rps: Option<f64>,
}

/// An hour of simulated timer activity.
#[derive(Debug, Clone, Serialize)]
pub struct TimerFigures {
    /// What the object does each second.
    pub what: String,
    /// Timer wakes in the run.
    pub wakes: u64,
    /// Simulated milliseconds at the end of the run.
    pub sim_ms: u64,
    /// Wall milliseconds for the whole run.
    pub wall_ms: Figure,
    /// Anything the checkers found (should be empty).
    pub violations: Vec<String>,
}

/// Everything `dosim bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The machine.
    pub machine: Machine,
    /// Seeds per scenario and repetitions.
    pub seeds: u64,
    /// Repetitions of each measurement.
    pub reps: usize,
    /// Exploration speed per scenario.
    pub scenarios: Vec<ScenarioFigures>,
    /// Fixed and per-call cost.
    pub fixed_cost: FixedCost,
    /// Direct, dosim and workerd throughput of the counter.
    pub baselines: Baselines,
    /// The same counter as a Rust object and as a TypeScript object.
    pub languages: Vec<LanguageFigures>,
    /// An hour of timers.
    pub timers: Vec<TimerFigures>,
    /// An hour of alarms: an alarm every second whose handler writes and re-arms it.
    pub alarm_hour: TimerFigures,
    /// Peak resident set of the process before any run (KiB).
    pub peak_rss_kib_start: u64,
    /// Peak resident set of the process after everything (KiB).
    pub peak_rss_kib: u64,
}

/// Runs every measurement; `progress` hears the name of each phase as it starts.
/// Every measurement runs on a run host, as `dosim fuzz`'s workers do (the one fresh-thread
/// row says what that saves).
pub fn run_bench(opts: &Options, progress: impl FnMut(&str) + Send) -> BenchReport {
    on_host(|| measure(opts, progress))
}

fn measure(opts: &Options, mut progress: impl FnMut(&str)) -> BenchReport {
    let peak_rss_kib_start = peak_rss_kib();
    let load_before = load_average();
    let chosen: Vec<&'static dyn Scenario> = SCENARIOS.iter().filter_map(|n| scenarios::find(n)).collect();
    // One unmeasured pass: first-run costs (page faults, SQLite's and ahash's process
    // set-up, lazy statics) would otherwise land in the first repetition.
    for s in &chosen {
        for seed in 0..opts.seeds.min(20) {
            check(*s, SimConfig::new(seed));
        }
    }
    progress("scenarios");
    let scenarios = bench_scenarios(opts, &chosen);
    progress("fixed cost");
    let fixed_cost = bench_fixed_cost(opts);
    progress("baselines");
    let baselines = bench_baselines(opts, &scenarios, &fixed_cost);
    progress("languages");
    let languages = bench_languages(opts);
    progress("timers");
    let timers = vec![bench_timer(opts, false), bench_timer(opts, true)];
    progress("alarms");
    let alarm_hour = bench_alarms(opts);
    let machine = Machine {
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        cpu: cpu_model(),
        load_before,
        load_after: load_average(),
        profile: if cfg!(debug_assertions) { "debug" } else { "release" },
    };
    BenchReport {
        machine,
        seeds: opts.seeds,
        reps: opts.reps,
        scenarios,
        fixed_cost,
        baselines,
        languages,
        timers,
        alarm_hour,
        peak_rss_kib_start,
        peak_rss_kib: peak_rss_kib(),
    }
}

/// Sums over one repetition of a scenario.
#[derive(Default, Clone, Copy)]
struct Totals {
    runs: u64,
    requests: u64,
    storage_ops: u64,
    sim_ms: u64,
    failing: u64,
}

impl Totals {
    fn add(&mut self, r: &RunReport, failed: bool) {
        self.runs += 1;
        self.requests += r.history.len() as u64;
        self.storage_ops += r.stats.storage_ops;
        self.sim_ms += r.sim_time.as_millis();
        self.failing += u64::from(failed);
    }
}

fn bench_scenarios(opts: &Options, chosen: &[&'static dyn Scenario]) -> Vec<ScenarioFigures> {
    // Every scenario with the trace on, on the run host as `dosim fuzz` runs them; then
    // `counter` once more with the trace off (the difference is what recording the trace
    // costs), and once on a fresh thread per run (what hosting saves).
    let mut cases: Vec<(&'static dyn Scenario, bool, bool)> = chosen.iter().map(|s| (*s, true, false)).collect();
    if let Some(c) = chosen.iter().find(|s| s.name() == "counter") {
        cases.push((*c, false, false));
        cases.push((*c, true, true));
    }
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut cpu_share: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut totals = vec![Totals::default(); cases.len()];
    // Repetition-major, so a burst of load from elsewhere spreads over every scenario.
    for _ in 0..opts.reps {
        for (i, (s, trace, fresh)) in cases.iter().enumerate() {
            let mut t = Totals::default();
            let cpu = cpu_seconds();
            let start = Instant::now();
            for seed in 0..opts.seeds {
                let mut config = SimConfig::new(seed);
                config.record_trace = *trace;
                let o = if *fresh { on_fresh_threads(|| check(*s, config)) } else { check(*s, config) };
                t.add(&o.report, !o.violations.is_empty());
            }
            let wall = start.elapsed().as_secs_f64();
            walls[i].push(wall);
            cpu_share[i].push((cpu_seconds() - cpu) / wall);
            totals[i] = t;
        }
    }
    cases
        .iter()
        .zip(walls.iter().zip(&totals).zip(&cpu_share))
        .map(|((s, trace, fresh), ((w, t), share))| {
            let per_s = |n: u64| Figure::of(&w.iter().map(|secs| n as f64 / secs).collect::<Vec<_>>());
            let runs = t.runs.max(1) as f64;
            ScenarioFigures {
                scenario: s.name().to_owned(),
                trace: *trace,
                fresh_threads: *fresh,
                seeds: opts.seeds,
                runs_per_s: per_s(t.runs),
                requests_per_s: per_s(t.requests),
                storage_ops_per_s: per_s(t.storage_ops),
                sim_ms_per_wall_s: per_s(t.sim_ms),
                us_per_run: Figure::of(&w.iter().map(|secs| secs * 1e6 / runs).collect::<Vec<_>>()),
                requests_per_run: t.requests as f64 / runs,
                storage_ops_per_run: t.storage_ops as f64 / runs,
                sim_ms_per_run: t.sim_ms as f64 / runs,
                failing_runs: t.failing,
                cpu_per_wall: Figure::of(share),
            }
        })
        .collect()
}

/// A fault-free workload: `clients` clients, each sending `calls` increments back to back.
pub fn increments(clients: usize, calls: usize) -> Workload {
    let call = Call { think_ms: 0, request: serde_json::Value::from("increment") };
    Workload { faults: FaultPlan::NONE, crashes: Vec::new(), clients: vec![vec![call; calls]; clients] }
}

fn counter() -> &'static dyn Scenario {
    scenarios::find("counter").expect("the counter scenario is built in")
}

/// Wall seconds of `runs` runs of `workload` on `scenario` (seeds 0..runs).
fn time_workload(scenario: &'static dyn Scenario, workload: &Workload, runs: usize) -> f64 {
    let start = Instant::now();
    for seed in 0..runs as u64 {
        let o = check_workload(scenario, SimConfig::new(seed), workload.clone());
        debug_assert!(o.violations.is_empty(), "{:?}", o.violations);
    }
    start.elapsed().as_secs_f64()
}

/// Microseconds per call of `f`, over `n` calls.
fn time_us(n: u32, mut f: impl FnMut(u32)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1))
}

/// Fits of time per run = fixed + per_call × calls on `scenario`, one per repetition:
/// `(timings per size, weighted fits, unweighted fits)`.
struct Fits {
    per_run: Vec<Vec<f64>>,
    weighted: (Vec<f64>, Vec<f64>),
    plain: (Vec<f64>, Vec<f64>),
}

/// Runs per workload size: about the same number of calls at every size, so each size
/// takes similar time, with at least 10 runs even at the largest.
fn runs_at(calls: usize) -> usize {
    (20_000 / calls).clamp(10, 300)
}

fn fit_sizes(opts: &Options, scenario: &'static dyn Scenario) -> Fits {
    let workloads: Vec<Workload> = opts.sizes.iter().map(|&n| increments(1, n)).collect();
    let mut fits = Fits {
        per_run: vec![Vec::new(); opts.sizes.len()],
        weighted: (Vec::new(), Vec::new()),
        plain: (Vec::new(), Vec::new()),
    };
    for _ in 0..opts.reps {
        let mut points = Vec::new();
        for (i, (&calls, w)) in opts.sizes.iter().zip(&workloads).enumerate() {
            let runs = runs_at(calls);
            let us = time_workload(scenario, w, runs) * 1e6 / runs as f64;
            fits.per_run[i].push(us);
            points.push((calls as f64, us));
        }
        let relative: Vec<f64> = points.iter().map(|(_, t)| 1.0 / (t * t)).collect();
        let (a, b) = least_squares(&points, &relative);
        fits.weighted.0.push(a);
        fits.weighted.1.push(b);
        let (a, b) = least_squares(&points, &vec![1.0; points.len()]);
        fits.plain.0.push(a);
        fits.plain.1.push(b);
    }
    fits
}

fn bench_fixed_cost(opts: &Options) -> FixedCost {
    let fits = fit_sizes(opts, counter());
    let sizes = opts
        .sizes
        .iter()
        .zip(&fits.per_run)
        .map(|(&calls, us)| SizeFigures {
            calls,
            runs: runs_at(calls),
            us_per_run: Figure::of(us),
            us_per_call: Figure::of(&us.iter().map(|u| u / calls as f64).collect::<Vec<_>>()),
        })
        .collect();
    FixedCost {
        sizes,
        fixed_us: Figure::of(&fits.weighted.0),
        per_call_us: Figure::of(&fits.weighted.1),
        plain_fixed_us: Figure::of(&fits.plain.0),
        plain_per_call_us: Figure::of(&fits.plain.1),
        pieces: bench_pieces(opts),
    }
}

/// The same counter in each language of [`LANGUAGES`], fitted alike; ratios to the first.
fn bench_languages(opts: &Options) -> Vec<LanguageFigures> {
    let mut rows: Vec<LanguageFigures> = Vec::new();
    for (language, name) in LANGUAGES {
        let Some(scenario) = scenarios::find(name) else { continue };
        let fits = fit_sizes(opts, scenario);
        let (fixed_us, per_call_us) = (Figure::of(&fits.weighted.0), Figure::of(&fits.weighted.1));
        let (per_call_vs_first, fixed_vs_first) = match rows.first() {
            Some(first) => (per_call_us.median / first.per_call_us.median, fixed_us.median / first.fixed_us.median),
            None => (1.0, 1.0),
        };
        rows.push(LanguageFigures {
            language: language.to_owned(),
            scenario: name.to_owned(),
            fixed_us,
            per_call_us,
            per_call_vs_first,
            fixed_vs_first,
        });
    }
    rows
}

/// Weighted least squares of y = a + b·x; returns (a, b).
pub fn least_squares(points: &[(f64, f64)], weights: &[f64]) -> (f64, f64) {
    let sw: f64 = weights.iter().sum();
    let mean = |f: fn(&(f64, f64)) -> f64| points.iter().zip(weights).map(|(p, w)| w * f(p)).sum::<f64>() / sw;
    let (mx, my) = (mean(|p| p.0), mean(|p| p.1));
    let sxy: f64 = points.iter().zip(weights).map(|((x, y), w)| w * (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().zip(weights).map(|((x, _), w)| w * (x - mx) * (x - mx)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

fn bench_pieces(opts: &Options) -> Pieces {
    let n = opts.piece_iterations;
    let mut t = [(); 5].map(|_| Vec::new());
    let scenario = counter();
    for _ in 0..opts.reps {
        t[0].push(time_us(n, |_| std::thread::spawn(|| ()).join().expect("empty thread")));
        t[1].push(time_us(n, |i| {
            std::thread::spawn(move || {
                let rt = madsim::runtime::Runtime::with_seed_and_config(u64::from(i), madsim::Config::default());
                rt.block_on(async {});
            })
            .join()
            .expect("empty runtime")
        }));
        t[2].push(time_us(n, |_| {
            let conn = rusqlite::Connection::open_in_memory().expect("sqlite open");
            conn.execute_batch("CREATE TABLE _cf_KV (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID;")
                .expect("sqlite create");
        }));
        t[3].push(time_us(n, |i| drop(generate(scenario, u64::from(i), FaultPolicy::Swarm).workload)));
        t[4].push(time_us(n, |i| drop(run(SimConfig::new(u64::from(i)).faults(FaultPolicy::Off), |_| async {}))));
    }
    let [thread, runtime, sqlite, generation, empty] = t.map(|v| Figure::of(&v));
    Pieces {
        thread_us: thread,
        thread_runtime_us: runtime,
        sqlite_open_us: sqlite,
        workload_generation_us: generation,
        empty_run_us: empty,
    }
}

/// The counter's storage logic with no simulation: per increment, the statements the
/// SQLite back-end runs for a `get` and a `put` in an implicit transaction (BEGIN, SELECT,
/// SAVEPOINT, INSERT OR REPLACE, RELEASE, COMMIT), values JSON-encoded as dosim stores them.
/// Returns increments per second.
pub fn direct_counter(increments: u64) -> f64 {
    let conn = rusqlite::Connection::open_in_memory().expect("sqlite open");
    conn.execute_batch("CREATE TABLE _cf_KV (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID;").expect("sqlite create");
    let key: &[u8] = b"value";
    let start = Instant::now();
    for _ in 0..increments {
        conn.execute_batch("BEGIN").expect("begin");
        let old: Option<Vec<u8>> = conn
            .prepare_cached("SELECT value FROM _cf_KV WHERE key = ?1")
            .and_then(|mut st| {
                use rusqlite::OptionalExtension;
                st.query_row([key], |r| r.get(0)).optional()
            })
            .expect("select");
        let value: u64 = old.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(0) + 1;
        let bytes = serde_json::to_vec(&value).expect("encode");
        conn.execute_batch("SAVEPOINT _cf_put").expect("savepoint");
        conn.prepare_cached("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?1, ?2)")
            .and_then(|mut st| st.execute(rusqlite::params![key, bytes]))
            .expect("insert");
        conn.execute_batch("RELEASE _cf_put").expect("release");
        conn.execute_batch("COMMIT").expect("commit");
    }
    let secs = start.elapsed().as_secs_f64();
    let stored: Vec<u8> =
        conn.query_row("SELECT value FROM _cf_KV WHERE key = ?1", [key], |r| r.get(0)).expect("final value");
    assert_eq!(serde_json::from_slice::<u64>(&stored).ok(), Some(increments), "the direct counter lost an increment");
    increments as f64 / secs
}

fn bench_baselines(opts: &Options, scenarios: &[ScenarioFigures], fixed: &FixedCost) -> Baselines {
    let direct = Figure::of(&(0..opts.reps).map(|_| direct_counter(opts.direct_increments)).collect::<Vec<_>>());
    let (clients, calls) = opts.workerd_workload;
    let workload = increments(clients, calls);
    let mut rows = vec![("direct: the counter's SQLite statements, no simulation".to_owned(), direct)];
    for name in ["counter", "safe-counter"] {
        let Some(s) = scenarios::find(name) else { continue };
        let rps: Vec<f64> = (0..opts.reps).map(|_| (clients * calls) as f64 / time_workload(s, &workload, 1)).collect();
        rows.push((
            format!("dosim {name}: {clients} clients x {calls} increments, one object, no faults"),
            Figure::of(&rps),
        ));
    }
    if let Some(last) = fixed.sizes.last() {
        let rps: Vec<f64> =
            vec![1e6 / fixed.per_call_us.max, 1e6 / fixed.per_call_us.median, 1e6 / fixed.per_call_us.min];
        rows.push((
            format!("dosim counter: marginal cost of a call (fitted slope, runs of up to {} calls)", last.calls),
            Figure::of(&rps),
        ));
    }
    for f in scenarios
        .iter()
        .filter(|f| f.trace && !f.fresh_threads && (f.scenario == "counter" || f.scenario == "safe-counter"))
    {
        rows.push((
            format!("dosim {} scenario: generated workloads, faults, checks ({} seeds)", f.scenario, f.seeds),
            f.requests_per_s,
        ));
    }
    let rows = rows
        .into_iter()
        .map(|(what, rps)| Throughput {
            what,
            requests_per_s: rps,
            overhead_vs_direct: direct.median / rps.median,
            vs_workerd: opts.workerd_rps.map(|w| rps.median / w),
        })
        .collect();
    Baselines { rows, workerd_rps: opts.workerd_rps }
}

/// An object that wakes once a second for `ticks` seconds, optionally writing the tick
/// count each time (what an alarm handler that records its progress would do).
struct Ticker {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Ticker {
    type Request = (u64, bool);
    type Response = u64;

    fn new(state: State, _env: Env) -> Self {
        Ticker { state }
    }

    async fn call(&self, (ticks, write): (u64, bool)) -> Result<u64> {
        for i in 1..=ticks {
            self.state.sleep(Duration::from_secs(1)).await;
            if write {
                // Not awaited: the commit runs while the object sleeps.
                self.state.storage().put("ticks", &i);
            }
        }
        Ok(ticks)
    }
}

/// An object whose alarm fires every second for `ticks` seconds: each run of the handler
/// writes the count and sets the next alarm (the usual periodic-work pattern).
struct Alarmer {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Alarmer {
    type Request = u64;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        Alarmer { state }
    }

    async fn call(&self, ticks: u64) -> Result<()> {
        let s = self.state.storage();
        s.put("left", &ticks);
        s.set_alarm(self.state.now().as_millis() + 1000).await
    }

    async fn alarm(&self, _info: dosim_sim::AlarmInfo) -> Result<()> {
        let s = self.state.storage();
        let left: u64 = s.get("left").await?.unwrap_or(0);
        s.put("left", &left.saturating_sub(1));
        if left > 1 {
            s.set_alarm(self.state.now().as_millis() + 1000);
        }
        Ok(())
    }
}

pub fn alarm_run(ticks: u64) -> RunReport {
    let mut config = SimConfig::new(0).faults(FaultPolicy::Off).liveness_budget((ticks + 60) * 1000);
    config.time_limit_ms = config.time_limit_ms.max((ticks + 120) * 1000);
    run(config, move |world| async move {
        let ns = world.namespace::<Alarmer>("ALARMER");
        let stub = ns.get(&ns.id_from_name("alarmer"));
        let _ = world.client(0).call(&stub, ticks).await;
        // Keep the workload open for the hour: after the workload the liveness phase would
        // stop the run once the alarm has shown itself periodic (48 firings), long before
        // the hour is over.
        world.sleep(Duration::from_secs(ticks + 1)).await;
    })
}

fn bench_alarms(opts: &Options) -> TimerFigures {
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..opts.reps {
        let start = Instant::now();
        let r = alarm_run(opts.timer_ticks);
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(r);
    }
    let r = last.expect("at least one repetition");
    TimerFigures {
        what: "alarm every 1 s: the handler writes, then sets the next".to_owned(),
        wakes: r.alarms.len() as u64,
        sim_ms: r.sim_time.as_millis(),
        wall_ms: Figure::of(&walls),
        violations: r.violations.iter().map(ToString::to_string).collect(),
    }
}

fn timer_run(ticks: u64, write: bool) -> RunReport {
    let mut config = SimConfig::new(0).faults(FaultPolicy::Off);
    // The default limit is one simulated hour: leave room for the hour itself.
    config.time_limit_ms = config.time_limit_ms.max((ticks + 60) * 1000);
    run(config, move |world| async move {
        let ns = world.namespace::<Ticker>("TICKER");
        let stub = ns.get(&ns.id_from_name("ticker"));
        let _ = world.client(0).call(&stub, (ticks, write)).await;
    })
}

fn bench_timer(opts: &Options, write: bool) -> TimerFigures {
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..opts.reps {
        let start = Instant::now();
        let r = timer_run(opts.timer_ticks, write);
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
        last = Some(r);
    }
    let r = last.expect("at least one repetition");
    let what = if write { "sleep 1 s, then put (not awaited)" } else { "sleep 1 s" };
    TimerFigures {
        what: what.to_owned(),
        wakes: opts.timer_ticks,
        sim_ms: r.sim_time.as_millis(),
        wall_ms: Figure::of(&walls),
        violations: r.violations.iter().map(ToString::to_string).collect(),
    }
}

/// `getrusage(RUSAGE_SELF).ru_maxrss`: the process's peak resident set, in KiB on Linux.
pub fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) == 0 {
            u64::try_from(u.ru_maxrss).unwrap_or(0)
        } else {
            0
        }
    }
}

/// User plus system CPU time of the whole process (every run thread included), seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_squares_recovers_a_line_with_any_weights() {
        let points: Vec<(f64, f64)> = [1.0, 10.0, 100.0, 1000.0].iter().map(|&x| (x, 80.0 + 6.0 * x)).collect();
        for weights in [vec![1.0; 4], points.iter().map(|(_, y)| 1.0 / (y * y)).collect()] {
            let (a, b) = least_squares(&points, &weights);
            assert!((a - 80.0).abs() < 1e-6 && (b - 6.0).abs() < 1e-9, "{a} {b}");
        }
    }

    #[test]
    fn figures_take_the_median() {
        let f = Figure::of(&[3.0, 1.0, 2.0]);
        assert_eq!((f.median, f.min, f.max), (2.0, 1.0, 3.0));
        assert_eq!(Figure::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }
}
