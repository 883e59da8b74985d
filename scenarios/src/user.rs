//! `calls`: the generic workload for a user's own JavaScript or TypeScript module. Clients
//! call the listed methods with arguments drawn from each method's spec, under the seed's
//! faults and crashes; the runtime's checkers judge the run, and so does the module's own
//! `invariant` export, if it has one (see [`INVARIANT_HOOK`]).
//!
//! Other classes of the module the object calls through `env` are bound with
//! `--bind BINDING=Class`, and plain `env` values given with `--env NAME=value`.
//!
//! A method spec is `name` or `name(arg, ...)`; an argument is `int` (0..=100),
//! `int A..B` (inclusive), `bool`, `string` (short, from a small alphabet, so values
//! repeat), `key` (one of `a`..`e`), or a JSON literal, passed as is (`"x"`, `3`, `null`).

use crate::network::NetworkSpec;
use crate::workload::{drive, Driving, Shape, Workload};
use crate::Scenario;
use dosim_js::{register, JsCall, JsClass, JsObject, JsProgram};
use dosim_sim::{Backend, Completion, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The generic workload's name on the command line.
pub const GENERIC: &str = "calls";

/// The binding the user's class is registered under.
pub const BINDING: &str = "OBJECT";

/// What the module may export to judge a run: `export function invariant(run)`. It runs
/// after the run, in a fresh engine outside the simulation (its clock frozen at 0, its
/// randomness a fixed stream, so the verdict is the same every time), with
/// `run = { history, storage, tables, alarms, objects }`: `history` lists every call in invoke
/// order as `{ index, client, method, args, ok, value, error, invokedAt, completedAt }`
/// (`ok` is `true`, `false`, or `null` when the caller cannot know whether it ran);
/// `storage` is the object's committed key-value data, `tables` its committed SQL rows
/// (`{ table: [row, ...] }`), `alarms` the alarm still set (ms) or `null`, `fetches` the
/// object's outbound requests (`{ index, from, request, sent_at, finished_at,
/// response, error, delivered }`, see `dosim_sim::Exchange`); a WebSocket client's entries of `history`
/// are its request's fields (`{ websocket, send }`, `{ websocket, received }`,
/// `{ websocket, closed, reason }`, ...) with `ok`, `error` and the times; `objects` is the whole world, every object by binding
/// and id (see [`objects_view`]). It returns
/// nothing (or an empty array) when the run is right, else a message or an array of
/// messages; throwing counts as one message.
pub const INVARIANT_HOOK: &str = "invariant";

/// One argument of a method spec.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgSpec {
    Int(i64, i64),
    Bool,
    Text,
    Key,
    Literal(Value),
}

/// A method clients call, and how its arguments are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSpec {
    pub name: String,
    pub args: Vec<ArgSpec>,
    /// The spec as written (`book(int 1..4, key)`).
    pub text: String,
}

impl MethodSpec {
    /// Parses `name` or `name(arg, ...)`.
    pub fn parse(text: &str) -> Result<MethodSpec, String> {
        let text = text.trim();
        let (name, rest) = match text.split_once('(') {
            None => (text, None),
            Some((n, r)) => {
                let inner = r.strip_suffix(')').ok_or_else(|| format!("method spec {text:?}: missing ')'"))?;
                (n.trim(), Some(inner))
            }
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            return Err(format!("method spec {text:?}: {name:?} is not a method name"));
        }
        let args = match rest.map(str::trim) {
            None | Some("") => Vec::new(),
            Some(inner) => split_args(inner).iter().map(|a| parse_arg(a)).collect::<Result<_, _>>()?,
        };
        Ok(MethodSpec { name: name.to_owned(), args, text: text.to_owned() })
    }

    fn strategy(&self) -> BoxedStrategy<Value> {
        let name = self.name.clone();
        let args: Vec<BoxedStrategy<Value>> = self.args.iter().map(arg_strategy).collect();
        args.prop_map(move |args| json!({ "method": name, "args": args })).boxed()
    }
}

/// Splits at top-level commas (JSON literals may hold commas).
fn split_args(inner: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in inner.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

pub(crate) fn parse_arg(text: &str) -> Result<ArgSpec, String> {
    let t = text.trim();
    let words: Vec<&str> = t.split_whitespace().collect();
    match words.as_slice() {
        ["int"] => Ok(ArgSpec::Int(0, 100)),
        ["int", range] => {
            let bad = || format!("argument {t:?}: expected int A..B");
            let (a, b) = range.split_once("..").ok_or_else(bad)?;
            let (a, b): (i64, i64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a > b {
                return Err(bad());
            }
            Ok(ArgSpec::Int(a, b))
        }
        ["bool"] => Ok(ArgSpec::Bool),
        ["string"] => Ok(ArgSpec::Text),
        ["key"] => Ok(ArgSpec::Key),
        _ => serde_json::from_str(t)
            .map(ArgSpec::Literal)
            .map_err(|_| format!("argument {t:?}: expected int, int A..B, bool, string, key, or a JSON literal")),
    }
}

pub(crate) fn arg_strategy(spec: &ArgSpec) -> BoxedStrategy<Value> {
    match spec.clone() {
        ArgSpec::Int(a, b) => (a..=b).prop_map(Value::from).boxed(),
        ArgSpec::Bool => any::<bool>().prop_map(Value::from).boxed(),
        ArgSpec::Text => "[a-c]{0,3}".prop_map(Value::from).boxed(),
        ArgSpec::Key => {
            prop_oneof![Just("a"), Just("b"), Just("c"), Just("d"), Just("e")].prop_map(Value::from).boxed()
        }
        ArgSpec::Literal(v) => Just(v).boxed(),
    }
}

/// A user's module and what to do with it.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub module: PathBuf,
    pub class: String,
    pub methods: Vec<MethodSpec>,
    /// HTTP requests clients send to the class's `fetch` (`--request`).
    pub requests: Vec<crate::http::RequestSpec>,
    pub backend: Backend,
    /// Other classes of the module the object reaches through `env`: `(BINDING, Class)`.
    pub bindings: Vec<(String, String)>,
    /// Plain `env` values: `(NAME, value)`.
    pub vars: Vec<(String, Value)>,
    /// WebSocket clients and responders to outbound `fetch` (see [`crate::network`]).
    pub network: NetworkSpec,
    /// The binding clients call the class through ([`BINDING`] unless a project names it).
    pub binding: String,
    /// Classes whose back-end is not `backend` (a project's `migrations`).
    pub backends: Vec<(String, Backend)>,
    /// The wrangler config the spec came from, if any: module names are then relative to
    /// its folder.
    pub project: Option<PathBuf>,
    /// The project's compatibility date and flags, kept for the run's configuration.
    pub compatibility_date: Option<String>,
    pub compatibility_flags: Vec<String>,
}

impl UserSpec {
    /// A spec for `class` of `module`, with nothing else bound and no project.
    pub fn new(module: PathBuf, class: String, methods: Vec<MethodSpec>, backend: Backend) -> UserSpec {
        UserSpec {
            module,
            class,
            methods,
            requests: Vec::new(),
            backend,
            bindings: Vec::new(),
            vars: Vec::new(),
            binding: BINDING.to_owned(),
            backends: Vec::new(),
            project: None,
            compatibility_date: None,
            compatibility_flags: Vec::new(),
            network: NetworkSpec::default(),
        }
    }

    /// The back-end class `class` runs on.
    pub fn backend_of(&self, class: &str) -> Backend {
        self.backends.iter().find(|(c, _)| c == class).map_or(self.backend, |(_, b)| *b)
    }
}

/// `BINDING=Class`, or `NAME=value` (a JSON literal, or else the text as a string).
pub fn parse_pair(text: &str, what: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{what} {text:?}: expected NAME=VALUE")),
    }
}

/// An `env` value from the command line: JSON if it parses, else a string.
pub fn env_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A user spec as a regression file keeps it, so the file replays on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The module's path: in a regression file relative to the file's folder (or
    /// absolute); in memory as given on the command line, or absolute once read from a file.
    pub module: String,
    pub class: String,
    /// Method specs as written.
    pub methods: Vec<String>,
    /// Request specs as written (`--request`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
    /// `sqlite` or `kv`.
    pub backend: String,
    /// Other classes, as `BINDING=Class`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<String>,
    /// `env` values, as `NAME=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<String>,
    /// `--websocket PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<String>,
    /// `--send SPEC`s as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<String>,
    /// `--responder HOST=FILE[#EXPORT]`s as written (files as the module's path is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responders: Vec<String>,
    /// The wrangler config of the project (relative to the file's folder in a file, like
    /// `module`), when the run came from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The binding clients call, when not [`BINDING`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// Classes on another back-end than `backend`, as `Class=kv`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatibility_flags: Vec<String>,
}

impl UserRecord {
    /// Whether both record the same run set-up: the same module file (however its path
    /// is spelled), class, methods, back-end, bindings and values.
    pub fn same_as(&self, other: &UserRecord) -> bool {
        let file = |m: &str| std::fs::canonicalize(m).unwrap_or_else(|_| PathBuf::from(m)).display().to_string();
        let resolved = |r: &UserRecord| UserRecord {
            module: file(&r.module),
            project: r.project.as_deref().map(file),
            ..r.clone()
        };
        resolved(self) == resolved(other)
    }

    /// The spec it records.
    pub fn spec(&self) -> Result<UserSpec, String> {
        let backends = self
            .backends
            .iter()
            .map(|b| parse_pair(b, "backend").and_then(|(c, b)| Ok((c, parse_backend(&b)?))))
            .collect::<Result<_, _>>()?;
        Ok(UserSpec {
            module: PathBuf::from(&self.module),
            class: self.class.clone(),
            methods: self.methods.iter().map(|m| MethodSpec::parse(m)).collect::<Result<_, _>>()?,
            requests: self.requests.iter().map(|r| crate::http::RequestSpec::parse(r)).collect::<Result<_, _>>()?,
            backend: parse_backend(&self.backend)?,
            bindings: self.bindings.iter().map(|b| parse_pair(b, "binding")).collect::<Result<_, _>>()?,
            vars: self
                .vars
                .iter()
                .map(|v| parse_pair(v, "env value").map(|(k, v)| (k, env_value(&v))))
                .collect::<Result<_, _>>()?,
            network: NetworkSpec::parse(self.websocket.as_deref(), &self.sends, &self.responders)?,
            binding: self.binding.clone().unwrap_or_else(|| BINDING.to_owned()),
            backends,
            project: self.project.as_ref().map(PathBuf::from),
            compatibility_date: self.compatibility_date.clone(),
            compatibility_flags: self.compatibility_flags.clone(),
        })
    }
}

/// The user scenario loaded last in this process (what `calls` refers to).
static LOADED: std::sync::Mutex<Option<&'static UserScenario>> = std::sync::Mutex::new(None);

/// The user scenario loaded last in this process, if any.
pub fn loaded() -> Option<&'static UserScenario> {
    *LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The generic workload on a user's class.
pub struct UserScenario {
    spec: UserSpec,
    program: Arc<JsProgram>,
    /// The responders' modules, compiled: `(host, program, export)`.
    responders: Vec<(String, Arc<JsProgram>, String)>,
    has_invariant: bool,
    about: &'static str,
    /// `spec.binding`, for the workload driver (which keeps it for the run).
    binding: &'static str,
}

impl UserScenario {
    /// Compiles the module and checks the class and methods exist: every problem is a
    /// message for the user, not a panic.
    pub fn load(mut spec: UserSpec) -> Result<&'static UserScenario, String> {
        if spec.methods.is_empty()
            && spec.requests.is_empty()
            && spec.project.is_none()
            && spec.network.websocket.is_none()
        {
            return Err(
                "say which methods clients call: --method NAME, or --request 'METHOD /path' (repeat them; see `dosim run --help`)".into(),
            );
        }
        let program = match spec.project.as_deref().and_then(Path::parent) {
            Some(folder) => JsProgram::load_in(&spec.module, folder)?,
            None => JsProgram::load(&spec.module)?,
        };
        let exports = match dosim_js::exports(&program) {
            Ok(e) => e,
            // Top-level code that runs away is the object's bug, not bad input: every run
            // meets it and reports it, so the module is taken unchecked.
            Err(e) if e.contains(dosim_js::inspect::OVER_BUDGET) => {
                let responders = responders(&spec.network)?;
                return Ok(Self::leak(spec, program, responders, false));
            }
            Err(e) => return Err(e),
        };
        let classes = || exports.iter().filter(|e| e.is_class).map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ");
        let class = match exports.iter().find(|e| e.name == spec.class) {
            Some(e) if e.is_class => e,
            // `--class invariant`, say: an export, but not one that `new` can build.
            Some(_) => {
                return Err(format!(
                    "{:?} is not a class: {} exports it as a function or a value; its classes: {}",
                    spec.class,
                    spec.module.display(),
                    classes()
                ))
            }
            None => {
                return Err(format!(
                    "{} exports no class {:?}; its classes: {}",
                    spec.module.display(),
                    spec.class,
                    classes()
                ))
            }
        };
        if !spec.requests.is_empty() && !class.methods.iter().any(|m| m == "fetch") {
            return Err(format!("--request: class {} has no fetch method", spec.class));
        }
        if spec.methods.is_empty() && spec.requests.is_empty() && spec.network.websocket.is_none() {
            spec.methods = default_methods(class);
            if spec.methods.is_empty() {
                return Err(format!(
                    "class {} has no method without parameters to call by default: say which methods clients \
                     call with --method 'name(arg, ...)'; its methods: {}",
                    spec.class,
                    class.methods.join(", ")
                ));
            }
        }
        for m in &spec.methods {
            if !class.methods.contains(&m.name) {
                return Err(format!(
                    "class {} has no method {:?}; its methods: {}",
                    spec.class,
                    m.name,
                    class.methods.join(", ")
                ));
            }
        }
        for (binding, name) in &spec.bindings {
            if !exports.iter().any(|e| e.is_class && &e.name == name) {
                return Err(format!("--bind {binding}={name}: {} exports no class {name:?}", spec.module.display()));
            }
            if binding == &spec.binding {
                return Err(format!("--bind {binding}=...: {} is the binding of the class clients call", spec.binding));
            }
        }
        let has_invariant = exports.iter().any(|e| e.name == INVARIANT_HOOK && !e.is_class);
        let responders = responders(&spec.network)?;
        Ok(Self::leak(spec, program, responders, has_invariant))
    }

    /// Leaked once, with its description (one per loaded module), and remembered.
    fn leak(
        spec: UserSpec,
        program: Arc<JsProgram>,
        responders: Vec<(String, Arc<JsProgram>, String)>,
        has_invariant: bool,
    ) -> &'static UserScenario {
        let about = format!(
            "{} of {} ({} methods, {} requests)",
            spec.class,
            spec.module.display(),
            spec.methods.len(),
            spec.requests.len()
        );
        let about: &'static str = Box::leak(about.into_boxed_str());
        let binding: &'static str = Box::leak(spec.binding.clone().into_boxed_str());
        let loaded: &'static UserScenario =
            Box::leak(Box::new(UserScenario { spec, program, responders, has_invariant, about, binding }));
        *LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(loaded);
        loaded
    }

    /// What a regression file keeps of it.
    pub fn record(&self) -> UserRecord {
        UserRecord {
            module: self.spec.module.display().to_string(),
            class: self.spec.class.clone(),
            methods: self.spec.methods.iter().map(|m| m.text.clone()).collect(),
            requests: self.spec.requests.iter().map(|r| r.text.clone()).collect(),
            backend: backend_name(self.spec.backend).into(),
            bindings: self.spec.bindings.iter().map(|(b, c)| format!("{b}={c}")).collect(),
            vars: self.spec.vars.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            websocket: self.spec.network.websocket.clone(),
            sends: self.spec.network.sends.iter().map(|s| s.text.clone()).collect(),
            responders: self.spec.network.responders.iter().map(|r| r.text()).collect(),
            project: self.spec.project.as_ref().map(|p| p.display().to_string()),
            binding: (self.spec.binding != BINDING).then(|| self.spec.binding.clone()),
            backends: self.spec.backends.iter().map(|(c, b)| format!("{c}={}", backend_name(*b))).collect(),
            compatibility_date: self.spec.compatibility_date.clone(),
            compatibility_flags: self.spec.compatibility_flags.clone(),
        }
    }

    /// The spec it runs.
    pub fn spec(&self) -> &UserSpec {
        &self.spec
    }

    fn label(&self) -> String {
        format!("{}:object", self.spec.binding)
    }

    /// The argument the `invariant` hook gets.
    pub fn run_view(&self, report: &RunReport) -> Value {
        let label = self.label();
        let history: Vec<Value> = report
            .history
            .iter()
            .filter(|op| op.object == label)
            .map(|op| {
                if op.request.get("websocket").is_some() {
                    return socket_op(op);
                }
                let call: JsCall = serde_json::from_value(op.request.clone()).unwrap_or(JsCall::new("", vec![]));
                let (ok, value, error) = match &op.completion {
                    // A fetch's Response as status, headers, body and its JSON.
                    Completion::Ok { value } => {
                        (json!(true), crate::http::response_view(value).unwrap_or_else(|| value.clone()), Value::Null)
                    }
                    Completion::Fail { error } => (json!(false), Value::Null, json!(error.message)),
                    Completion::Info { error } => (Value::Null, Value::Null, json!(error.message)),
                    Completion::Pending => (Value::Null, Value::Null, Value::Null),
                };
                json!({
                    "index": op.index, "client": op.client, "method": call.method, "args": call.args,
                    "ok": ok, "value": value, "error": error,
                    "invokedAt": op.invoked_at.as_millis(),
                    "completedAt": op.completed_at.map(|t| t.as_millis()),
                })
            })
            .collect();
        json!({
            "history": history,
            "storage": report.durable.get(&label).cloned().unwrap_or_default(),
            "tables": report.tables.get(&label).cloned().unwrap_or_default(),
            "alarms": report.alarms_set.get(&label),
            // Every attempt of the object's alarm handler, so an invariant can tell an alarm
            // the runtime abandoned after its retries (retryCount 6, failed) from its own bug.
            "alarmAttempts": report.alarms.iter().filter(|a| a.object == label).map(|a| json!({
                "scheduled": a.scheduled.as_millis(), "at": a.at.as_millis(),
                "retryCount": a.retry_count, "outcome": a.outcome,
            })).collect::<Vec<_>>(),
            "fetches": report.exchanges,
            "objects": objects_view(report),
        })
    }
}

impl Scenario for UserScenario {
    fn name(&self) -> &'static str {
        GENERIC
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn shape(&self) -> Shape {
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 5, chaos_window_ms: 60 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        let methods = self.spec.methods.iter().map(MethodSpec::strategy);
        let mut all: Vec<BoxedStrategy<Value>> =
            methods.chain(self.spec.requests.iter().map(crate::http::RequestSpec::strategy)).collect();
        all.extend(self.spec.network.requests());
        proptest::strategy::Union::new(all).boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        if crate::network::socket_send(request).is_some() {
            return match self.spec.network.websocket {
                Some(_) => Ok(()),
                None => Err("a WebSocket message, but the run has no --websocket".into()),
            };
        }
        let call: JsCall = serde_json::from_value(request.clone()).map_err(|e| e.to_string())?;
        let listed = self.spec.methods.iter().any(|m| m.name == call.method)
            || (call.method == "fetch" && !self.spec.requests.is_empty());
        match listed {
            true => Ok(()),
            false => Err(format!("method {:?} is not one of the listed methods", call.method)),
        }
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        let class = |name: &str| {
            let mut c = JsClass::new(self.program.clone(), name);
            c.vars = self.spec.vars.iter().cloned().collect();
            c
        };
        for (binding, name) in &self.spec.bindings {
            register(&world, binding, self.spec.backend_of(name), class(name));
        }
        let backend = self.spec.backend_of(&self.spec.class);
        register(&world, &self.spec.binding, backend, class(&self.spec.class));
        for (host, program, export) in &self.responders {
            dosim_js::serve(&world, host, JsClass::new(program.clone(), export));
        }
        if self.spec.network.websocket.is_some() {
            return crate::network::drive(&world, self.binding, backend, workload);
        }
        drive::<JsObject>(&world, self.binding, backend, "object", workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        if !self.has_invariant {
            return Vec::new();
        }
        let view = self.run_view(report);
        let messages = match dosim_js::call_export(&self.program, INVARIANT_HOOK, &view) {
            Err(e) if e.contains(dosim_js::inspect::OVER_BUDGET) => {
                let message = format!("the invariant hook went {e}");
                return vec![Violation { checker: "budget".into(), message, at: report.sim_time }];
            }
            other => other,
        };
        let messages = messages
            .map(|v| match v {
                Value::Null => Vec::new(),
                Value::String(s) => vec![s],
                Value::Array(items) => {
                    items.into_iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect()
                }
                other => vec![format!("invariant() returned {other}, expected nothing, a message or an array")],
            })
            .unwrap_or_else(|e| vec![e]);
        messages
            .into_iter()
            .map(|message| Violation { checker: "invariant".into(), message, at: report.sim_time })
            .collect()
    }
}

/// A WebSocket client's entry of the history as the `invariant` hook sees it: the
/// request's fields (`websocket`, and `send`, `received`, `closed`, `connect` or `close`)
/// with `ok`, `error` and the times.
fn socket_op(op: &dosim_sim::Op) -> Value {
    let mut out = op.request.as_object().cloned().unwrap_or_default();
    let (ok, error) = match &op.completion {
        Completion::Ok { .. } => (json!(true), Value::Null),
        Completion::Fail { error } => (json!(false), json!(error.message)),
        Completion::Info { error } => (Value::Null, json!(error.message)),
        Completion::Pending => (Value::Null, Value::Null),
    };
    for (k, v) in [
        ("index", json!(op.index)),
        ("client", json!(op.client)),
        ("ok", ok),
        ("error", error),
        ("invokedAt", json!(op.invoked_at.as_millis())),
        ("completedAt", json!(op.completed_at.map(|t| t.as_millis()))),
    ] {
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

/// Compiles each responder's module and checks it exports what the spec names.
fn responders(network: &NetworkSpec) -> Result<Vec<(String, Arc<JsProgram>, String)>, String> {
    let mut out = Vec::new();
    for r in &network.responders {
        let program = JsProgram::load(&r.module).map_err(|e| format!("--responder {}: {e}", r.text()))?;
        let exports = dosim_js::exports(&program).map_err(|e| format!("--responder {}: {e}", r.text()))?;
        if !exports.iter().any(|e| e.name == r.export) {
            let names: Vec<&str> = exports.iter().map(|e| e.name.as_str()).collect();
            return Err(format!(
                "--responder {}: {} exports no {:?}; its exports: {}",
                r.text(),
                r.module.display(),
                r.export,
                names.join(", ")
            ));
        }
        out.push((r.host.clone(), program, r.export.clone()));
    }
    Ok(out)
}

/// The methods clients call when a project names none: the class's own methods that
/// declare no parameters, but for the runtime's handlers and `_private` ones.
fn default_methods(class: &dosim_js::Export) -> Vec<MethodSpec> {
    const HANDLERS: [&str; 5] = ["fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"];
    class
        .methods
        .iter()
        .zip(class.arity.iter().chain(std::iter::repeat(&1)))
        .filter(|(m, arity)| **arity == 0 && !HANDLERS.contains(&m.as_str()) && !m.starts_with('_'))
        .filter_map(|(m, _)| MethodSpec::parse(m).ok())
        .collect()
}

/// A back-end's command-line name.
pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Kv => "kv",
        Backend::Sqlite => "sqlite",
    }
}

/// `run.objects`: every object of the run by binding, then id (its name, or `#` and the
/// first 8 hex digits of an id not made from a name), as
/// `{ storage, tables, alarms, calls }`; `calls` lists what the object sent out, in order,
/// as `{ kind, to, method, args, sentAt, endedAt, outcome }`.
pub fn objects_view(report: &RunReport) -> Value {
    let mut all = serde_json::Map::new();
    for (binding, ids) in report.objects() {
        let mut by_id = serde_json::Map::new();
        for (id, o) in ids {
            let calls: Vec<Value> = o
                .calls
                .iter()
                .map(|c| {
                    let call: Option<JsCall> = serde_json::from_value(c.request.clone()).ok();
                    let (method, args) = match call {
                        Some(call) => (json!(call.method), json!(call.args)),
                        None => (Value::Null, c.request.clone()),
                    };
                    json!({
                        "kind": c.kind, "to": c.to, "method": method, "args": args,
                        "sentAt": c.sent_at.as_millis(), "endedAt": c.ended_at.map(|t| t.as_millis()),
                        "outcome": c.outcome,
                    })
                })
                .collect();
            by_id.insert(id, json!({ "storage": o.storage, "tables": o.tables, "alarms": o.alarm, "calls": calls }));
        }
        all.insert(binding, Value::Object(by_id));
    }
    Value::Object(all)
}

/// `Backend` from its command-line name.
pub fn parse_backend(text: &str) -> Result<Backend, String> {
    match text {
        "sqlite" => Ok(Backend::Sqlite),
        "kv" => Ok(Backend::Kv),
        other => Err(format!("unknown backend {other:?}: sqlite or kv")),
    }
}

/// Whether `path` looks like a module dosim can load.
pub fn is_module_path(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("ts" | "mts" | "js" | "mjs"))
}
