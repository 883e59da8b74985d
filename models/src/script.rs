//! Storage programs and the [`Script`] object that runs them: the dosim half of the
//! differential conformance runs (`dosim conformance`). The other half is
//! `tests/workerd/script.js`, which runs the same JSON programs on workerd; both follow
//! `conformance/README.md` and must encode every value the same way.
//!
//! A [`Program`] is a list of calls to one fresh object; a call is a list of [`Step`]s.
//! Each step records one result, `{"ok": value}` or `{"error": {...}}`, in the order steps
//! finish (the steps inside a transaction or critical section come before its own result).
//! A `throw` or `abort` step is not recorded: it ends the enclosing closure, or the call.

use dosim_sim::{
    async_trait, AlarmInfo, Compatibility, DurableObject, Env, Error, ErrorKind, ListOptions, ReadOptions, Result,
    SqlValue, State, Txn, WriteOptions,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// The binding the objects of a program live under (on both sides).
pub const BINDING: &str = "SCRIPT";

/// One program: calls made one after another to a fresh object, each through a new stub.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Unique id, used in reports and in the known-differences list.
    pub id: String,
    /// What the program checks.
    pub about: String,
    pub calls: Vec<Call>,
    /// Also run as concurrent copies (see [`Concurrent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<Concurrent>,
    /// The compatibility date and flags both sides run it at (default: the run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Compatibility>,
    /// A question about JavaScript values that dosim's Rust API cannot be asked (its
    /// types rule them out: `undefined`, functions, BigInt, iterator identity): only
    /// workerd and the `js` runner run it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub js_only: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One call to the program's object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    pub steps: Vec<Step>,
    /// The steps the object's alarm handler runs from now on (kept in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<Vec<Step>>,
    /// Wait this long (wall time on workerd, simulated time on dosim) before the call.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `copies` concurrent runs of the program's calls on one object, then `after` alone.
/// The outcome is the multiset of the copies' outcomes plus `after`'s.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrent {
    pub copies: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Call>,
    /// Indices of results of the first call whose `ok` values the semantics require to be
    /// pairwise different across the copies (e.g. the read of a read-modify-write that the
    /// input gate serialises). An outcome that repeats one is forbidden.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distinct: Vec<usize>,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Get,
    Put,
    Delete,
    List,
    DeleteAll,
    Sql,
    Transaction,
    Rollback,
    TransactionSync,
    BlockConcurrencyWhile,
    Sleep,
    Sync,
    Call,
    SetAlarm,
    GetAlarm,
    DeleteAlarm,
    AlarmLog,
    Throw,
    Abort,
    /// Steps on the transaction that a `"keep": true` transaction left behind.
    Kept,
    /// Steps in a timer callback (`ms`); their results go nowhere.
    SetTimeout,
    /// The shape of a cursor as JavaScript sees it (`js_only` programs).
    SqlShape,
    /// `sql.databaseSize`.
    DatabaseSize,
    /// A call of the synchronous KV API, `ctx.storage.kv[method]` (`js_only` programs).
    SyncKv,
}

/// One step; which fields matter depends on `op` (conformance/README.md lists them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub op: Op,
    /// `false`: start the operation and do not wait for it (records `"unawaited"`).
    #[serde(rename = "await", default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// The value of a `put` (`null` included: present-but-null is a value).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// `put` writes the value the last `get` of this call read (absent = 0) plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incr: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_concurrency: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_cache: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unconfirmed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindings: Option<Vec<Value>>,
    /// `to_array` (default), `one`, `raw` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `next()` this many times before the mode's read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take: Option<usize>,
    /// Also record `rowsRead` and `rowsWritten`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `transaction`: keep the transaction for later `kept` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<bool>,
    /// `delete_all`: call it on the transaction (`txn.deleteAll()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_txn: Option<bool>,
    /// `call`: `"fetch"` calls through `stub.fetch()` (JavaScript; in Rust a call is a call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// `call`: `"no_alarm"`, the class without an `alarm()` handler (JavaScript only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// JavaScript only: the key as UTF-16 code units (lone surrogates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_utf16: Option<Vec<u16>>,
    /// JavaScript only: the options argument as given (a `$value` value allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_options: Option<Value>,
    /// `sync_kv`: `get`, `put`, `delete`, `list`, or `list_twice` (starts a second
    /// `list()` and then reads the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// JavaScript only: `list`'s `limit` as given (fractions, strings, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_limit: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Step {
    /// Whether it asks something only JavaScript can be asked (see [`Program::js_only`]).
    pub fn needs_js(&self) -> bool {
        let marked = |v: &Value| v.as_object().is_some_and(|o| o.contains_key("$value"));
        matches!(self.op, Op::SqlShape | Op::SyncKv)
            || self.class.is_some()
            || self.key_utf16.is_some()
            || self.raw_options.is_some()
            || self.raw_limit.is_some()
            || self.value.as_ref().is_some_and(marked)
            || self.entries.as_ref().is_some_and(|e| e.values().any(marked))
            || self.bindings.as_ref().is_some_and(|b| b.iter().any(marked))
    }

    /// Whether `"await": false` is allowed: storage calls only (they take effect when
    /// made); a closure or a timer that nobody awaits would run on one side only.
    pub fn may_skip_await(&self) -> bool {
        matches!(
            self.op,
            Op::Get | Op::Put | Op::Delete | Op::List | Op::DeleteAll | Op::SetAlarm | Op::GetAlarm | Op::DeleteAlarm
        )
    }
}

/// What a call asks of a [`Script`] object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptCall {
    /// The object's name (a `call` step reaches `<name>/<object>`).
    pub name: String,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<Vec<Step>>,
}

/// An error as both sides record it: JavaScript's `name`, the message and the flags.
pub fn error_json(e: &Error) -> Value {
    json!({
        "name": error_name(e),
        "message": e.message,
        "durableObjectReset": e.durable_object_reset,
        "retryable": e.retryable,
        "overloaded": e.overloaded,
        "remote": e.remote,
    })
}

/// The JavaScript class of a dosim error: workerd throws API misuse as `TypeError`, except
/// for its size limits, which are `RangeError`s; everything else is a plain `Error`.
fn error_name(e: &Error) -> &'static str {
    const RANGE_ERRORS: [&str; 3] =
        ["Keys cannot be larger than", "Values cannot be larger than", "Maximum number of key value pairs"];
    match e.kind {
        ErrorKind::Usage if RANGE_ERRORS.iter().any(|p| e.message.starts_with(p)) => "RangeError",
        ErrorKind::Usage => "TypeError",
        _ => "Error",
    }
}

/// Alarm times are reported as offsets from the last `set_alarm` (or the instance's start),
/// rounded to 100 ms as JavaScript's `Math.round` does: the two clocks differ.
fn round100(ms: i64) -> i64 {
    ((ms as f64) / 100.0 + 0.5).floor() as i64 * 100
}

struct Inner {
    state: State,
    env: Env,
    /// Simulated ms that `get_alarm` measures from.
    base: Cell<i64>,
    alarm_steps: RefCell<Vec<Step>>,
    /// Each alarm run: its retry count, its scheduled time minus `base`, its results.
    alarm_log: RefCell<Vec<(u32, i64, Results)>>,
}

type Results = Rc<RefCell<Vec<Value>>>;
type Run<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

/// Where steps record their results, and what they run in.
#[derive(Clone)]
struct Frame {
    out: Results,
    txn: Option<Txn>,
    name: String,
    /// The alarm's retry count, inside the alarm handler.
    retry_count: Option<u32>,
    /// The value the last single-key `get` of this call read (for `incr`).
    last: Rc<RefCell<Value>>,
    /// The transaction a `"keep": true` transaction step left behind.
    kept: Rc<RefCell<Option<Txn>>>,
}

impl Frame {
    fn push(&self, v: Value) {
        self.out.borrow_mut().push(v);
    }
}

/// The object that runs storage programs (class `Script`, binding [`BINDING`]).
pub struct Script {
    inner: Rc<Inner>,
}

#[async_trait(?Send)]
impl DurableObject for Script {
    type Request = ScriptCall;
    type Response = Vec<Value>;

    fn new(state: State, env: Env) -> Self {
        let base = state.now().as_millis() as i64;
        Script {
            inner: Rc::new(Inner {
                state,
                env,
                base: Cell::new(base),
                alarm_steps: RefCell::default(),
                alarm_log: RefCell::default(),
            }),
        }
    }

    async fn call(&self, call: ScriptCall) -> Result<Vec<Value>> {
        if let Some(steps) = call.alarm {
            *self.inner.alarm_steps.borrow_mut() = steps;
        }
        let frame = Frame {
            out: Results::default(),
            txn: None,
            name: call.name,
            retry_count: None,
            last: Rc::new(RefCell::new(Value::Null)),
            kept: Rc::default(),
        };
        exec(self.inner.clone(), call.steps, frame.clone()).await?;
        let out = frame.out.borrow().clone();
        Ok(out)
    }

    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        let out = Results::default();
        let scheduled = round100(info.scheduled_time.as_millis() as i64 - self.inner.base.get());
        self.inner.alarm_log.borrow_mut().push((info.retry_count, scheduled, out.clone()));
        let steps = self.inner.alarm_steps.borrow().clone();
        let frame = Frame {
            out,
            txn: None,
            name: String::new(),
            retry_count: Some(info.retry_count),
            last: Rc::new(RefCell::new(Value::Null)),
            kept: Rc::default(),
        };
        exec(self.inner.clone(), steps, frame).await
    }
}

fn exec(cx: Rc<Inner>, steps: Vec<Step>, frame: Frame) -> Run<()> {
    Box::pin(async move {
        for s in steps {
            step(cx.clone(), s, frame.clone()).await?;
        }
        Ok(())
    })
}

async fn step(cx: Rc<Inner>, s: Step, frame: Frame) -> Result<()> {
    match s.op {
        Op::Throw => {
            let first_only = s.first_attempt_only.unwrap_or(false);
            if !first_only || frame.retry_count == Some(0) {
                return Err(Error::app(s.message.unwrap_or_else(|| "thrown by the program".into())));
            }
            frame.push(json!({"ok": null}));
            return Ok(());
        }
        Op::Abort => return Err(cx.state.abort(s.reason.as_deref())),
        _ => {}
    }
    // The operation starts now (a storage call takes effect when made); awaiting it is
    // a separate matter.
    let pending = start(&cx, &s, &frame);
    if s.wait == Some(false) {
        drop(pending);
        frame.push(json!({"ok": "unawaited"}));
        return Ok(());
    }
    let result = pending.await;
    frame.push(match result {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": error_json(&e) }),
    });
    Ok(())
}

fn read_options(s: &Step) -> ReadOptions {
    ReadOptions { allow_concurrency: s.allow_concurrency.unwrap_or(false), no_cache: s.no_cache.unwrap_or(false) }
}

fn write_options(s: &Step) -> WriteOptions {
    WriteOptions {
        allow_concurrency: s.allow_concurrency.unwrap_or(false),
        allow_unconfirmed: s.allow_unconfirmed.unwrap_or(false),
        no_cache: s.no_cache.unwrap_or(false),
    }
}

fn list_options(s: &Step) -> ListOptions {
    ListOptions {
        start: s.start.clone(),
        start_after: s.start_after.clone(),
        end: s.end.clone(),
        prefix: s.prefix.clone(),
        reverse: s.reverse.unwrap_or(false),
        limit: s.limit,
        read: read_options(s),
    }
}

fn pairs<I: IntoIterator<Item = (String, Value)>>(entries: I) -> Value {
    Value::Array(entries.into_iter().map(|(k, v)| json!([k, v])).collect())
}

fn missing(op: &str, field: &str) -> Error {
    Error::usage(format!("script: a {op} step needs `{field}`"))
}

/// Starts the step's operation and returns the wait for its result.
fn start(cx: &Rc<Inner>, s: &Step, frame: &Frame) -> Run<Value> {
    let storage = cx.state.storage().clone();
    // Inside `transaction()` the single-key KV calls go through `txn` (as script.js does);
    // on the SQLite back-end every other storage call belongs to the transaction anyway.
    let txn = frame.txn.clone();
    match s.op {
        Op::Get => {
            if let Some(keys) = &s.keys {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let op = storage.get_many_with::<Value>(&keys, read_options(s));
                return Box::pin(async move { Ok(pairs(op.await?)) });
            }
            let Some(key) = s.key.clone() else { return failed(missing("get", "key")) };
            let op = match &txn {
                Some(t) => t.get::<Value>(&key),
                None => storage.get_with::<Value>(&key, read_options(s)),
            };
            let last = frame.last.clone();
            Box::pin(async move {
                let v = op.await?.unwrap_or(Value::Null);
                *last.borrow_mut() = v.clone();
                Ok(v)
            })
        }
        Op::Put => {
            if let Some(entries) = &s.entries {
                let rows: Vec<(&str, &Value)> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
                let op = storage.put_many_with(&rows, write_options(s));
                return Box::pin(async move { op.await.map(|()| Value::Null) });
            }
            let Some(key) = s.key.clone() else { return failed(missing("put", "key")) };
            let value = match (s.incr, &s.value) {
                (Some(n), _) => json!(frame.last.borrow().as_f64().unwrap_or(0.0) + n),
                (None, Some(v)) => v.clone(),
                (None, None) => return failed(missing("put", "value")),
            };
            let op = match &txn {
                Some(t) => t.put(&key, &value),
                None => storage.put_with(&key, &value, write_options(s)),
            };
            Box::pin(async move { op.await.map(|()| Value::Null) })
        }
        Op::Delete => {
            if let Some(keys) = &s.keys {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let op = storage.delete_many_with(&keys, write_options(s));
                return Box::pin(async move { Ok(json!(op.await?)) });
            }
            let Some(key) = s.key.clone() else { return failed(missing("delete", "key")) };
            let op = match &txn {
                Some(t) => t.delete(&key),
                None => storage.delete_with(&key, write_options(s)),
            };
            Box::pin(async move { Ok(json!(op.await?)) })
        }
        Op::List => {
            let options = list_options(s);
            match &txn {
                Some(t) => {
                    let op = t.list::<Value>(&options);
                    Box::pin(async move {
                        let mut rows: Vec<(String, Value)> = op.await?.into_iter().collect();
                        if options.reverse {
                            rows.reverse();
                        }
                        Ok(pairs(rows))
                    })
                }
                None => {
                    let op = storage.list_ordered::<Value>(&options);
                    Box::pin(async move { Ok(pairs(op.await?)) })
                }
            }
        }
        Op::DeleteAll => {
            let op = storage.delete_all();
            Box::pin(async move { op.await.map(|()| Value::Null) })
        }
        Op::Sql => {
            let r = sql(&cx.state, s);
            Box::pin(async move { r })
        }
        Op::Transaction => {
            let (cx2, steps, frame) = (cx.clone(), s.steps.clone().unwrap_or_default(), frame.clone());
            let keep = s.keep == Some(true);
            let fut = storage.transaction(move |txn| async move {
                if keep {
                    *frame.kept.borrow_mut() = Some(txn.clone());
                }
                exec(cx2, steps, Frame { txn: Some(txn), ..frame }).await?;
                Ok(Value::Null)
            });
            Box::pin(fut)
        }
        Op::Rollback => {
            let r = match &txn {
                Some(t) => t.rollback().map(|()| Value::Null),
                None => Err(Error::app("script: rollback outside a transaction")),
            };
            Box::pin(async move { r })
        }
        Op::TransactionSync => {
            let steps = s.steps.clone().unwrap_or_default();
            let r = storage.transaction_sync(|| exec_sync(cx.clone(), &steps, frame.clone())).map(|()| Value::Null);
            Box::pin(async move { r })
        }
        Op::BlockConcurrencyWhile => {
            let (cx2, steps, frame) = (cx.clone(), s.steps.clone().unwrap_or_default(), frame.clone());
            let section = cx.state.block_concurrency_while(async move {
                exec(cx2, steps, frame).await?;
                Ok(Value::Null)
            });
            Box::pin(section)
        }
        Op::Sleep => {
            let sleep = cx.state.sleep(Duration::from_millis(s.ms.unwrap_or(0)));
            Box::pin(async move {
                sleep.await;
                Ok(Value::Null)
            })
        }
        Op::Sync => {
            let sync = storage.sync();
            Box::pin(async move { sync.await.map(|()| Value::Null) })
        }
        Op::Call if s.class.is_some() => failed(Error::usage("script: other classes are for js_only programs")),
        Op::Call => {
            let name = format!("{}/{}", frame.name, s.object.clone().unwrap_or_default());
            let Some(ns) = cx.env.namespace::<Script>(BINDING) else {
                return failed(Error::app("script: no SCRIPT namespace"));
            };
            let stub = ns.get(&ns.id_from_name(&name));
            let call = ScriptCall { name, steps: s.steps.clone().unwrap_or_default(), alarm: None };
            Box::pin(async move { Ok(Value::Array(stub.call(call).await?)) })
        }
        Op::SetAlarm => {
            let now = cx.state.now().as_millis() as i64;
            cx.base.set(now);
            let t = match (s.at_ms, s.in_ms) {
                (Some(at), _) => at,
                // dosim's clock starts at 0: a time in the past may come out <= 0, which
                // JavaScript's (since 1970) never does. The earliest valid time stands for it.
                (None, Some(d)) => (now + d).max(1),
                (None, None) => return failed(missing("set_alarm", "at_ms or in_ms")),
            };
            let op = storage.set_alarm_with(u64::try_from(t).unwrap_or(0), write_options(s));
            Box::pin(async move { op.await.map(|()| Value::Null) })
        }
        Op::GetAlarm => {
            let op = storage.get_alarm();
            let base = cx.base.get();
            Box::pin(async move {
                Ok(match op.await? {
                    Some(t) => json!({ "offset_ms": round100(t as i64 - base) }),
                    None => Value::Null,
                })
            })
        }
        Op::DeleteAlarm => {
            let op = storage.delete_alarm();
            Box::pin(async move { op.await.map(|()| Value::Null) })
        }
        Op::AlarmLog => {
            let log: Vec<Value> = cx
                .alarm_log
                .borrow()
                .iter()
                .map(|(n, scheduled, out)| {
                    json!({ "retry_count": n, "scheduled_offset_ms": scheduled, "results": out.borrow().clone() })
                })
                .collect();
            Box::pin(async move { Ok(Value::Array(log)) })
        }
        Op::Kept => {
            let (cx2, steps) = (cx.clone(), s.steps.clone().unwrap_or_default());
            let frame = Frame { txn: frame.kept.borrow().clone(), ..frame.clone() };
            Box::pin(async move {
                exec(cx2, steps, frame).await?;
                Ok(Value::Null)
            })
        }
        Op::SetTimeout => {
            let (cx2, steps) = (cx.clone(), s.steps.clone().unwrap_or_default());
            let frame = Frame { out: Results::default(), ..frame.clone() };
            // As JavaScript's setTimeout on workerd (and dosim's JS host): at least 1 ms, so
            // a 0 ms timer runs after the handler's implicit commit.
            let sleep = cx.state.sleep(Duration::from_millis(s.ms.unwrap_or(0).max(1)));
            cx.state.spawn_event("timer", async move {
                sleep.await;
                exec(cx2, steps, frame).await
            });
            Box::pin(async move { Ok(Value::Null) })
        }
        Op::DatabaseSize => {
            let r = storage.sql().database_size().map(|n| json!(n));
            Box::pin(async move { r })
        }
        Op::SyncKv => failed(Error::usage("script: ctx.storage.kv is JavaScript's (a js_only program)")),
        Op::SqlShape => failed(Error::usage("script: sql_shape asks about JavaScript objects (a js_only program)")),
        Op::Throw | Op::Abort => unreachable!("handled by step()"),
    }
}

fn failed(e: Error) -> Run<Value> {
    Box::pin(async move { Err(e) })
}

/// Steps inside `transaction_sync`: synchronous ones only; writes are not awaited.
fn exec_sync(cx: Rc<Inner>, steps: &[Step], frame: Frame) -> Result<()> {
    let storage = cx.state.storage().clone();
    for s in steps {
        let r = match s.op {
            Op::Throw => return Err(Error::app(s.message.clone().unwrap_or_else(|| "thrown by the program".into()))),
            Op::Sql => sql(&cx.state, s),
            Op::Put => match (&s.key, &s.value) {
                (Some(k), Some(v)) => {
                    drop(storage.put(k, v));
                    Ok(json!("unawaited"))
                }
                _ => Err(missing("put", "key and value")),
            },
            Op::Delete => match &s.key {
                Some(k) => {
                    drop(storage.delete(k));
                    Ok(json!("unawaited"))
                }
                None => Err(missing("delete", "key")),
            },
            Op::DeleteAll => {
                drop(storage.delete_all());
                Ok(json!("unawaited"))
            }
            Op::TransactionSync => {
                let inner = s.steps.clone().unwrap_or_default();
                storage.transaction_sync(|| exec_sync(cx.clone(), &inner, frame.clone())).map(|()| Value::Null)
            }
            other => Err(Error::app(format!("script: {other:?} cannot run inside transaction_sync"))),
        };
        frame.push(match r {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "error": error_json(&e) }),
        });
    }
    Ok(())
}

/// A binding as JavaScript passes it: every number is a double (bound as REAL).
fn binding(v: &Value) -> Result<SqlValue> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Number(n) => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) => match o.get("blob").and_then(Value::as_array) {
            Some(bytes) => SqlValue::Blob(bytes.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect()),
            None => return Err(Error::usage("script: a binding object must be {\"blob\": [bytes]}")),
        },
        other => return Err(Error::usage(format!("script: cannot bind {other}"))),
    })
}

fn sql_value(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => json!(i),
        SqlValue::Real(x) => json!(x),
        SqlValue::Text(s) => json!(s),
        SqlValue::Blob(b) => json!({ "blob": b }),
    }
}

fn sql_row(row: &dosim_sim::Row) -> Value {
    // A later column of the same name overwrites an earlier one, as in a JavaScript object.
    let mut out = Map::new();
    for (c, v) in row.columns().iter().zip(row.values()) {
        out.insert(c.clone(), sql_value(v));
    }
    Value::Object(out)
}

fn sql(state: &State, s: &Step) -> Result<Value> {
    let query = s.query.as_deref().ok_or_else(|| missing("sql", "query"))?;
    let bindings = s.bindings.iter().flatten().map(binding).collect::<Result<Vec<_>>>()?;
    let mut cursor = state.storage().sql().exec(query, &bindings)?;
    let mut r = Map::new();
    if let Some(n) = s.take.filter(|n| *n > 0) {
        let taken: Vec<Value> = (0..n).map(|_| cursor.next_row().map_or(json!("done"), |row| sql_row(&row))).collect();
        r.insert("taken".into(), Value::Array(taken));
    }
    match s.mode.as_deref().unwrap_or("to_array") {
        "to_array" => {
            let rows = cursor.to_array().iter().map(sql_row).collect();
            r.insert("rows".into(), Value::Array(rows));
        }
        "one" => {
            let row = cursor.one()?;
            r.insert("row".into(), sql_row(&row));
        }
        "raw" => {
            let rows = cursor.raw().map(|vs| Value::Array(vs.iter().map(sql_value).collect())).collect();
            r.insert("rows".into(), Value::Array(rows));
        }
        "none" => {}
        other => return Err(Error::usage(format!("script: unknown sql mode {other}"))),
    }
    r.insert("columns".into(), json!(cursor.column_names()));
    if s.counts == Some(true) {
        r.insert("rows_read".into(), json!(cursor.rows_read()));
        r.insert("rows_written".into(), json!(cursor.rows_written()));
    }
    Ok(Value::Object(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_null_is_a_value() {
        let s: Step = serde_json::from_str(r#"{"op":"put","key":"a","value":null}"#).unwrap();
        assert_eq!(s.value, Some(Value::Null));
        let s: Step = serde_json::from_str(r#"{"op":"put","key":"a"}"#).unwrap();
        assert_eq!(s.value, None);
        assert!(serde_json::from_str::<Step>(r#"{"op":"put","kye":"a"}"#).is_err(), "typos are refused");
    }

    #[test]
    fn round100_rounds_like_math_round() {
        assert_eq!(round100(0), 0);
        assert_eq!(round100(49), 0);
        assert_eq!(round100(50), 100);
        assert_eq!(round100(-50), 0);
        assert_eq!(round100(-51), -100);
        assert_eq!(round100(60_001), 60_000);
    }
}
