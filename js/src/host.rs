//! The host functions the prelude builds the JavaScript API on: storage (KV, SQL,
//! transactions, alarms), critical sections, `waitUntil`, `abort`, timers, the clock,
//! randomness, `console`, and stubs to other JavaScript objects. Each maps onto dosim's
//! `State`, so gates, coalescing, crashes and checkers are the Rust runtime's own.

use crate::convert::{js_to_sql, sql_to_js, Helpers};
use crate::instance::Instance;
use crate::isolate::Isolate;
use crate::object::{JsCall, JsObject};
use crate::task::{deliver_value, promise, storage_promise, Deliver, JsTask, Pending, Reply, Settled, Start, Thrown};
use dosim_sim::Stub;
use dosim_sim::{Error, ListOptions, ReadOptions, WriteOptions};
use rquickjs::class::{JsClass, Readable, Trace, Tracer};
use rquickjs::{Array, Class, Constructor, Ctx, Function, JsLifetime, Object, Value};
use serde_json::value::RawValue;
use std::rc::{Rc, Weak};
use std::time::Duration;

type Stored = Box<RawValue>;
type JsResult<'js> = rquickjs::Result<Value<'js>>;

fn read_options(allow_concurrency: bool, no_cache: bool) -> ReadOptions {
    ReadOptions { allow_concurrency, no_cache }
}

fn write_options(allow_concurrency: bool, allow_unconfirmed: bool, no_cache: bool) -> WriteOptions {
    WriteOptions { allow_concurrency, allow_unconfirmed, no_cache }
}

fn raw(text: String) -> Result<Stored, Error> {
    RawValue::from_string(text).map_err(|e| Error::app(format!("value cannot be stored: {e}")))
}

fn decoded(v: Option<Stored>) -> Deliver {
    Box::new(move |_, h, _| h.decode(v.as_deref().map(RawValue::get)))
}

fn decoded_map(entries: Vec<(String, Stored)>) -> Deliver {
    Box::new(move |_, h, _| {
        let (keys, texts): (Vec<String>, Vec<Stored>) = entries.into_iter().unzip();
        let values = texts.iter().map(|t| h.decode(Some(t.get()))).collect::<rquickjs::Result<Vec<_>>>()?;
        h.map_of(keys, values)
    })
}

fn kept_value(n: u64) -> Deliver {
    Box::new(move |ctx, _, inst| Ok(inst.take_kept(ctx, n).unwrap_or_else(|| Value::new_undefined(ctx.clone()))))
}

fn list_options(text: &str) -> Result<ListOptions, Error> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::usage(e.to_string()))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let b = |k: &str| v.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
    let limit = match v.get("limit") {
        None | Some(serde_json::Value::Null) => None,
        Some(x) => match x.as_f64() {
            Some(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as u64),
            _ => return Err(Error::usage("List limit must be positive.")),
        },
    };
    Ok(ListOptions {
        start: s("start"),
        start_after: s("startAfter"),
        end: s("end"),
        prefix: s("prefix"),
        reverse: b("reverse"),
        limit,
        read: read_options(b("allowConcurrency"), b("noCache")),
    })
}

/// Arms timer `id`: a host promise of the running task that, after `ms` of simulated time,
/// calls the timer's callback (and re-arms itself if it repeats). Whose strand delivers it
/// is the task's affair (see `JsTask`).
fn arm_timer(inst: &Instance, id: u64, ms: f64, repeat: bool) {
    // At least 1 ms, as Node.js clamps it: a timer never fires in the turn that set it (a
    // 0 ms interval would otherwise run forever inside one turn), and a 0 ms timer set in
    // a handler runs after that handler's implicit commit, as on workerd.
    let delay = Duration::from_millis(if ms.is_finite() && ms >= 1.0 { ms as u64 } else { 1 });
    let sleep = inst.state.sleep(delay);
    let fire: Deliver = Box::new(move |ctx, _, inst| {
        let Some(kept) = inst.timers.borrow().get(&id).copied() else { return Ok(Value::new_undefined(ctx.clone())) };
        let callback = if repeat {
            arm_timer(inst, id, ms, true);
            inst.kept(ctx, kept)
        } else {
            inst.timers.borrow_mut().remove(&id);
            inst.take_kept(ctx, kept)
        };
        // The prelude's wrapper reports what the callback throws.
        if let Some(f) = callback.and_then(|f| f.into_function()) {
            f.call::<_, ()>(())?;
        }
        Ok(Value::new_undefined(ctx.clone()))
    });
    inst.add_pending(Pending::timer(id, async move {
        sleep.await;
        Ok(fire)
    }));
}

/// The outcome of a storage call that must be known at once (the synchronous KV API).
fn at_once<T: 'static>(mut op: dosim_sim::StorageOp<T>) -> Result<T, Error> {
    match op.ready() {
        Some(r) => r,
        // Only a KV-backed object (a cache miss) or the input gate switched off delays one.
        None => {
            Err(Error::usage("ctx.storage.kv is synchronous: it needs a SQLite-backed object (and the input gate on)"))
        }
    }
}

/// Builds the `host` object of an isolate; `bindings` are the run's namespaces of
/// JavaScript classes.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    weak: Weak<Isolate>,
    bindings: &[String],
    compat_states: &[(&'static str, bool)],
) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;
    let bindings = bindings.to_vec();

    // Every host function starts by finding the instance whose code is running (one
    // isolate runs many objects) and the prelude's helpers (the `bare` ones also run
    // while the prelude itself is being evaluated, before helpers exist).
    macro_rules! host_fn {
        ($name:literal, bare |$inst:ident, $ctx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
            let w = weak.clone();
            let f = Function::new(ctx.clone(), move |$ctx: Ctx<'js> $(, $arg: $ty)*| -> JsResult<'js> {
                let Some($inst) = w.upgrade().and_then(|i| i.current()) else { return Err(gone(&$ctx)) };
                $body
            })?;
            host.set($name, f)?;
        }};
        ($name:literal, |$inst:ident, $h:ident, $ctx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
            let w = weak.clone();
            let f = Function::new(ctx.clone(), move |$ctx: Ctx<'js> $(, $arg: $ty)*| -> JsResult<'js> {
                let Some($inst) = w.upgrade().and_then(|i| i.current()) else { return Err(gone(&$ctx)) };
                let Some($h) = $inst.helpers(&$ctx) else { return Err(gone(&$ctx)) };
                $body
            })?;
            host.set($name, f)?;
        }};
    }

    // ---- the compatibility flags dosim models, on or off (`host.compat.<enable name>`) ----
    let compat = Object::new(ctx.clone())?;
    for (flag, on) in compat_states {
        compat.set(*flag, *on)?;
    }
    host.set("compat", compat)?;

    // ---- storage, KV ----
    host_fn!("get", |inst, h, ctx, key: String, ac: bool, nc: bool| {
        let op = inst.state.storage().get_with::<Stored>(&key, read_options(ac, nc));
        storage_promise(&ctx, &h, &inst, op, decoded)
    });
    host_fn!("getMany", |inst, h, ctx, keys: Vec<String>, ac: bool, nc: bool| {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let op = inst.state.storage().get_many_with::<Stored>(&refs, read_options(ac, nc));
        storage_promise(&ctx, &h, &inst, op, |m| decoded_map(m.into_iter().collect()))
    });
    host_fn!("put", |inst, h, ctx, key: String, text: String, ac: bool, au: bool, nc: bool| {
        let value = raw(text).map_err(|e| h.throw(&ctx, &e))?;
        let op = inst.state.storage().put_with(&key, &value, write_options(ac, au, nc));
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });
    host_fn!("putMany", |inst, h, ctx, keys: Vec<String>, texts: Vec<String>, ac: bool, au: bool, nc: bool| {
        let values = texts.into_iter().map(raw).collect::<Result<Vec<_>, _>>().map_err(|e| h.throw(&ctx, &e))?;
        let entries: Vec<(&str, &RawValue)> =
            keys.iter().map(String::as_str).zip(values.iter().map(|v| &**v)).collect();
        let op = inst.state.storage().put_many_with(&entries, write_options(ac, au, nc));
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });
    host_fn!("delete", |inst, h, ctx, key: String, ac: bool, au: bool, nc: bool| {
        let op = inst.state.storage().delete_with(&key, write_options(ac, au, nc));
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });
    host_fn!("deleteMany", |inst, h, ctx, keys: Vec<String>, ac: bool, au: bool, nc: bool| {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let op = inst.state.storage().delete_many_with(&refs, write_options(ac, au, nc));
        storage_promise(&ctx, &h, &inst, op, |n| deliver_value(n as f64))
    });
    host_fn!("list", |inst, h, ctx, options: String| {
        let options = list_options(&options).map_err(|e| h.throw(&ctx, &e))?;
        let op = inst.state.storage().list_ordered::<Stored>(&options);
        storage_promise(&ctx, &h, &inst, op, decoded_map)
    });
    host_fn!("deleteAll", |inst, h, ctx, _ac: bool, _au: bool, _nc: bool| {
        let op = inst.state.storage().delete_all();
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });
    host_fn!("sync", |inst, _h, ctx| promise(&ctx, &inst, inst.state.storage().sync(), deliver_value, None));

    // ---- the synchronous KV API (`ctx.storage.kv`): on a SQLite-backed object every
    // storage call is decided when made, so its outcome is taken at once ----
    host_fn!("kvGet", |inst, h, ctx, key: String| {
        let v = at_once(inst.state.storage().get::<Stored>(&key)).map_err(|e| h.throw(&ctx, &e))?;
        h.decode(v.as_deref().map(RawValue::get))
    });
    host_fn!("kvPut", |inst, h, ctx, key: String, text: String| {
        let value = raw(text).map_err(|e| h.throw(&ctx, &e))?;
        at_once(inst.state.storage().put(&key, &value)).map_err(|e| h.throw(&ctx, &e))?;
        Ok(Value::new_undefined(ctx.clone()))
    });
    host_fn!("kvDelete", |inst, h, ctx, key: String| {
        let existed = at_once(inst.state.storage().delete(&key)).map_err(|e| h.throw(&ctx, &e))?;
        Ok(Value::new_bool(ctx.clone(), existed))
    });
    host_fn!("kvList", |inst, h, ctx, options: String| {
        let options = list_options(&options).map_err(|e| h.throw(&ctx, &e))?;
        let rows = at_once(inst.state.storage().list_ordered::<Stored>(&options)).map_err(|e| h.throw(&ctx, &e))?;
        let out = Array::new(ctx.clone())?;
        for (i, (k, v)) in rows.into_iter().enumerate() {
            let pair = Array::new(ctx.clone())?;
            pair.set(0, k)?;
            pair.set(1, h.decode(Some(v.get()))?)?;
            out.set(i, pair)?;
        }
        Ok(out.into_value())
    });

    // ---- alarms ----
    host_fn!("getAlarm", |inst, h, ctx, _ac: bool, _nc: bool| {
        let op = inst.state.storage().get_alarm();
        storage_promise(&ctx, &h, &inst, op, |t| {
            Box::new(move |ctx, _, _| match t {
                Some(ms) => Ok(Value::new_number(ctx.clone(), ms as f64)),
                None => Ok(Value::new_null(ctx.clone())),
            })
        })
    });
    host_fn!("setAlarm", |inst, h, ctx, ms: f64, ac: bool, au: bool, nc: bool| {
        if !ms.is_finite() {
            return Err(h.throw(&ctx, &Error::usage("The value cannot be converted because it is not a valid Date.")));
        }
        // Once constructed, the object must have an alarm() handler (in the constructor
        // there is no object yet, and workerd allows it there too). workerd checks the time
        // first: a time at or before 0 gets its own error from the runtime below.
        if let Some((object, _)) = inst.parts(&ctx).filter(|_| ms > 0.0) {
            if !matches!(object.get::<_, Value>("alarm"), Ok(v) if v.is_function()) {
                let text = "Your Durable Object class must have an alarm() handler in order to call setAlarm()";
                return Err(h.throw(&ctx, &Error::usage(text)));
            }
        }
        // A time at or before the epoch is refused by the runtime, with workerd's text.
        let op = inst.state.storage().set_alarm_with(ms.max(0.0) as u64, write_options(ac, au, nc));
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });
    host_fn!("deleteAlarm", |inst, h, ctx, _ac: bool, _au: bool, _nc: bool| {
        let op = inst.state.storage().delete_alarm();
        storage_promise(&ctx, &h, &inst, op, deliver_value)
    });

    // ---- SQL ----
    host_fn!("sqlExec", |inst, h, ctx, query: String, bindings: Vec<Value<'js>>| {
        let values = bindings.iter().map(js_to_sql).collect::<Result<Vec<_>, _>>().map_err(|e| h.throw(&ctx, &e))?;
        let mut cursor = inst.state.storage().sql().exec(&query, &values).map_err(|e| h.throw(&ctx, &e))?;
        let columns: Vec<String> = cursor.column_names().to_vec();
        let rows = Array::new(ctx.clone())?;
        for (i, row) in cursor.raw().enumerate() {
            let r = Array::new(ctx.clone())?;
            for (j, v) in row.iter().enumerate() {
                r.set(j, sql_to_js(&ctx, v)?)?;
            }
            rows.set(i, r)?;
        }
        let out = Array::new(ctx.clone())?;
        out.set(0, columns)?;
        out.set(1, rows)?;
        out.set(2, cursor.rows_written() as f64)?;
        Ok(out.into_value())
    });
    host_fn!("databaseSize", |inst, h, ctx| {
        let size = inst.state.storage().sql().database_size().map_err(|e| h.throw(&ctx, &e))?;
        Ok(Value::new_number(ctx.clone(), size as f64))
    });

    // ---- transactions ----
    host_fn!("transactionSync", |inst, h, ctx, f: Function<'js>| {
        let mut thrown = None;
        let outcome = inst.state.storage().transaction_sync(|| match f.call::<_, Value>(()) {
            Ok(v) => Ok(v),
            Err(rquickjs::Error::Exception) => {
                let t = ctx.catch();
                let e = h.to_error(t.clone());
                thrown = Some(t);
                Err(e)
            }
            Err(e) => Err(Error::app(e.to_string())),
        });
        outcome.map_err(|e| match thrown {
            Some(t) => ctx.throw(t),
            None => h.throw(&ctx, &e),
        })
    });
    host_fn!("transaction", |inst, _h, ctx, f: Function<'js>| {
        let kept = inst.keep(&ctx, f.into_value());
        let thrown: Thrown = Rc::default();
        // Weak: this future waits in the instance's own table, and must not keep it alive.
        let (me, caught) = (inst.me.clone(), thrown.clone());
        let work = inst.state.storage().transaction(move |txn| {
            let started = me.upgrade().map(|me| {
                let id = me.fresh();
                me.txns.borrow_mut().insert(id, txn);
                let start = Start::Callback { kept, arg: Some(id) };
                (id, JsTask::new(me, start, Reply::Keep).keeping_exception(caught))
            });
            let me = me.clone();
            async move {
                let (id, task) = started.ok_or_else(|| Error::reset("the object's instance is gone"))?;
                let outcome = task.await;
                if let Some(me) = me.upgrade() {
                    me.txns.borrow_mut().remove(&id);
                }
                match outcome? {
                    Settled::Kept(n) => Ok(n),
                    Settled::Json(_) => Err(Error::app("a transaction returned no value")),
                }
            }
        });
        promise(&ctx, &inst, work, kept_value, Some(thrown))
    });
    host_fn!("txnGet", |inst, h, ctx, id: f64, key: String, _ac: bool, _nc: bool| {
        let txn = inst.txns.borrow().get(&(id as u64)).cloned();
        let Some(txn) = txn else { return Err(h.throw(&ctx, &Error::app("Cannot get() on rolled back transaction"))) };
        storage_promise(&ctx, &h, &inst, txn.get::<Stored>(&key), decoded)
    });
    host_fn!("txnPut", |inst, h, ctx, id: f64, key: String, text: String| {
        let txn = inst.txns.borrow().get(&(id as u64)).cloned();
        let Some(txn) = txn else { return Err(h.throw(&ctx, &Error::app("Cannot put() on rolled back transaction"))) };
        let value = raw(text).map_err(|e| h.throw(&ctx, &e))?;
        storage_promise(&ctx, &h, &inst, txn.put(&key, &value), deliver_value)
    });
    host_fn!("txnDelete", |inst, h, ctx, id: f64, key: String| {
        let txn = inst.txns.borrow().get(&(id as u64)).cloned();
        let Some(txn) = txn else {
            return Err(h.throw(&ctx, &Error::app("Cannot delete() on rolled back transaction")));
        };
        storage_promise(&ctx, &h, &inst, txn.delete(&key), deliver_value)
    });
    host_fn!("txnList", |inst, h, ctx, id: f64, options: String| {
        let txn = inst.txns.borrow().get(&(id as u64)).cloned();
        let Some(txn) = txn else { return Err(h.throw(&ctx, &Error::app("Cannot list() on rolled back transaction"))) };
        let options = list_options(&options).map_err(|e| h.throw(&ctx, &e))?;
        storage_promise(&ctx, &h, &inst, txn.list::<Stored>(&options), |m| decoded_map(m.into_iter().collect()))
    });
    host_fn!("txnRollback", |inst, h, ctx, id: f64| {
        let txn = inst.txns.borrow().get(&(id as u64)).cloned();
        if let Some(txn) = txn {
            txn.rollback().map_err(|e| h.throw(&ctx, &e))?;
        }
        Ok(Value::new_undefined(ctx.clone()))
    });

    // ---- ctx ----
    host_fn!("blockConcurrencyWhile", |inst, _h, ctx, f: Function<'js>| {
        let kept = inst.keep(&ctx, f.into_value());
        let task = JsTask::new(inst.clone(), Start::Callback { kept, arg: None }, Reply::Keep).ending_when_settled();
        let section = inst.state.block_concurrency_while(async move {
            match task.await? {
                Settled::Kept(n) => Ok(n),
                Settled::Json(_) => Err(Error::app("a critical section returned no value")),
            }
        });
        promise(&ctx, &inst, section, kept_value, None)
    });
    host_fn!("waitUntil", |inst, _h, ctx, p: Value<'js>| {
        let kept = inst.keep(&ctx, p);
        let (me, task) = (inst.clone(), JsTask::new(inst.clone(), Start::Await { kept }, Reply::Keep));
        inst.state.wait_until(async move {
            if let Settled::Kept(n) = task.await? {
                me.kept.borrow_mut().remove(&n);
            }
            Ok(())
        });
        Ok(Value::new_undefined(ctx.clone()))
    });
    host_fn!("abort", |inst, h, ctx, reason: Option<String>| {
        let e = inst.state.abort(reason.as_deref());
        Err(h.throw(&ctx, &e))
    });
    host_fn!(
        "id",
        bare | inst,
        ctx | {
            let id = inst.state.id();
            let out = Array::new(ctx.clone())?;
            out.set(0, id.hex())?;
            out.set(1, id.name())?;
            Ok(out.into_value())
        }
    );

    // ---- timers, clock, randomness, console ----
    host_fn!("setTimer", |inst, _h, ctx, f: Function<'js>, ms: f64, repeat: bool| {
        let kept = inst.keep(&ctx, f.into_value());
        let id = inst.fresh();
        inst.timers.borrow_mut().insert(id, kept);
        arm_timer(&inst, id, ms, repeat);
        Ok(Value::new_number(ctx.clone(), id as f64))
    });
    host_fn!("clearTimer", |inst, _h, ctx, id: f64| {
        if let Some(kept) = inst.timers.borrow_mut().remove(&(id as u64)) {
            inst.kept.borrow_mut().remove(&kept);
        }
        Ok(Value::new_undefined(ctx.clone()))
    });
    host_fn!("now", bare | inst, ctx | Ok(Value::new_number(ctx.clone(), inst.state.now().as_millis() as f64)));
    host_fn!("random", bare | inst, ctx | Ok(Value::new_number(ctx.clone(), inst.random())));
    host_fn!("log", bare |inst, ctx, level: String, text: String| {
        let line = if level == "log" { text } else { format!("{level}: {text}") };
        inst.state.log(&line);
        Ok(Value::new_undefined(ctx.clone()))
    });
    host_fn!("sometimes", bare |inst, ctx, label: String| {
        inst.state.world().user_sometimes(&label);
        Ok(Value::new_undefined(ctx.clone()))
    });

    // ---- env: namespaces of JavaScript classes, stubs, calls ----
    // Needs no instance: the isolate's own `env` is made before any object runs.
    let f = Function::new(ctx.clone(), move |ctx: Ctx<'js>| rquickjs::IntoJs::into_js(bindings.clone(), &ctx))?;
    host.set("bindings", f)?;
    host_fn!("idFromName", |inst, h, ctx, binding: String, name: String| {
        let ns = namespace(&inst, &binding).map_err(|e| h.throw(&ctx, &e))?;
        rquickjs::IntoJs::into_js(ns.id_from_name(&name).hex(), &ctx)
    });
    host_fn!("newUniqueId", |inst, h, ctx, binding: String| {
        let ns = namespace(&inst, &binding).map_err(|e| h.throw(&ctx, &e))?;
        rquickjs::IntoJs::into_js(ns.new_unique_id().hex(), &ctx)
    });
    host_fn!("stub", |inst, h, ctx, binding: String, hex: String, name: Option<String>| {
        let ns = namespace(&inst, &binding).map_err(|e| h.throw(&ctx, &e))?;
        let id = match &name {
            Some(n) => ns.id_from_name(n),
            None => ns.id_from_string(&hex).map_err(|e| h.throw(&ctx, &e))?,
        };
        Ok(Class::instance(ctx.clone(), StubHandle(ns.get(&id)))?.into_value())
    });
    host_fn!("call", |inst, h, ctx, stub: Class<'js, StubHandle>, method: String, args: String| {
        let args: Vec<serde_json::Value> =
            serde_json::from_str(&args).map_err(|e| h.throw(&ctx, &Error::usage(e.to_string())))?;
        let stub = stub.borrow().0.clone();
        let work = async move { stub.call(JsCall { method, args }).await };
        promise(
            &ctx,
            &inst,
            work,
            |v: serde_json::Value| Box::new(move |_, h: &Helpers<'_>, _| h.parse_tagged(&v.to_string())),
            None,
        )
    });
    crate::net::install(ctx, &host, &weak)?;
    Ok(host)
}

/// The Rust stub behind one JavaScript stub (`env.X.get(id)`), owned by that stub's
/// JavaScript object and dropped with it. One per JavaScript stub, not one per call: a
/// stub remembers that a call through it met its target's reset and fails every later
/// call with that error, while a new stub from `get(id)` reaches the new instance.
pub(crate) struct StubHandle(Stub<JsObject>);

// SAFETY: `StubHandle` holds no JavaScript value, so it has no lifetime to change.
unsafe impl<'js> JsLifetime<'js> for StubHandle {
    type Changed<'to> = StubHandle;
}

impl<'js> Trace<'js> for StubHandle {
    fn trace<'a>(&self, _: Tracer<'a, 'js>) {}
}

impl<'js> JsClass<'js> for StubHandle {
    const NAME: &'static str = "DurableObjectStubHandle";
    type Mutable = Readable;
    fn constructor(_: &Ctx<'js>) -> rquickjs::Result<Option<Constructor<'js>>> {
        Ok(None)
    }
}

pub(crate) fn gone(ctx: &Ctx<'_>) -> rquickjs::Error {
    match rquickjs::String::from_str(ctx.clone(), "the object's instance is gone") {
        Ok(s) => ctx.throw(s.into_value()),
        Err(e) => e,
    }
}

fn namespace(inst: &Instance, binding: &str) -> Result<dosim_sim::Namespace<JsObject>, Error> {
    inst.env
        .namespace::<JsObject>(binding)
        .ok_or_else(|| Error::usage(format!("env.{binding} is not a namespace of a JavaScript class")))
}
