//! `in-memory-cache` (and `in-memory-cache-kv`, the same on the KV-backed back-end, where a
//! cache miss really waits for storage): clients read and update two users field by field
//! while the fault plan crashes the object. The model is right as written, a negative
//! control. Judged from the user's side, per user field: a read never shows a value that
//! an acknowledged update had already replaced, never goes back to an older value after
//! a caller saw a newer one, and the durable user keeps the last acknowledged update.

use crate::clients::{describe, run_clients, sent_as, Complete};
use crate::js_port::{plain, JsBinding, JsPort};
use crate::workload::{accepts, Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{JsCall, JsObject, JsProgram};
use dosim_models::in_memory_cache::{User, UserCacheCall};
use dosim_models::UserCache;
use dosim_sim::{Backend, Completion, DurableObject, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const FIELDS: [&str; 2] = ["name", "email"];
/// Findings described one by one; the rest are counted.
const SHOWN: usize = 4;

/// A cache scenario: which back-end.
pub struct CacheScenario {
    name: &'static str,
    about: &'static str,
    binding: &'static str,
    backend: Backend,
}

/// `in-memory-cache`: `UserCache` on the SQLite back-end.
pub static IN_MEMORY_CACHE: CacheScenario = CacheScenario {
    name: "in-memory-cache",
    about: "In-Memory Caching (UserCache) as written: right, because both gates cover the cache (negative control)",
    binding: "USER_CACHE",
    backend: Backend::Sqlite,
};

/// `in-memory-cache-kv`: the same on the KV back-end, where a miss is a storage round trip.
pub static IN_MEMORY_CACHE_KV: CacheScenario = CacheScenario {
    name: "in-memory-cache-kv",
    about: "In-Memory Caching on the KV-backed back-end: a cache miss holds the input gate across a storage round trip",
    binding: "USER_CACHE_KV",
    backend: Backend::Kv,
};

/// `in-memory-cache-js`: the reference document's TypeScript, run by the JS host. Its
/// replies are the user object, or `undefined` (read as `null`, no user).
pub static IN_MEMORY_CACHE_JS: JsPort = JsPort {
    name: "in-memory-cache-js",
    about: "In-Memory Caching, the reference TypeScript run verbatim (judged like in-memory-cache)",
    expect: Expect::Pass,
    rust: &IN_MEMORY_CACHE,
    module: ("in_memory_cache.ts", include_str!("../../models/js/in_memory_cache.ts")),
    program: &IN_MEMORY_CACHE_PROGRAM,
    classes: &[JsBinding { binding: "USER_CACHE", class: "UserCache", backend: Backend::Sqlite }],
    id_name: "users",
    to_js,
    to_rust,
    drive: Some(|port, w, wl| drive::<JsObject>(w, "USER_CACHE", Backend::Sqlite, wl, port.as_call())),
};

/// `in-memory-cache-kv-js`: the same on the KV back-end.
pub static IN_MEMORY_CACHE_KV_JS: JsPort = JsPort {
    name: "in-memory-cache-kv-js",
    about:
        "In-Memory Caching on the KV back-end, the reference TypeScript run verbatim (judged like in-memory-cache-kv)",
    expect: Expect::Pass,
    rust: &IN_MEMORY_CACHE_KV,
    module: ("in_memory_cache.ts", include_str!("../../models/js/in_memory_cache.ts")),
    program: &IN_MEMORY_CACHE_PROGRAM,
    classes: &[JsBinding { binding: "USER_CACHE_KV", class: "UserCache", backend: Backend::Kv }],
    id_name: "users",
    to_js,
    to_rust,
    drive: Some(|port, w, wl| drive::<JsObject>(w, "USER_CACHE_KV", Backend::Kv, wl, port.as_call())),
};
static IN_MEMORY_CACHE_PROGRAM: OnceLock<Arc<JsProgram>> = OnceLock::new();

fn to_js(request: &Value) -> JsCall {
    match serde_json::from_value(request.clone()) {
        Ok(UserCacheCall::GetUser { id }) => JsCall::new("getUser", vec![id.into()]),
        Ok(UserCacheCall::UpdateUser { id, data }) => {
            JsCall::new("updateUser", vec![id.into(), serde_json::to_value(data).unwrap_or(Value::Null)])
        }
        Err(_) => JsCall::new("getUser", vec![]),
    }
}

fn to_rust(call: &JsCall, reply: Option<&Value>) -> (Value, Option<Value>) {
    let arg = |i: usize| call.args.get(i).cloned().unwrap_or(Value::Null);
    let request = match call.method.as_str() {
        "updateUser" => json!({"update_user": {"id": arg(0), "data": arg(1)}}),
        _ => json!({"get_user": {"id": arg(0)}}),
    };
    (request, reply.map(plain))
}

/// Generated updates carry empty values; `drive` fills in unique ones.
fn requests() -> BoxedStrategy<Value> {
    let id = prop_oneof![Just("u1"), Just("u2")];
    let fields = prop_oneof![Just(vec!["name"]), Just(vec!["email"]), Just(vec!["name", "email"])];
    let get = id.clone().prop_map(|id| json!({"get_user": {"id": id}}));
    let update = (id, fields).prop_map(|(id, fields)| {
        let data: BTreeMap<&str, &str> = fields.into_iter().map(|f| (f, "")).collect();
        json!({"update_user": {"id": id, "data": data}})
    });
    prop_oneof![2 => get, 3 => update].boxed()
}

/// Client `c`'s `n`-th update writes `c{c}.{n}` into each field it updates, so every value
/// names the one update that wrote it.
fn complete(client: usize) -> Complete {
    Box::new(move |n, mut request| {
        if let Some(data) = request.pointer_mut("/update_user/data").and_then(Value::as_object_mut) {
            for v in data.values_mut() {
                *v = Value::from(format!("c{client}.{n}"));
            }
        }
        request
    })
}

/// Runs the clients against class `O`; `as_sent` turns each request into `O`'s.
fn drive<O: DurableObject>(
    world: &World,
    binding: &'static str,
    backend: Backend,
    workload: Workload,
    as_sent: impl Fn(&Value) -> Value + Copy + 'static,
) -> Driving {
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<O>(binding, backend);
        let id = ns.id_from_name("users");
        run_clients(&world, &ns, &id, workload.clients, sent_as(complete, as_sent)).await;
    })
}

impl Scenario for CacheScenario {
    fn name(&self) -> &'static str {
        self.name
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn expect(&self) -> Expect {
        Expect::Pass
    }

    fn shape(&self) -> Shape {
        Shape { clients: (2, 4), calls: (3, 8), max_think_ms: 4, chaos_window_ms: 50 }
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        requests()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<UserCache>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        drive::<UserCache>(&world, self.binding, self.backend, workload, Value::clone)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        check_cache(report, &format!("{}:users", self.binding))
    }
}

/// "Never": the end of time, for the final durable state and unanswered calls.
const NEVER: u64 = u64::MAX;

/// An update of one field.
struct Write {
    op: usize,
    /// When it was invoked, and when acknowledged (`None`: failed, or effect unknown).
    invoked: u64,
    acked: Option<u64>,
    /// The object's own code threw: it changed nothing.
    failed: bool,
}

/// What a caller (or, at the end, durable storage) saw in one field.
struct Read {
    what: String,
    invoked: u64,
    completed: u64,
    value: Option<String>,
}

fn check_cache(report: &RunReport, label: &str) -> Vec<Violation> {
    // Per (user, field): the updates, by the value they wrote, and the reads.
    let mut writes: BTreeMap<(String, String), BTreeMap<String, Write>> = BTreeMap::new();
    let mut reads: BTreeMap<(String, String), Vec<Read>> = BTreeMap::new();
    let mut notes = Vec::new();
    for op in report.history.iter().filter(|o| o.object == label) {
        let Ok(call) = serde_json::from_value::<UserCacheCall>(op.request.clone()) else { continue };
        let invoked = op.invoked_at.as_millis();
        let completed = op.completed_at.map_or(NEVER, |t| t.as_millis());
        let answer: Option<Option<User>> = op.ok_value().and_then(|v| serde_json::from_value(v.clone()).ok());
        let (id, written) = match call {
            UserCacheCall::GetUser { id } => (id, User::new()),
            UserCacheCall::UpdateUser { id, data } => (id, data),
        };
        for (field, value) in &written {
            let w = Write {
                op: op.index,
                invoked,
                acked: op.ok_value().map(|_| completed),
                failed: matches!(op.completion, Completion::Fail { .. }),
            };
            writes.entry((id.clone(), field.clone())).or_default().insert(value.clone(), w);
            if let Some(Some(user)) = &answer {
                if user.get(field) != Some(value) {
                    notes.push(format!("{} answered {user:?}, not the {field} it wrote", describe(op)));
                }
            }
        }
        // What the call saw of the fields it did not write (for an update, before merging).
        if let Some(user) = answer {
            for field in FIELDS.iter().filter(|f| !written.contains_key(**f)) {
                let value = user.as_ref().and_then(|u| u.get(*field)).cloned();
                let read = Read { what: describe(op), invoked, completed, value };
                reads.entry((id.clone(), (*field).to_owned())).or_default().push(read);
            }
        }
    }
    // The durable state: a read after everything.
    let users: BTreeMap<String, Value> = report.durable.get(label).cloned().unwrap_or_default().into_iter().collect();
    for key in writes.keys().chain(reads.keys()).cloned().collect::<std::collections::BTreeSet<_>>() {
        let (id, field) = &key;
        let stored = users.get(&format!("user:{id}")).and_then(|u| u.get(field)).and_then(Value::as_str);
        let read = Read {
            what: "the durable user".into(),
            invoked: NEVER,
            completed: NEVER,
            value: stored.map(str::to_owned),
        };
        reads.entry(key).or_default().push(read);
    }
    let none = BTreeMap::new();
    for (key, rs) in &reads {
        check_field(key, writes.get(key).unwrap_or(&none), rs, &mut notes);
    }
    let mut found: Vec<Violation> = notes
        .iter()
        .take(SHOWN)
        .map(|m| Violation { checker: "cache".into(), message: m.clone(), at: report.sim_time })
        .collect();
    if notes.len() > SHOWN {
        let message = format!("{} more findings of the same kinds", notes.len() - SHOWN);
        found.push(Violation { checker: "cache".into(), message, at: report.sim_time });
    }
    found
}

/// One user field: a register whose every value names the update that wrote it.
fn check_field(
    (id, field): &(String, String),
    writes: &BTreeMap<String, Write>,
    reads: &[Read],
    notes: &mut Vec<String>,
) {
    let show = |v: &Option<String>| v.as_ref().map_or("nothing".to_owned(), |v| format!("{v:?}"));
    // Whether update `a` (`None`: the initial absence) surely took effect before `b` began.
    let before = |a: Option<&Write>, b: &Write| a.is_none_or(|a| a.acked.is_some_and(|t| t < b.invoked));
    for r in reads {
        let source = match &r.value {
            None => None,
            Some(v) => match writes.get(v) {
                None => {
                    notes.push(format!("{} has {id}'s {field} = {v:?}, which no update wrote", r.what));
                    continue;
                }
                Some(w) if w.failed => {
                    notes.push(format!("{} has {id}'s {field} = {v:?}, from update #{}, which failed", r.what, w.op));
                    continue;
                }
                Some(w) => Some(w),
            },
        };
        // Stale: an acknowledged update that surely came after the source, and surely before
        // this read began, had replaced the value.
        let newer = writes.iter().find(|(_, b)| {
            b.acked.is_some_and(|t| t < r.invoked) && before(source, b) && source.is_none_or(|s| s.op != b.op)
        });
        if let Some((v, b)) = newer {
            let t = b.acked.unwrap_or_default();
            notes.push(format!(
                "{} has {id}'s {field} = {}, but update #{} had replaced it with {v:?}, acknowledged at {t}ms",
                r.what,
                show(&r.value),
                b.op
            ));
            continue;
        }
        // Back in time: a read that ended before this one began saw a surely newer value.
        let seen_newer = reads.iter().find(|e| {
            e.completed < r.invoked
                && e.value.as_ref().and_then(|v| writes.get(v)).is_some_and(|b| before(source, b))
                && e.value != r.value
        });
        if let Some(e) = seen_newer {
            notes.push(format!(
                "{} has {id}'s {field} = {}, after {} had seen the newer {}: a value a caller saw was lost",
                r.what,
                show(&r.value),
                e.what,
                show(&e.value)
            ));
        }
    }
}
