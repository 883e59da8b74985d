//! §9.4 and §9.6, end to end: `blockConcurrencyWhile` nesting (workerd
//! `actor-block-concurrency-depth-test.js`), the KV API smoke sequence (`actor-kv-test.js`),
//! `ctx.abort()` and broken stubs (`sql-test.js` default export) and an un-awaited put
//! surviving restarts (`server-test.c++`, "Durable Objects (on disk)").

use crate::lab::*;
use dosim::sim::{Backend, ListOptions, Result, State};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

/// Enters `remaining` nested critical sections, then tries one more and reports whether
/// that probe threw (catching it, so the sections around it unwind cleanly).
fn probe_at_depth(st: State, remaining: u32) -> Pin<Box<dyn Future<Output = Result<Value>>>> {
    Box::pin(async move {
        if remaining > 0 {
            let inner = st.clone();
            return st.block_concurrency_while(probe_at_depth(inner, remaining - 1)).await;
        }
        match st.block_concurrency_while(async { Ok("ok") }).await {
            Ok(_) => Ok(json!({"threw": false})),
            Err(e) => Ok(json!({"threw": true, "message": e.message})),
        }
    })
}

#[test]
fn t68_block_concurrency_while_nesting_limit() {
    let r = run_lab(quiet(1), Backend::Sqlite, |lab| async move {
        lab.def("at-limit", |st| probe_at_depth(st, 63));
        lab.def("over-limit", |st| probe_at_depth(st, 64));
        let _ = lab.call(0, "at-limit").await;
        let _ = lab.call(0, "over-limit").await;
    });
    clean(&r);
    assert_eq!(value(&r, "at-limit"), &json!({"threw": false}));
    assert_eq!(
        value(&r, "over-limit"),
        &json!({"threw": true, "message": "blockConcurrencyWhile() calls are nested too deeply."})
    );
    // The probe's error was caught: nothing was reset.
    assert_eq!((r.stats.crashes, r.stats.constructions), (0, 1));
}

#[test]
fn t69_kv_api_smoke() {
    for backend in [Backend::Sqlite, Backend::Kv] {
        let r = run_lab(quiet(2), backend, |lab| async move {
            lab.def("t69", |st| async move {
                let s = st.storage().clone();
                let mut log = Vec::new();
                s.put("foo", &1).await?;
                s.put_many(&[("bar", 2), ("baz", 3)]).await?;
                log.push(json!(s.get::<u64>("foo").await?));
                log.push(json!(s.get_many::<u64>(&["foo", "bar", "nope"]).await?));
                log.push(json!(s.delete("foo").await?));
                log.push(json!(s.delete_many(&["bar", "nope"]).await?));
                log.push(json!(s.list::<u64>(&ListOptions::default()).await?));
                log.push(json!(s.list::<u64>(&ListOptions::prefix("ba")).await?));
                let in_txn = s
                    .transaction(|txn| async move {
                        txn.put("qux", &4).await?;
                        txn.get::<u64>("qux").await
                    })
                    .await?;
                log.push(json!(in_txn));
                s.sync().await?;
                s.delete_all().await?;
                log.push(json!(s.list::<u64>(&ListOptions::default()).await?));
                s.put("after", &5).await?;
                s.sync().await?;
                log.push(json!(s.get::<u64>("after").await?));
                Ok(json!(log))
            });
            let _ = lab.call(0, "t69").await;
        });
        clean(&r);
        assert_eq!(
            value(&r, "t69"),
            &json!([1, {"bar": 2, "foo": 1}, true, 1, {"baz": 3}, {"baz": 3}, 4, {}, 5]),
            "{backend:?}"
        );
        assert_eq!(durable(&r), json!({"after": 5}), "{backend:?}");
    }
}

#[test]
fn t73_unawaited_put_is_durable_before_the_reply() {
    for backend in [Backend::Sqlite, Backend::Kv] {
        for seed in 0..10 {
            let r = run_lab(quiet(seed), backend, |lab| async move {
                lab.def("count", |st| async move {
                    let s = st.storage();
                    let n = s.get::<u64>("foo").await?.unwrap_or(0);
                    s.put("foo", &(n + 1)); // not awaited
                    Ok(json!(n))
                });
                let q = lab.stub_named("q");
                // Each reply is followed at once by a crash of the object that sent it.
                for (i, (stub, label)) in [(&lab.stub, LABEL), (&q, "PROBE:q")].iter().cycle().take(5).enumerate() {
                    let _ = lab.call_on(i, stub, "count").await;
                    lab.world.crash(label, "test: crash right after the reply");
                }
                // A full restart: both objects at once, then counting goes on.
                lab.world.crash(LABEL, "test: restart");
                lab.world.crash("PROBE:q", "test: restart");
                let _ = lab.call_on(5, &lab.stub, "count").await;
                let _ = lab.call_on(6, &q, "count").await;
            });
            clean(&r);
            let seen: Vec<Option<&Value>> = values(&r, "count");
            let expected = [0, 0, 1, 1, 2, 3, 2].map(|n| Some(json!(n)));
            assert_eq!(seen, expected.iter().map(Option::as_ref).collect::<Vec<_>>(), "{backend:?} seed {seed}");
            assert_eq!(r.durable["PROBE:p"]["foo"], json!(4));
            assert_eq!(r.durable["PROBE:q"]["foo"], json!(3));
        }
    }
}

#[test]
fn t60_abort_resets_the_object_and_loses_what_was_not_durable() {
    // sql-test.js default export: `/increment`, `/break`, `/deleteAll`.
    let r = run_lab(quiet(3), Backend::Sqlite, |lab| async move {
        lab.def("increment", |st| async move {
            let s = st.storage();
            let val = s.get::<u64>("counter").await?.unwrap_or(0) + 1;
            s.put("counter", &val);
            Ok(json!(val))
        });
        lab.def("break", |st| async move {
            // Discarded: the object aborts right after.
            st.storage().put("counter", &888);
            Err(st.abort(Some("test broken")))
        });
        lab.def("deleteAll", |st| async move {
            let s = st.storage();
            s.put("counter", &888); // will be deleted
            s.delete_all();
            Ok(json!({"counter": s.get::<u64>("counter").await?}))
        });
        let mut obj = lab.stub_named("p");
        for program in ["increment", "increment", "break", "increment"] {
            let _ = lab.call_on(0, &obj, program).await;
        }
        // Get a new stub: everything is still consistent.
        obj = lab.stub_named("p");
        for program in ["increment", "deleteAll", "increment", "increment"] {
            let _ = lab.call_on(0, &obj, program).await;
        }
    });
    clean(&r);
    let e = failure(&r, "break");
    assert_eq!((e.message.as_str(), e.durable_object_reset), ("test broken", true));
    let inc: Vec<std::result::Result<&Value, &dosim::sim::Error>> = r
        .history
        .iter()
        .filter(|o| o.request == json!("increment"))
        .map(|o| o.ok_value().ok_or_else(|| o.error().expect("completed")))
        .collect();
    assert_eq!(inc.len(), 6);
    assert_eq!(inc[..2], [Ok(&json!(1)), Ok(&json!(2))]);
    // The stub that saw the reset stays broken, with the same error.
    let broken = inc[2].expect_err("the broken stub fails");
    assert_eq!((broken.message.as_str(), broken.durable_object_reset), ("test broken", true));
    // A new stub reaches a fresh instance that never saw 888.
    assert_eq!(inc[3..], [Ok(&json!(3)), Ok(&json!(1)), Ok(&json!(2))]);
    assert_eq!(value(&r, "deleteAll"), &json!({"counter": null}));
    assert_eq!((r.stats.crashes, r.stats.constructions), (1, 2));
    assert_eq!(durable(&r), json!({"counter": 2}));
}
