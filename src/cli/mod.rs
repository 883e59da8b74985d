//! The `dosim` command line: `list`, `run`, `replay`, `shrink`, `fuzz`, `merge`,
//! `conformance`, `bench`, `zoo`. Exit codes: 0 all as expected, 1 a violation was found, 2 bad
//! usage or bad input (with a message saying what was wrong), 130 a fuzz run stopped by
//! SIGINT/SIGTERM that had found nothing unexpected.

mod bench;
mod conformance;
mod diagnose;
mod fuzz;
mod interrupt;
mod merge;
mod replay;
mod summary;
mod zoo;
mod zoo_manifest;

use crate::scenarios::{self, Expect, Outcome, Scenario, Verdict};
use crate::sim::{Budgets, Compatibility, FaultPolicy, GatePolicy, SimConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::time::Duration;

/// Exit status when everything went as expected.
pub const EXIT_OK: i32 = 0;
/// Exit status when a checker found a violation.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status for bad usage or bad input.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser)]
#[command(name = "dosim", version, about = "Deterministic simulation testing for Cloudflare Durable Objects")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Run one scenario for one seed.
    Run(replay::RunArgs),
    /// Replay a regression file, or a scenario and seed, showing what happened.
    Replay(replay::ReplayArgs),
    /// Shrink a failing seed to a minimal workload and save it as a regression file.
    Shrink(replay::ShrinkArgs),
    /// Run scenarios over many seeds.
    Fuzz(fuzz::FuzzArgs),
    /// Merge the `fuzz --json` outputs of a campaign's shards into one summary.
    Merge(merge::MergeArgs),
    /// Run the storage programs on dosim and on workerd (needs Node.js) and compare.
    Conformance(conformance::ConformanceArgs),
    /// Measure how fast dosim explores, against baselines timed in the same run.
    Bench(bench::BenchArgs),
    /// Run the bug zoo: every mutant must be killed, every twin and control must pass.
    Zoo(zoo::ZooArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Faults {
    /// Drawn per seed (which faults, how often).
    Swarm,
    /// None.
    Off,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SchedulerName {
    /// Drawn per seed: random or pct.
    Swarm,
    /// madsim's uniform random order of ready tasks.
    Random,
    /// Priorities with a few drawn change points (probabilistic concurrency testing).
    Pct,
}

/// Options shared by the commands that run scenarios.
#[derive(Args, Clone)]
struct RunOptions {
    /// Input gate. `off` is the tester's switch: the checkers must then complain.
    #[arg(long, value_enum, default_value = "on")]
    input_gate: Switch,
    /// Output gate. `off` is the tester's switch: the checkers must then complain.
    #[arg(long, value_enum, default_value = "on")]
    output_gate: Switch,
    /// Fault injection.
    #[arg(long, value_enum, default_value = "swarm")]
    faults: Faults,
    /// Which ready strand runs first.
    #[arg(long, value_enum, default_value = "swarm")]
    scheduler: SchedulerName,
    /// Your own JavaScript or TypeScript module (for the scenario `calls`).
    #[arg(long, value_name = "PATH")]
    module: Option<std::path::PathBuf>,
    /// The exported Durable Object class of --module to run.
    #[arg(long, value_name = "NAME")]
    class: Option<String>,
    /// A method clients call, with how to draw its arguments: `name` or
    /// `name(arg, ...)`, an arg being int, `int A..B`, bool, string, key, or a JSON
    /// literal. Repeat for each method.
    #[arg(long = "method", value_name = "SPEC")]
    methods: Vec<String>,
    /// An HTTP request clients send to the class's `fetch`: `METHOD /path/{arg}
    /// [JSON body]`, each `{arg}` in the path and each bare argument in the body drawn like
    /// a method's (`POST /items/{key} {"n": int 1..9}`). Repeat for each.
    #[arg(long = "request", value_name = "SPEC")]
    requests: Vec<String>,
    /// Storage back-end of --module's classes: sqlite (the default) or kv. For a project,
    /// its `migrations` decide, unless this is given.
    #[arg(long)]
    backend: Option<String>,
    /// A Worker project's wrangler config (wrangler.json, wrangler.jsonc or wrangler.toml):
    /// its entry module, Durable Object bindings, back-ends and vars. Without --module, the
    /// config in the current folder is used if there is one.
    #[arg(long, value_name = "PATH")]
    config: Option<std::path::PathBuf>,
    /// The project's Durable Object binding clients call (default: its first).
    #[arg(long, value_name = "BINDING")]
    object: Option<String>,
    /// Another class of --module that the object reaches as `env.BINDING` (repeatable).
    #[arg(long = "bind", value_name = "BINDING=CLASS")]
    bindings: Vec<String>,
    /// A plain `env` value for --module's classes: JSON, or else a string (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// WebSocket clients: the path they connect on (the object's fetch answers 101), with
    /// `{GEN}` placeholders drawn from the --method generators. Needs --send.
    #[arg(long, value_name = "PATH")]
    websocket: Option<String>,
    /// What WebSocket clients send (repeatable): JSON with bare generators
    /// (`{"op": "join", "room": key}`) or text with `{GEN}` placeholders.
    #[arg(long = "send", value_name = "SPEC")]
    sends: Vec<String>,
    /// Who answers the object's outbound fetch to HOST: a module's default export, or
    /// EXPORT (a class or an object with a fetch method). Other hosts answer 404. Repeatable.
    #[arg(long = "responder", value_name = "HOST=FILE[#EXPORT]")]
    responders: Vec<String>,
    /// Change a budget (repeatable): js-turn-steps, js-run-steps, js-memory, call-depth,
    /// reply-bytes, sql-steps, run-turns, overruns, trace-lines, watchdog (seconds). Object code
    /// that overruns one is stopped and reported as a `budget` finding.
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limits: Vec<String>,
    /// The compatibility date the objects run at (default 2026-11-17, the pinned
    /// workerd's): date-dependent behaviours follow it (SEMANTICS.md).
    #[arg(long, value_name = "YYYY-MM-DD")]
    compatibility_date: Option<String>,
    /// Compatibility flags, comma-separated (e.g. delete_all_preserves_alarm).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    compatibility_flags: Vec<String>,
}

impl RunOptions {
    fn config(&self, seed: u64) -> SimConfig {
        let gate = |s: Switch| if s == Switch::On { GatePolicy::Enforced } else { GatePolicy::Disabled };
        let faults = if self.faults == Faults::Swarm { FaultPolicy::Swarm } else { FaultPolicy::Off };
        // Checked in `scenario`, which every command calls first.
        let budgets = self.budgets().unwrap_or_default();
        SimConfig::new(seed)
            .input_gate(gate(self.input_gate))
            .output_gate(gate(self.output_gate))
            .faults(faults)
            .budgets(budgets)
            .compatibility(self.compatibility().unwrap_or_default())
            .scheduler(match self.scheduler {
                SchedulerName::Swarm => crate::sim::Scheduler::Swarm,
                SchedulerName::Random => crate::sim::Scheduler::Random,
                SchedulerName::Pct => crate::sim::Scheduler::Pct,
            })
    }

    /// Whether --compatibility-date or --compatibility-flags was given.
    fn names_compatibility(&self) -> bool {
        self.compatibility_date.is_some() || !self.compatibility_flags.is_empty()
    }

    /// The compatibility date and flags given; else a Worker project's (once loaded);
    /// else the defaults.
    fn compatibility(&self) -> Result<Compatibility, String> {
        let project = scenarios::user::loaded().map(|s| s.spec()).filter(|s| s.project.is_some());
        let date = self
            .compatibility_date
            .as_deref()
            .or_else(|| project.and_then(|s| s.compatibility_date.as_deref()))
            .unwrap_or(crate::sim::compat::DEFAULT_DATE);
        match (&self.compatibility_flags, project) {
            (flags, Some(s)) if flags.is_empty() && !self.names_compatibility() => {
                Compatibility::new(date, &s.compatibility_flags)
            }
            (flags, _) => Compatibility::new(date, flags),
        }
    }

    /// The budgets, with every `--limit` applied.
    fn budgets(&self) -> Result<Budgets, String> {
        let mut b = Budgets::default();
        for l in &self.limits {
            b.set(l)?;
        }
        Ok(b)
    }

    /// The flags that reproduce these options (empty for the defaults).
    fn flags(&self) -> String {
        let mut s = String::new();
        if self.input_gate == Switch::Off {
            s.push_str(" --input-gate off");
        }
        if self.output_gate == Switch::Off {
            s.push_str(" --output-gate off");
        }
        if self.faults == Faults::Off {
            s.push_str(" --faults off");
        }
        match self.scheduler {
            SchedulerName::Swarm => {}
            SchedulerName::Random => s.push_str(" --scheduler random"),
            SchedulerName::Pct => s.push_str(" --scheduler pct"),
        }
        if let Some(m) = &self.module {
            s.push_str(&format!(" --module {}", shell_word(&m.display().to_string())));
        }
        if let Some(c) = &self.class {
            s.push_str(&format!(" --class {}", shell_word(c)));
        }
        for m in &self.methods {
            s.push_str(&format!(" --method {}", shell_word(m)));
        }
        for r in &self.requests {
            s.push_str(&format!(" --request {}", shell_word(r)));
        }
        if let Some(c) = &self.config {
            s.push_str(&format!(" --config {}", shell_word(&c.display().to_string())));
        }
        if let Some(o) = &self.object {
            s.push_str(&format!(" --object {}", shell_word(o)));
        }
        if let Some(b) = self.backend.as_deref().filter(|b| *b != "sqlite") {
            s.push_str(&format!(" --backend {}", shell_word(b)));
        }
        for b in &self.bindings {
            s.push_str(&format!(" --bind {}", shell_word(b)));
        }
        for v in &self.vars {
            s.push_str(&format!(" --env {}", shell_word(v)));
        }
        if let Some(w) = &self.websocket {
            s.push_str(&format!(" --websocket {}", shell_word(w)));
        }
        for m in &self.sends {
            s.push_str(&format!(" --send {}", shell_word(m)));
        }
        for r in &self.responders {
            s.push_str(&format!(" --responder {}", shell_word(r)));
        }
        for l in self.budgets().unwrap_or_default().flags() {
            s.push_str(&format!(" --limit {}", shell_word(&l)));
        }
        if let Some(d) = &self.compatibility_date {
            s.push_str(&format!(" --compatibility-date {}", shell_word(d)));
        }
        if !self.compatibility_flags.is_empty() {
            s.push_str(&format!(" --compatibility-flags {}", shell_word(&self.compatibility_flags.join(","))));
        }
        s
    }

    /// The scenario called `name`: a built-in one, or `calls` on --module's class.
    fn scenario(&self, name: &str) -> Result<&'static dyn Scenario, String> {
        self.budgets()?;
        self.compatibility()?;
        if name != scenarios::user::GENERIC {
            if self.config.is_some() {
                return Err(format!(
                    "--config runs a project with the generic workload {:?}, not {name:?}",
                    scenarios::user::GENERIC
                ));
            }
            if self.module.is_some() {
                return Err(format!(
                    "--module runs with the generic workload {:?}, not {name:?}",
                    scenarios::user::GENERIC
                ));
            }
            return find(name);
        }
        if self.module.is_none() {
            return match self.project_config() {
                Some(config) => self.project_scenario(&config),
                None => Err(format!(
                    "the scenario {:?} needs --module PATH and --class NAME, or a Worker project: a wrangler config \
                     (wrangler.json, wrangler.jsonc, wrangler.toml) in this folder or --config PATH",
                    scenarios::user::GENERIC
                )),
            };
        }
        if self.config.is_some() || self.object.is_some() {
            return Err(
                "--module and --config (or --object) cannot be used together: a project names its module".into()
            );
        }
        let Some(module) = &self.module else { unreachable!("checked above") };
        let class = self.class.clone().ok_or("--module needs --class NAME: the exported class to run")?;
        if !scenarios::user::is_module_path(module) {
            return Err(format!("{}: a module ends in .ts, .mts, .js or .mjs", module.display()));
        }
        let methods = self.methods.iter().map(|m| scenarios::user::MethodSpec::parse(m)).collect::<Result<_, _>>()?;
        let backend = scenarios::user::parse_backend(self.backend.as_deref().unwrap_or("sqlite"))?;
        let bindings =
            self.bindings.iter().map(|b| scenarios::user::parse_pair(b, "--bind")).collect::<Result<_, _>>()?;
        let vars = self
            .vars
            .iter()
            .map(|v| scenarios::user::parse_pair(v, "--env").map(|(k, v)| (k, scenarios::user::env_value(&v))))
            .collect::<Result<_, _>>()?;
        let mut spec = scenarios::user::UserSpec::new(module.clone(), class, methods, backend);
        spec.requests = self.http_requests()?;
        spec.bindings = bindings;
        spec.vars = vars;
        spec.network = self.network_spec()?;
        Ok(scenarios::user::UserScenario::load(spec)?)
    }

    /// Whether the command line says what clients do (--method, --request, --websocket, --send).
    fn names_workload(&self) -> bool {
        !self.methods.is_empty() || !self.requests.is_empty() || self.websocket.is_some() || !self.sends.is_empty()
    }

    /// The `--websocket`, `--send` and `--responder` specs.
    fn network_spec(&self) -> Result<scenarios::network::NetworkSpec, String> {
        scenarios::network::NetworkSpec::parse(self.websocket.as_deref(), &self.sends, &self.responders)
    }

    /// The `--request` specs.
    fn http_requests(&self) -> Result<Vec<scenarios::http::RequestSpec>, String> {
        self.requests.iter().map(|r| scenarios::http::RequestSpec::parse(r)).collect()
    }

    /// The wrangler config to run: --config, else (without --module) the current folder's.
    fn project_config(&self) -> Option<std::path::PathBuf> {
        match (&self.config, &self.module) {
            (Some(c), _) => Some(c.clone()),
            (None, None) => scenarios::project::find_config(std::path::Path::new(".")),
            (None, Some(_)) => None,
        }
    }

    /// The generic workload on a project: clients call the class of its first Durable
    /// Object binding (or --object's); the other bindings, vars and back-ends are the
    /// config's, with --bind, --env and --backend on top.
    fn project_scenario(&self, config: &std::path::Path) -> Result<&'static dyn Scenario, String> {
        use scenarios::user::{env_value, parse_pair, MethodSpec, UserScenario, UserSpec};
        let project = scenarios::project::Project::load(config)?;
        let file = scenarios::project::Workload::load(project.folder())?;
        let names = || project.bindings.iter().map(|b| b.name.as_str()).collect::<Vec<_>>().join(", ");
        let chosen = match self.object.as_ref().or(file.object.as_ref()) {
            Some(o) => project.bindings.iter().find(|b| &b.name == o).ok_or_else(|| {
                let from = match (&self.object, &file.source) {
                    (None, Some(f)) => format!("{}: \"object\": {o}", f.display()),
                    _ => format!("--object {o}"),
                };
                format!("{from}: {} has no such Durable Object binding; it has: {}", config.display(), names())
            })?,
            None => project.bindings.first().ok_or_else(|| {
                format!("{} binds no Durable Object class (durable_objects.bindings)", config.display())
            })?,
        };
        if let Some(c) = self.class.as_ref().filter(|c| **c != chosen.class) {
            return Err(format!(
                "--class {c}: binding {} runs class {}; choose the binding with --object",
                chosen.name, chosen.class
            ));
        }
        project.install_dependencies()?;
        // The command line's workload, if it names one, else the project's dosim.jsonc.
        let workload = if self.names_workload() {
            scenarios::project::Workload {
                methods: self.methods.clone(),
                requests: self.requests.clone(),
                websocket: self.websocket.clone(),
                sends: self.sends.clone(),
                ..Default::default()
            }
        } else {
            file.clone()
        };
        let responders = if self.responders.is_empty() { file.responder_flags() } else { self.responders.clone() };
        // A spec from the file is wrong in the file: say which.
        let in_file = |e: String| match &workload.source {
            Some(f) => format!("{}: {e}", f.display()),
            None => e,
        };
        let methods =
            workload.methods.iter().map(|m| MethodSpec::parse(m)).collect::<Result<_, _>>().map_err(in_file)?;
        let mut spec =
            UserSpec::new(project.main.clone(), chosen.class.clone(), methods, project.backend_of(&chosen.class));
        spec.binding = chosen.name.clone();
        spec.requests = workload
            .requests
            .iter()
            .map(|r| scenarios::http::RequestSpec::parse(r))
            .collect::<Result<_, _>>()
            .map_err(in_file)?;
        spec.network =
            scenarios::network::NetworkSpec::parse(workload.websocket.as_deref(), &workload.sends, &responders)
                .map_err(in_file)?;
        spec.bindings = project
            .bindings
            .iter()
            .filter(|b| b.name != chosen.name)
            .map(|b| (b.name.clone(), b.class.clone()))
            .collect();
        for b in &self.bindings {
            spec.bindings.push(parse_pair(b, "--bind")?);
        }
        spec.vars = project.vars.clone();
        for v in &self.vars {
            let (k, v) = parse_pair(v, "--env")?;
            spec.vars.retain(|(name, _)| *name != k);
            spec.vars.push((k, env_value(&v)));
        }
        match &self.backend {
            Some(b) => spec.backend = scenarios::user::parse_backend(b)?,
            None => spec.backends = project.backends.iter().map(|(c, b)| (c.clone(), *b)).collect(),
        }
        spec.project = Some(project.config.clone());
        spec.compatibility_date = project.compatibility_date.clone();
        spec.compatibility_flags = project.compatibility_flags.clone();
        let loaded = UserScenario::load(spec)?;
        self.compatibility().map_err(|e| format!("{}: {e}", config.display()))?;
        Ok(loaded)
    }
}

/// `text` quoted for a POSIX shell when it needs it.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Runs the command line; returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    if let Ok(v) = std::env::var("DOSIM_RUN_THREADS") {
        if let Err(e) = crate::sim::run::RunThreads::parse(&v) {
            return usage(e);
        }
    }
    match cli.command {
        Command::List => list(),
        Command::Run(a) => replay::run(&a),
        Command::Replay(a) => replay::replay(&a),
        Command::Shrink(a) => replay::shrink(&a),
        Command::Fuzz(a) => fuzz::fuzz(&a),
        Command::Merge(a) => merge::merge(&a),
        Command::Conformance(a) => conformance::conformance(&a),
        Command::Bench(a) => bench::bench(&a),
        Command::Zoo(a) => zoo::zoo(&a),
    }
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    EXIT_USAGE
}

fn find(name: &str) -> Result<&'static dyn Scenario, String> {
    scenarios::find(name).ok_or_else(|| {
        let names: Vec<_> = scenarios::all().iter().map(|s| s.name()).collect();
        format!("unknown scenario {name:?}; the scenarios are: {}", names.join(", "))
    })
}

fn list() -> i32 {
    for s in scenarios::all() {
        let tag = if s.expect() == Expect::Defect { "  (has a known defect: must fail)" } else { "" };
        println!("{:<16} {}{tag}", s.name(), s.about());
    }
    EXIT_OK
}

/// The command that replays one run of a scenario.
pub fn replay_command(scenario: &str, seed: u64, flags: &str) -> String {
    format!("dosim run {scenario} --seed {seed}{flags} --trace")
}

fn verdict_status(o: &Outcome) -> i32 {
    if o.verdict() == Verdict::Pass {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

fn run_json(o: &Outcome, wall: Duration) -> serde_json::Value {
    let r = &o.report;
    serde_json::json!({
        "scenario": o.scenario,
        "seed": r.seed,
        "verdict": o.verdict(),
        "trace_hash": r.trace_hash,
        "violations": o.violations.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "faults": r.faults.to_string(),
        "requests": r.history.len(),
        "stats": r.stats,
        "sim_time_ms": r.sim_time.as_millis(),
        "wall_ms": (wall.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "alarm_errors": alarm_errors(r),
    })
}

/// Alarm attempts that did not succeed, with their error (`object: at Nms, retry K: failed: text`).
fn alarm_errors(r: &crate::sim::RunReport) -> Vec<String> {
    r.alarms
        .iter()
        .filter(|a| a.outcome != "ok" && a.outcome != "running")
        .map(|a| format!("{}: at {}ms, retry {}: {}", a.object, a.at.as_millis(), a.retry_count, a.outcome))
        .collect()
}

fn print_outcome(o: &Outcome, wall: Duration, replay: &str) {
    let s = o.summary();
    let r = &o.report;
    println!("scenario {}  seed {}  faults: {}", o.scenario, r.seed, s.faults);
    println!(
        "calls {} (ok {}, fail {}, info {}, pending {})  crashes {}  commits {}  held replies {}  gate waits {}",
        s.requests, s.ok, s.fail, s.info, s.pending, s.crashes, s.commits, s.held_replies, s.gate_waits
    );
    println!(
        "simulated {} ms in {:.2} ms of wall time  trace_hash {}",
        s.sim_time_ms,
        wall.as_secs_f64() * 1000.0,
        r.trace_hash
    );
    for e in alarm_errors(r) {
        println!("alarm error: {e}");
    }
    match o.verdict() {
        Verdict::Pass => println!("verdict: pass"),
        Verdict::Fail => {
            println!("verdict: FAIL");
            for v in &o.violations {
                println!("  {v}");
            }
            println!("replay: {replay}");
        }
    }
}
