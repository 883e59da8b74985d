//! Differential conformance: the storage programs of `conformance/programs/` run on the
//! real runtime (workerd, `tests/workerd/script.js`) and on dosim, and their results
//! compared. dosim runs each program twice, with two [`Runner`]s: the Rust [`Script`]
//! object, and script.js itself (the very file workerd runs, unmodified) on the JavaScript
//! host `dosim-js`; each runner is a column of the report. `conformance/README.md`
//! describes the programs, the comparison and its normalisation rules; `dosim conformance`
//! prints the report.
//!
//! - A program run alone must give identical results on both sides, step by step, error
//!   texts included.
//! - A program with `concurrent` also runs as N concurrent copies on one object: workerd's
//!   outcome (one sample) must be among the outcomes dosim produces over its seeds, and no
//!   outcome of either side may break the program's `distinct` rule.
//! - A disagreement listed in `conformance/known-differences.json` is reported as known;
//!   any other one fails the run.
//!
//! workerd is installed from the npm registry by `bench/workerd/install.sh` (into a cache
//! folder, once), started on a loopback port the kernel picks, and stopped on every way
//! out ([`Workerd`] is a drop guard; on Linux it also dies with its parent).

use crate::models::script::{error_json, Call, Program, Script, ScriptCall, Step, BINDING};
use crate::sim::{Backend, Compatibility, FaultPolicy, SimConfig, World};
use dosim_js::{register, stringified, JsCall, JsClass, JsObject, JsProgram};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workerd config and the JavaScript object, carried by the binary and written next
/// to each other in workerd's temporary folder.
const CONFIG_CAPNP: &str = include_str!("../tests/workerd/config.capnp");
const SCRIPT_JS: &str = include_str!("../tests/workerd/script.js");
const INSTALL_SH: &str = include_str!("../bench/workerd/install.sh");

/// Runs of each concurrent program on workerd: every outcome seen must be one dosim gives.
const WORKERD_SAMPLES: u64 = 3;

/// The pinned workerd release (the npm package version `install.sh` installs).
pub const WORKERD_VERSION: &str = "1.20261117.1";

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder with `programs/` and `known-differences.json`.
    pub dir: PathBuf,
    /// Seeds dosim runs each concurrent program over.
    pub seeds: u64,
    /// Only programs whose id contains this.
    pub only: Option<String>,
    /// Print every comparison, not only the disagreements.
    pub verbose: bool,
    /// Also print what both sides answered for the programs that agree.
    pub show: bool,
    /// The compatibility date and flags of the programs that name none (both sides).
    pub compatibility: Compatibility,
}

impl Options {
    /// The defaults: this repository's `conformance/` folder, 200 seeds.
    pub fn new() -> Options {
        Options {
            dir: default_dir(),
            seeds: 200,
            only: None,
            verbose: false,
            show: false,
            compatibility: Compatibility::default(),
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

/// `conformance/` under the current folder when there is one, else in this repository.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("conformance");
    if here.join("programs").is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
    }
}

/// A group of programs (one file of `conformance/programs/`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    #[allow(dead_code)]
    about: String,
    programs: Vec<Program>,
}

/// A recorded difference between dosim and workerd, with its reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownDifference {
    pub program: String,
    /// `alone` or `concurrent`.
    pub mode: String,
    /// The runner it is about (`rust` or `js`); absent: a difference of dosim's runtime,
    /// which every runner meets (see [`KnownDifference::explains`]).
    #[serde(default)]
    pub runner: Option<String>,
    pub what: String,
    pub why: String,
}

/// Every program of `dir/programs/*.json`, in file order then program order.
pub fn load_programs(dir: &Path) -> Result<Vec<Program>, String> {
    let folder = dir.join("programs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("cannot read {}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut programs: Vec<Program> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let group: Group = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        programs.extend(group.programs);
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &programs {
        if !seen.insert(p.id.clone()) {
            return Err(format!("program id {:?} is used twice", p.id));
        }
        let mut steps: Vec<&Step> =
            p.calls.iter().flat_map(|c| c.steps.iter().chain(c.alarm.iter().flatten())).collect();
        while let Some(s) = steps.pop() {
            if s.needs_js() && !p.js_only {
                return Err(format!(
                    "{}: a {:?} step asks about JavaScript values: mark the program js_only",
                    p.id, s.op
                ));
            }
            if s.wait == Some(false) && !s.may_skip_await() {
                return Err(format!("{}: only storage steps may be left un-awaited, not {:?}", p.id, s.op));
            }
            steps.extend(s.steps.iter().flatten());
        }
        if p.concurrent.as_ref().is_some_and(|c| c.copies < 2) {
            return Err(format!("{}: concurrent copies must be at least 2", p.id));
        }
    }
    Ok(programs)
}

/// The known-differences list (`dir/known-differences.json`).
pub fn load_known(dir: &Path) -> Result<Vec<KnownDifference>, String> {
    let f = dir.join("known-differences.json");
    let text = std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
    let known: Vec<KnownDifference> = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
    for k in &known {
        if k.mode != "alone" && k.mode != "concurrent" {
            return Err(format!("known difference for {}: mode must be alone or concurrent", k.program));
        }
        if k.runner.as_deref().is_some_and(|r| Runner::from_name(r).is_none()) {
            return Err(format!("known difference for {}: runner must be rust or js", k.program));
        }
    }
    Ok(known)
}

// ---------------------------------------------------------------------------------------
// dosim's side

/// Which of dosim's objects runs the programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runner {
    /// The Rust [`Script`] object (`models/src/script.rs`).
    Rust,
    /// `tests/workerd/script.js` itself, the very file workerd runs, on the JavaScript
    /// host (`dosim-js`).
    Js,
}

impl Runner {
    /// Every runner, in report order.
    pub const ALL: [Runner; 2] = [Runner::Rust, Runner::Js];

    /// Its name in reports and in `known-differences.json`.
    pub fn name(self) -> &'static str {
        match self {
            Runner::Rust => "rust",
            Runner::Js => "js",
        }
    }

    /// The runner called `name`.
    pub fn from_name(name: &str) -> Option<Runner> {
        Runner::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Makes the program's namespace run this runner's object.
    fn setup(self, world: &World) {
        if self == Runner::Js {
            register(world, BINDING, Backend::Sqlite, JsClass::new(script_js(), "Script"));
            register(world, "SCRIPT_NO_ALARM", Backend::Sqlite, JsClass::new(script_js(), "ScriptNoAlarm"));
        }
    }
}

/// `tests/workerd/script.js`, compiled once per process.
fn script_js() -> Arc<JsProgram> {
    static PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();
    JsProgram::embedded(&PROGRAM, "script.js", SCRIPT_JS)
}

/// A run of `program`: no faults, at the program's compatibility date and flags.
fn config(seed: u64, program: &Program) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off).compatibility(program.compatibility.clone().unwrap_or_default())
}

/// When dosim's runs make their first call. dosim's clock starts at 0, workerd's (wall
/// time since 1970) is far from it: from a minute in, a time a few seconds in the past
/// (`now + in_ms` with a negative `in_ms`, which script.js computes from `Date.now()`) is
/// still after the epoch on both.
const START: Duration = Duration::from_secs(60);

async fn call_once(world: &World, runner: Runner, client: usize, name: &str, call: &Call) -> Value {
    if call.delay_ms > 0 {
        world.sleep(Duration::from_millis(call.delay_ms)).await;
    }
    let outcome = match runner {
        Runner::Rust => {
            let ns = world.namespace::<Script>(BINDING);
            let stub = ns.get(&ns.id_from_name(name));
            let request = ScriptCall { name: name.to_owned(), steps: call.steps.clone(), alarm: call.alarm.clone() };
            world.client(client).call(&stub, request).await.map(Value::Array)
        }
        Runner::Js => {
            // As script.js's own `callOnce`: `stub.run({ ...call, name })`; the reply is
            // what `Response.json` makes of it on workerd.
            let ns = world.namespace::<JsObject>(BINDING);
            let stub = ns.get(&ns.id_from_name(name));
            let mut arg = serde_json::to_value(call).expect("a call is JSON");
            arg["name"] = json!(name);
            match world.client(client).call(&stub, JsCall::new("run", vec![arg])).await {
                Ok(reply) => stringified(&reply).map_err(|e| {
                    let mut e = crate::sim::Error::usage(e);
                    e.remote = true;
                    e
                }),
                Err(e) => Err(e),
            }
        }
    };
    match outcome {
        Ok(results) => json!({ "results": results }),
        Err(e) => json!({ "error": error_json(&e) }),
    }
}

async fn calls_in_order(world: &World, runner: Runner, client: usize, name: &str, calls: &[Call]) -> Vec<Value> {
    let mut out = Vec::new();
    for c in calls {
        out.push(call_once(world, runner, client, name, c).await);
    }
    out
}

/// What dosim answers for `program` run alone (seed `seed`, no faults): `{"calls": [...]}`,
/// and the violations dosim's own checkers found.
pub fn alone(runner: Runner, program: &Program, seed: u64) -> (Value, Vec<String>) {
    let slot: Arc<Mutex<Value>> = Arc::default();
    let (out, calls) = (slot.clone(), program.calls.clone());
    let report = crate::sim::run(config(seed, program), move |world| async move {
        runner.setup(&world);
        world.sleep(START).await;
        let outcomes = calls_in_order(&world, runner, 0, "p", &calls).await;
        *out.lock().expect("lock") = json!({ "calls": outcomes });
    });
    let value = slot.lock().expect("lock").clone();
    (value, report.violations.iter().map(|v| format!("[{}] {}", v.checker, v.message)).collect())
}

/// One outcome of `program`'s concurrent copies on dosim: `{"copies": [...], "after": ...}`.
pub fn concurrent(runner: Runner, program: &Program, seed: u64) -> (Value, Vec<String>) {
    let Some(conc) = program.concurrent.clone() else { return (Value::Null, Vec::new()) };
    let slot: Arc<Mutex<Value>> = Arc::default();
    let (out, calls) = (slot.clone(), program.calls.clone());
    let report = crate::sim::run(config(seed, program), move |world| async move {
        runner.setup(&world);
        world.sleep(START).await;
        let tasks: Vec<_> = (0..conc.copies)
            .map(|i| {
                let (w, calls) = (world.clone(), calls.clone());
                world.spawn(async move { calls_in_order(&w, runner, i, "p", &calls).await })
            })
            .collect();
        let mut copies = Vec::new();
        for t in tasks {
            copies.push(Value::Array(t.await.expect("a copy ran to completion")));
        }
        let after = match &conc.after {
            Some(c) => call_once(&world, runner, conc.copies, "p", c).await,
            None => Value::Null,
        };
        *out.lock().expect("lock") = json!({ "copies": copies, "after": after });
    });
    let value = slot.lock().expect("lock").clone();
    (value, report.violations.iter().map(|v| format!("[{}] {}", v.checker, v.message)).collect())
}

/// [`alone`] with the Rust [`Script`].
pub fn dosim_alone(program: &Program, seed: u64) -> (Value, Vec<String>) {
    alone(Runner::Rust, program, seed)
}

/// [`concurrent`] with the Rust [`Script`].
pub fn dosim_concurrent(program: &Program, seed: u64) -> (Value, Vec<String>) {
    concurrent(Runner::Rust, program, seed)
}

// ---------------------------------------------------------------------------------------
// Normalisation and comparison (conformance/README.md, "Comparison")

/// Rule 1: numbers compare by value (JavaScript has one number type: `1.0` is `1`).
/// Rule 2: workerd's error reference ids (`reference = <hex>`) become `reference = <id>`.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => json!(x as i64),
            _ => v.clone(),
        },
        Value::String(s) => Value::String(normalize_text(s)),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        Value::Bool(_) | Value::Null => v.clone(),
    }
}

fn normalize_text(s: &str) -> String {
    const MARK: &str = "reference = ";
    let Some(i) = s.find(MARK) else { return s.to_owned() };
    let rest = &s[i + MARK.len()..];
    // workerd's ids are lowercase letters and digits (`cek7v1rtaglsiahmudlstpdr`).
    let hex = rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit()).count();
    if hex == 0 {
        return s.to_owned();
    }
    format!("{}{MARK}<id>{}", &s[..i], normalize_text(&rest[hex..]))
}

/// One concurrent outcome in canonical form: normalised, the copies sorted.
fn canonical(outcome: &Value) -> String {
    let v = normalize(outcome);
    let mut copies: Vec<String> =
        v["copies"].as_array().map(|a| a.iter().map(|c| c.to_string()).collect()).unwrap_or_default();
    copies.sort();
    let copies: Vec<Value> = copies.iter().map(|c| serde_json::from_str(c).expect("JSON")).collect();
    json!({ "copies": copies, "after": v["after"] }).to_string()
}

/// Why an outcome is forbidden by the program's `distinct` rule, if it is.
fn forbidden(program: &Program, outcome: &Value) -> Option<String> {
    let conc = program.concurrent.as_ref()?;
    let copies = outcome["copies"].as_array()?;
    for &i in &conc.distinct {
        let mut seen: Vec<Value> = Vec::new();
        for c in copies {
            let Some(v) = c[0]["results"].get(i).and_then(|r| r.get("ok")) else { continue };
            let v = normalize(v);
            if seen.contains(&v) {
                return Some(format!("two copies got {v} at step {i} (the semantics forbid it)"));
            }
            seen.push(v);
        }
    }
    None
}

/// A difference between the sides, for the report.
#[derive(Debug, Clone)]
pub struct Difference {
    pub program: String,
    pub mode: &'static str,
    /// Where (`call 0 step 3`) and what, one line.
    pub detail: String,
    pub workerd: String,
    pub dosim: String,
    /// The known-differences entry that explains it.
    pub known: Option<KnownDifference>,
}

/// Step-by-step comparison of a program run alone.
fn compare_alone(workerd: &Value, dosim: &Value) -> Vec<(String, String, String)> {
    let (w, d) = (normalize(workerd), normalize(dosim));
    let empty = Vec::new();
    let wc = w["calls"].as_array().unwrap_or(&empty);
    let dc = d["calls"].as_array().unwrap_or(&empty);
    let mut diffs = Vec::new();
    for i in 0..wc.len().max(dc.len()) {
        let (a, b) = (wc.get(i).unwrap_or(&Value::Null), dc.get(i).unwrap_or(&Value::Null));
        if a == b {
            continue;
        }
        match (a["results"].as_array(), b["results"].as_array()) {
            (Some(ra), Some(rb)) => {
                for j in 0..ra.len().max(rb.len()) {
                    let (x, y) = (ra.get(j).unwrap_or(&Value::Null), rb.get(j).unwrap_or(&Value::Null));
                    if x != y {
                        diffs.push((format!("call {i} step {j}"), x.to_string(), y.to_string()));
                    }
                }
            }
            _ => diffs.push((format!("call {i}"), a.to_string(), b.to_string())),
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------
// workerd

/// A running workerd: stopped (its process group, then its folder removed) when dropped.
pub struct Workerd {
    child: Child,
    port: u16,
    dir: PathBuf,
}

/// Installs the pinned workerd into the cache if missing (`bench/workerd/install.sh`) and
/// returns its binary. `WORKERD_BIN` overrides it, as in `bench/workerd/lib.sh`.
pub fn install_workerd() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("WORKERD_BIN").filter(|b| !b.is_empty()) {
        return Ok(PathBuf::from(bin));
    }
    let script = std::env::temp_dir().join(format!("dosim-install-workerd.{}.sh", std::process::id()));
    std::fs::write(&script, INSTALL_SH).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let out = Command::new("bash").arg(&script).stdin(Stdio::null()).stderr(Stdio::inherit()).output();
    let _ = std::fs::remove_file(&script);
    let out = out.map_err(|e| format!("cannot run bash: {e}"))?;
    if !out.status.success() {
        return Err(format!("installing workerd {WORKERD_VERSION} failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let bin = text.lines().last().unwrap_or("").trim();
    if bin.is_empty() {
        return Err("install.sh printed no binary path".into());
    }
    Ok(PathBuf::from(bin))
}

/// `tests/workerd/config.capnp` at another compatibility date, with flags.
pub fn config_at(c: &Compatibility) -> Result<String, String> {
    c.check()?;
    let line = format!("compatibilityDate = \"{}\",", crate::sim::compat::DEFAULT_DATE);
    if !CONFIG_CAPNP.contains(&line) {
        return Err(format!("tests/workerd/config.capnp has no line `{line}` to set the date in"));
    }
    let flags: Vec<String> = c.flags.iter().map(|f| format!("\"{f}\"")).collect();
    let at = format!("compatibilityDate = \"{}\",\n  compatibilityFlags = [{}],", c.date, flags.join(", "));
    Ok(CONFIG_CAPNP.replace(&line, &at))
}

impl Workerd {
    /// Starts workerd with `tests/workerd/config.capnp` on 127.0.0.1 (a port the kernel
    /// picks, read from the control descriptor) and fresh storage; waits until it answers.
    pub fn start(bin: &Path, compatibility: &Compatibility) -> Result<Workerd, String> {
        let config = config_at(compatibility)?;
        sweep_stale_folders();
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("dosim-conformance.{}.{nonce}", std::process::id()));
        std::fs::create_dir_all(dir.join("storage")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cleanup = |e: String| {
            let _ = std::fs::remove_dir_all(&dir);
            e
        };
        std::fs::write(dir.join("config.capnp"), config).map_err(|e| cleanup(format!("write config: {e}")))?;
        std::fs::write(dir.join("script.js"), SCRIPT_JS).map_err(|e| cleanup(format!("write script.js: {e}")))?;
        let control = std::fs::File::create(dir.join("control")).map_err(|e| cleanup(format!("control file: {e}")))?;
        let log = std::fs::File::create(dir.join("log")).map_err(|e| cleanup(format!("log file: {e}")))?;
        let log2 = log.try_clone().map_err(|e| cleanup(format!("log file: {e}")))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg(dir.join("config.capnp"))
            .args(["--socket-addr", "http=127.0.0.1:0", "--control-fd", "3", "--directory-path"])
            .arg(format!("storage={}", dir.join("storage").display()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let fd = detach(&mut cmd, control);
        let spawned = cmd.spawn();
        // SAFETY: `fd` is ours (from `into_raw_fd`); the child has its own copy as fd 3.
        unsafe { libc::close(fd) };
        let child = spawned.map_err(|e| cleanup(format!("cannot start {}: {e}", bin.display())))?;
        let mut w = Workerd { child, port: 0, dir };
        w.wait_ready(Duration::from_secs(15))?;
        Ok(w)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("workerd exited during startup ({status}); its log:\n{}", self.log()));
            }
            if self.port == 0 {
                let control = std::fs::read_to_string(self.dir.join("control")).unwrap_or_default();
                self.port = control_port(&control).unwrap_or(0);
            }
            if self.port != 0 && http(self.port, "GET", "/health", "", Duration::from_secs(2)).is_ok() {
                return Ok(());
            }
            if t0.elapsed() > limit {
                return Err(format!("no answer from workerd within {} s; its log:\n{}", limit.as_secs(), self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Sends a request to the worker's `/run` and returns its JSON answer.
    pub fn run(&self, body: &Value, timeout: Duration) -> Result<Value, String> {
        let text = http(self.port, "POST", "/run", &body.to_string(), timeout)?;
        serde_json::from_str(&text).map_err(|e| format!("workerd answered something not JSON ({e}): {text}"))
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on the group workerd leads (it called setsid), or on workerd.
        unsafe {
            if libc::kill(-pid, libc::SIGTERM) != 0 {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            // SAFETY: as above.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the folders of earlier runs whose process is gone (killed by a signal, so its
/// drop guard never ran; workerd itself died with it).
fn sweep_stale_folders() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("dosim-conformance.").and_then(|r| r.split('.').next()) else { continue };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// workerd in a session of its own (a terminal's Ctrl-C does not reach it; stopping its
/// group never signals us), dying with its parent on Linux, with `control` as its fd 3.
/// Returns the descriptor of `control`, for the caller to close after the spawn.
fn detach(cmd: &mut Command, control: std::fs::File) -> i32 {
    use std::os::fd::IntoRawFd;
    use std::os::unix::process::CommandExt;
    let fd = control.into_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // dup2 onto itself keeps close-on-exec: clear it explicitly.
            if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    fd
}

/// The port of the socket `http` in workerd's control messages.
fn control_port(control: &str) -> Option<u16> {
    let marker = "\"socket\":\"http\",\"port\":";
    let at = control.find(marker)? + marker.len();
    let digits: String = control[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A minimal HTTP/1.1 exchange with 127.0.0.1 (the only host this talks to).
fn http(port: u16, method: &str, path: &str, body: &str, timeout: Duration) -> Result<String, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("no answer within {} s: {e}", timeout.as_secs()))?;
    let text = String::from_utf8_lossy(&raw);
    let (headers, rest) = text.split_once("\r\n\r\n").ok_or("malformed HTTP answer")?;
    let status = headers.split_whitespace().nth(1).unwrap_or("");
    let chunked = headers.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(rest)? } else { rest.to_owned() };
    if status != "200" {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(body)
}

fn dechunk(mut s: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").ok_or("malformed chunk")?;
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).ok_or("short chunk")?);
        s = rest.get(n + 2..).ok_or("short chunk")?;
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// One runner's comparisons with workerd.
#[derive(Debug)]
pub struct Column {
    pub runner: Runner,
    /// Comparisons made: one per program alone, one more per concurrent program.
    pub comparisons: usize,
    pub agreements: usize,
    pub differences: Vec<Difference>,
    /// Known differences (of this runner) that did not show up this time.
    pub stale: Vec<KnownDifference>,
    /// Programs whose answers alone were the Rust Script's, result for result.
    pub as_rust: usize,
}

impl Column {
    fn new(runner: Runner) -> Column {
        Column { runner, comparisons: 0, agreements: 0, differences: Vec::new(), stale: Vec::new(), as_rust: 0 }
    }

    /// Disagreements not explained by the known-differences list.
    pub fn unexplained(&self) -> usize {
        self.differences.iter().filter(|d| d.known.is_none()).count()
    }

    /// The known differences that showed up, one per program and mode.
    fn known(&self) -> Vec<(&str, &'static str, &KnownDifference)> {
        let mut known: Vec<_> =
            self.differences.iter().filter_map(|d| d.known.as_ref().map(|k| (d.program.as_str(), d.mode, k))).collect();
        known.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        known
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub programs: usize,
    /// Of which `js_only` (not run by the Rust Script).
    pub js_only: usize,
    /// One column per runner, in [`Runner::ALL`] order.
    pub columns: Vec<Column>,
    /// Violations dosim's own checkers reported during the runs.
    pub dosim_violations: Vec<String>,
    pub wall: Duration,
}

impl Report {
    /// Disagreements not explained by the known-differences list, over every runner.
    pub fn unexplained(&self) -> usize {
        self.columns.iter().map(Column::unexplained).sum()
    }

    /// The column of `runner`.
    pub fn column(&self, runner: Runner) -> Option<&Column> {
        self.columns.iter().find(|c| c.runner == runner)
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    /// Node.js is missing: nothing was compared.
    Skipped(String),
    Done(Report),
}

/// A disagreement found by one comparison: where and what, workerd's side, dosim's side.
type Diff = (String, String, String);

/// Runs every program on workerd and on each runner, and compares (printing progress as
/// it goes when `print` is set); fails only when something could not be run at all.
pub fn run(opts: &Options, print: bool) -> Result<Outcome, String> {
    let t0 = Instant::now();
    let mut programs = load_programs(&opts.dir)?;
    let known = load_known(&opts.dir)?;
    if let Some(only) = &opts.only {
        programs.retain(|p| p.id.contains(only.as_str()));
    }
    if let Some(k) = known.iter().find(|k| !programs.iter().any(|p| p.id == k.program) && opts.only.is_none()) {
        return Err(format!("known-differences.json names a program that does not exist: {}", k.program));
    }
    if Command::new("node").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Ok(Outcome::Skipped("skipped: node not found (Node.js is needed to install and run workerd)".into()));
    }
    for p in &mut programs {
        p.compatibility
            .get_or_insert_with(|| opts.compatibility.clone())
            .check()
            .map_err(|e| format!("{}: {e}", p.id))?;
    }
    let bin = install_workerd()?;
    // One workerd per compatibility date and flags, started when a program first needs it.
    let mut workerds: BTreeMap<(String, Vec<String>), Workerd> = BTreeMap::new();
    let compat = &opts.compatibility;
    let workerd = Workerd::start(&bin, compat)?;
    if print {
        let n_conc = programs.iter().filter(|p| p.concurrent.is_some()).count();
        println!(
            "dosim conformance: {} programs ({n_conc} also as concurrent copies, dosim over {} seeds) against workerd {WORKERD_VERSION} on 127.0.0.1:{}, compatibility date {}{}",
            programs.len(),
            opts.seeds,
            workerd.port(),
            compat.date,
            if compat.flags.is_empty() { String::new() } else { format!(", flags {}", compat.flags.join(",")) }
        );
        println!(
            "  runners: rust (the Script object of models/src/script.rs), js (tests/workerd/script.js on dosim-js)"
        );
    }
    let js_only = programs.iter().filter(|p| p.js_only).count();
    let mut report = Report { programs: programs.len(), js_only, ..Default::default() };
    report.columns = Runner::ALL.into_iter().map(Column::new).collect();
    workerds.insert((compat.date.clone(), compat.flags.clone()), workerd);
    for (n, p) in programs.iter().enumerate() {
        let name = format!("{}#{n}", p.id);
        let c = p.compatibility.clone().unwrap_or_default();
        let key = (c.date.clone(), c.flags.clone());
        if !workerds.contains_key(&key) {
            workerds.insert(key.clone(), Workerd::start(&bin, &c)?);
        }
        let workerd = &workerds[&key];
        // Alone.
        let w = workerd.run(&json!({ "name": format!("{name}.alone"), "calls": p.calls }), Duration::from_secs(30))?;
        let mut rust: Option<(Value, Vec<Diff>)> = None;
        for column in &mut report.columns {
            let runner = column.runner;
            if p.js_only && runner == Runner::Rust {
                continue;
            }
            let (d, violations) = alone(runner, p, 0);
            let d = normalize(&d);
            report
                .dosim_violations
                .extend(violations.into_iter().map(|v| format!("{} (alone, {}): {v}", p.id, runner.name())));
            let diffs = compare_alone(&w, &d);
            if print && opts.show {
                if runner == Runner::ALL[0] {
                    println!("  {} alone\n      workerd: {}", p.id, normalize(&w));
                }
                println!("      {:<8} {d}", format!("{}:", runner.name()));
            }
            if !p.js_only && rust.as_ref().is_none_or(|(r, _)| *r == d) {
                column.as_rust += 1;
            }
            note(column, opts, print, p, "alone", diffs.clone(), &known, rust.as_ref().map(|(_, d)| d.as_slice()));
            if runner == Runner::Rust {
                rust = Some((d, diffs));
            }
        }
        // Concurrent copies.
        let Some(conc) = &p.concurrent else { continue };
        let mut samples: BTreeMap<String, u64> = BTreeMap::new();
        let mut workerd_diffs = Vec::new();
        for sample in 0..WORKERD_SAMPLES {
            let body = json!({
                "name": format!("{name}.concurrent.{sample}"),
                "calls": p.calls,
                "copies": conc.copies,
                "after": conc.after,
            });
            let w = workerd.run(&body, Duration::from_secs(30))?;
            let wc = canonical(&w);
            if !samples.contains_key(&wc) {
                if let Some(why) = forbidden(p, &w) {
                    workerd_diffs.push((format!("workerd broke the program's rule: {why}"), wc.clone(), String::new()));
                }
            }
            *samples.entry(wc).or_default() += 1;
        }
        let mut rust: Option<Vec<Diff>> = None;
        for column in &mut report.columns {
            let runner = column.runner;
            if p.js_only && runner == Runner::Rust {
                continue;
            }
            let seen = dosim_outcomes(runner, p, opts.seeds);
            let mut diffs = workerd_diffs.clone();
            for wc in samples.keys().filter(|wc| !seen.outcomes.contains_key(*wc)) {
                let dosim: Vec<String> = seen.outcomes.iter().map(|(o, n)| format!("{n}x {o}")).collect();
                diffs.push((
                    format!("workerd's outcome is not among dosim's {} outcomes", seen.outcomes.len()),
                    wc.clone(),
                    dosim.join("\n                 "),
                ));
            }
            for (o, why) in &seen.forbidden {
                let w: Vec<&str> = samples.keys().map(String::as_str).collect();
                diffs.push((format!("dosim produced a forbidden outcome: {why}"), w.join(" | "), o.clone()));
            }
            report
                .dosim_violations
                .extend(seen.violations.into_iter().map(|v| format!("{} (concurrent, {}): {v}", p.id, runner.name())));
            note(column, opts, print, p, "concurrent", diffs.clone(), &known, rust.as_deref());
            if print && opts.verbose {
                let hits: Vec<String> = samples
                    .iter()
                    .map(|(o, n)| format!("{n}x in {} seeds", seen.outcomes.get(o).copied().unwrap_or(0)))
                    .collect();
                println!(
                    "            {}: {} different outcomes over {} seeds; workerd's {WORKERD_SAMPLES} runs: {}",
                    runner.name(),
                    seen.outcomes.len(),
                    opts.seeds,
                    hits.join(", ")
                );
            }
            if runner == Runner::Rust {
                rust = Some(diffs);
            }
        }
    }
    drop(workerds);
    for column in &mut report.columns {
        let runner = column.runner;
        column.stale = known
            .iter()
            .filter(|k| k.runner.as_deref().is_none_or(|r| r == runner.name()))
            .filter(|k| programs.iter().any(|p| p.id == k.program))
            .filter(|k| !column.differences.iter().any(|d| d.program == k.program && d.mode == k.mode))
            .cloned()
            .collect();
    }
    report.wall = t0.elapsed();
    if print {
        print_summary(&report);
    }
    Ok(Outcome::Done(report))
}

/// dosim's outcomes of a concurrent program over `seeds` seeds.
struct Seen {
    /// Canonical outcome -> seeds that produced it.
    outcomes: BTreeMap<String, u64>,
    /// Forbidden outcomes and why.
    forbidden: Vec<(String, String)>,
    violations: Vec<String>,
}

fn dosim_outcomes(runner: Runner, p: &Program, seeds: u64) -> Seen {
    let mut seen = Seen { outcomes: BTreeMap::new(), forbidden: Vec::new(), violations: Vec::new() };
    for seed in 0..seeds {
        let (o, violations) = concurrent(runner, p, seed);
        let c = canonical(&o);
        if let Some(why) = forbidden(p, &o) {
            if !seen.forbidden.iter().any(|(f, _)| *f == c) {
                seen.forbidden.push((c.clone(), format!("{why}, seed {seed}")));
            }
        }
        *seen.outcomes.entry(c).or_default() += 1;
        for v in violations {
            if !seen.violations.contains(&v) {
                seen.violations.push(format!("seed {seed}: {v}"));
            }
        }
    }
    seen
}

impl KnownDifference {
    /// Whether this entry explains `diffs`, found by `runner` on its program in its mode.
    /// An entry for every runner is a difference of dosim's runtime: another runner than
    /// the Rust Script meets it only where the Rust Script disagreed the same way (alone:
    /// the same results at the same places; concurrent: the Rust Script disagreed too).
    fn explains(&self, runner: Runner, mode: &str, diffs: &[Diff], rust: Option<&[Diff]>) -> bool {
        match (self.runner.as_deref(), runner, rust) {
            (Some(r), _, _) => r == runner.name(),
            (None, Runner::Rust, _) => true,
            (None, _, None) => false,
            (None, _, Some(rust)) if mode == "alone" => {
                diffs.iter().all(|(at, _, d)| rust.iter().any(|(at2, _, d2)| at == at2 && d == d2))
            }
            (None, _, Some(rust)) => !rust.is_empty(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn note(
    column: &mut Column,
    opts: &Options,
    print: bool,
    p: &Program,
    mode: &'static str,
    diffs: Vec<Diff>,
    known: &[KnownDifference],
    rust: Option<&[Diff]>,
) {
    let runner = column.runner;
    column.comparisons += 1;
    if diffs.is_empty() {
        column.agreements += 1;
        if print && opts.verbose {
            println!("  agree     {:<4} {:<34} {mode}", runner.name(), p.id);
        }
        return;
    }
    let k =
        known.iter().find(|k| k.program == p.id && k.mode == mode && k.explains(runner, mode, &diffs, rust)).cloned();
    if print {
        let tag = if k.is_some() { "known" } else { "DISAGREE" };
        println!("  {tag:<9} {:<4} {:<34} {mode}: {}", runner.name(), p.id, p.about);
        for (detail, w, d) in &diffs {
            println!("      {detail}");
            println!("        workerd: {w}");
            println!("        {:<8} {d}", format!("{}:", runner.name()));
        }
    }
    for (detail, w, d) in diffs {
        column.differences.push(Difference {
            program: p.id.clone(),
            mode,
            detail,
            workerd: w,
            dosim: d,
            known: k.clone(),
        });
    }
}

fn print_summary(r: &Report) {
    for v in &r.dosim_violations {
        println!("  note: dosim's checkers reported {v}");
    }
    for c in &r.columns {
        for k in &c.stale {
            println!("  note: known difference not seen this time: {} ({}, {})", k.program, k.mode, c.runner.name());
        }
    }
    for c in &r.columns {
        let disagreeing = c.comparisons - c.agreements;
        let known = c.known().len();
        let mut line = format!(
            "{:<4} programs {}, comparisons {}, agreements {}, disagreements {} (known {known}, unexplained {})",
            c.runner.name(),
            r.programs,
            c.comparisons,
            c.agreements,
            disagreeing,
            disagreeing - known,
        );
        if c.runner != Runner::Rust {
            line.push_str(&format!(
                "; alone, answered as rust in {} of {} ({} js_only programs not compared)",
                c.as_rust,
                r.programs - r.js_only,
                r.js_only
            ));
        }
        println!("{line}");
    }
    println!("in {:.1} s", r.wall.as_secs_f64());
    // Each known difference once, with the runners that met it.
    let mut met: Vec<(&str, &str, &KnownDifference, Vec<&str>)> = Vec::new();
    for c in &r.columns {
        for (program, mode, k) in c.known() {
            match met.iter_mut().find(|m| m.0 == program && m.1 == mode && m.2.what == k.what) {
                Some(m) => m.3.push(c.runner.name()),
                None => met.push((program, mode, k, vec![c.runner.name()])),
            }
        }
    }
    for (program, mode, k, runners) in met {
        println!("  known: {program} ({mode}; {}): {} -- {}", runners.join(", "), k.what, k.why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_rules() {
        assert_eq!(normalize(&json!([1.0, 2.5, "x"])), json!([1, 2.5, "x"]));
        assert_eq!(
            normalize_text("Internal error; reference = 0123abcd; more, reference = ff."),
            "Internal error; reference = <id>; more, reference = <id>."
        );
        assert_eq!(
            normalize_text("internal error; reference = cek7v1rtaglsiahmudlstpdr"),
            "internal error; reference = <id>"
        );
        assert_eq!(normalize_text("reference = NONE"), "reference = NONE");
    }

    #[test]
    fn runtime_differences_explain_js_only_where_it_answered_as_rust() {
        let entry = |runner: Option<&str>| KnownDifference {
            program: "p".into(),
            mode: "alone".into(),
            runner: runner.map(str::to_owned),
            what: "w".into(),
            why: "y".into(),
        };
        let diff = |at: &str, dosim: &str| (at.to_owned(), "workerd".to_owned(), dosim.to_owned());
        let rust = vec![diff("call 0 step 1", "x")];
        let runtime = entry(None);
        assert!(runtime.explains(Runner::Rust, "alone", &rust, None));
        assert!(runtime.explains(Runner::Js, "alone", &[diff("call 0 step 1", "x")], Some(&rust)));
        assert!(!runtime.explains(Runner::Js, "alone", &[diff("call 0 step 1", "other")], Some(&rust)));
        assert!(!runtime.explains(Runner::Js, "alone", &[diff("call 0 step 2", "x")], Some(&rust)));
        assert!(runtime.explains(Runner::Js, "concurrent", &[diff("outcome", "z")], Some(&rust)));
        assert!(!runtime.explains(Runner::Js, "concurrent", &[diff("outcome", "z")], Some(&[])));
        let js_only = entry(Some("js"));
        assert!(js_only.explains(Runner::Js, "alone", &[diff("call 0 step 2", "x")], Some(&rust)));
        assert!(!js_only.explains(Runner::Rust, "alone", &rust, None));
    }

    #[test]
    fn control_messages_give_the_port() {
        let msg = "{\"event\":\"listen\",\"socket\":\"http\",\"port\":40123}\n";
        assert_eq!(control_port(msg), Some(40123));
        assert_eq!(control_port("{}"), None);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), "abcde");
    }
}
