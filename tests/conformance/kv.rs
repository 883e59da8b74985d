//! §9.2, the KV back-end (workerd `actor-cache-test.c++`), through what an object sees:
//! values, whether a call settles at once (no simulated time passes: dosim's storage
//! round trips take 1–3 ms), and what the trace says about batches and held replies.
//! "Storage has X, the cache nothing" is set up by writing X, then crashing the object.

use crate::lab::*;
use dosim::sim::{Backend, ErrorKind, FaultPlan, ListOptions, WriteOptions};
use serde_json::{json, Value};
use std::time::Duration;

const UNCONFIRMED: WriteOptions = WriteOptions { allow_unconfirmed: true, allow_concurrency: false, no_cache: false };

fn range(start: &str, end: &str, limit: Option<u64>) -> ListOptions {
    ListOptions { start: Some(start.into()), end: Some(end.into()), limit, ..Default::default() }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("a map").keys().cloned().collect()
}

#[test]
fn t08_kv_single_key_basics() {
    let r = run_lab(quiet(1), Backend::Kv, |lab| async move {
        lab.preload(&[("foo", json!("bar"))]).await;
        lab.def("t08", |st| async move {
            let s = st.storage();
            let t0 = ms(&st);
            let foo = s.get::<Value>("foo").await?;
            let t1 = ms(&st);
            let bar = s.get::<Value>("bar").await?;
            let t2 = ms(&st);
            let again = (s.get::<Value>("foo").await?, s.get::<Value>("bar").await?);
            let t3 = ms(&st);
            s.put("foo", &"baz");
            let put = s.get::<Value>("foo").await?;
            let t4 = ms(&st);
            s.sync().await?;
            let t5 = ms(&st);
            let deleted = s.delete("foo").await?;
            let gone = s.get::<Value>("foo").await?;
            let t6 = ms(&st);
            s.sync().await?;
            Ok(json!({
                "foo": foo, "bar": bar, "again": [again.0, again.1], "put": put, "deleted": deleted, "gone": gone,
                "misses_waited": t1 > t0 && t2 > t1, "hits_waited": t3 > t2 || t4 > t3 || t6 > t5,
            }))
        });
        let _ = lab.call(0, "t08").await;
    });
    clean(&r);
    let v = value(&r, "t08");
    assert_eq!(
        v,
        &json!({
            "foo": "bar", "bar": null, "again": ["bar", null], "put": "baz", "deleted": true, "gone": null,
            "misses_waited": true, "hits_waited": false,
        })
    );
    // Batch #1 is the setup; then one put of foo, then one delete of foo.
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: foo)"));
    assert_eq!(commit_line(&r, 3).as_deref(), Some("commit batch #3 (1 writes: foo)"));
    assert_eq!(r.stats.commits, 3);
    assert_eq!(durable(&r), json!({}));
}

#[test]
fn t09_kv_more_puts() {
    let r = run_lab(with_plan(1, SLOW), Backend::Kv, |lab| async move {
        lab.def("t09", |st| async move {
            let s = st.storage();
            s.put("foo", &"bar");
            let now = s.get::<Value>("foo").await?;
            st.sleep(Duration::from_millis(1)).await;
            let during = s.get::<Value>("foo").await?;
            let during_at = ms(&st);
            s.sync().await?;
            let after = s.get::<Value>("foo").await?;
            // The same value again: no storage write. A new value: one.
            s.put("foo", &"bar");
            s.sync().await?;
            s.put("foo", &"baz");
            s.sync().await?;
            Ok(json!({"now": now, "during": during, "during_at": during_at, "after": after}))
        });
        let _ = lab.call(0, "t09").await;
    });
    clean(&r);
    let v = value(&r, "t09");
    assert_eq!((&v["now"], &v["during"], &v["after"]), (&json!("bar"), &json!("bar"), &json!("bar")));
    assert!(num(&v["during_at"]) < commit_at(&r, 1), "the read was not made during the flush");
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (1 writes: foo)"));
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: foo)"));
    assert_eq!(r.stats.commits, 2, "the identical re-put was written\n{}", r.trace_text());
    assert_eq!(durable(&r), json!({"foo": "baz"}));
}

#[test]
fn t10_kv_more_deletes() {
    let r = run_lab(quiet(2), Backend::Kv, |lab| async move {
        lab.preload(&[("foo", json!(1))]).await;
        lab.def("t10", |st| async move {
            let s = st.storage();
            let t0 = ms(&st);
            // Neither key is cached: both are counted deletes, answered after the flush.
            let (foo, bar) = (s.delete("foo"), s.delete("bar"));
            let foo = foo.await?;
            let foo_at = ms(&st);
            let bar = bar.await?;
            let bar_at = ms(&st);
            // Now both are known absent: answered at once, nothing to write.
            let again = (s.delete("foo").await?, s.delete("bar").await?);
            let again_waited = ms(&st) > bar_at;
            s.put("foo", &2);
            let after_put = s.delete("foo").await?;
            let after_put_waited = ms(&st) > bar_at;
            s.sync().await?;
            Ok(json!({
                "foo": foo, "bar": bar, "t0": t0, "foo_at": foo_at, "bar_at": bar_at, "again": [again.0, again.1],
                "again_waited": again_waited, "after_put": after_put, "after_put_waited": after_put_waited,
            }))
        });
        let _ = lab.call(0, "t10").await;
    });
    clean(&r);
    let v = value(&r, "t10");
    assert_eq!((&v["foo"], &v["bar"]), (&json!(true), &json!(false)));
    // Pending until the flush that carries them has committed.
    let flushed = commit_at(&r, 2);
    assert!(flushed > num(&v["t0"]));
    assert_eq!((num(&v["foo_at"]), num(&v["bar_at"])), (flushed, flushed));
    assert_eq!(v["again"], json!([false, false]));
    assert_eq!(v["again_waited"], json!(false));
    assert_eq!((&v["after_put"], &v["after_put_waited"]), (&json!(true), &json!(false)));
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (2 writes: bar, foo)"));
    assert_eq!(commit_line(&r, 3).as_deref(), Some("commit batch #3 (1 writes: foo)"));
    assert_eq!(r.stats.commits, 3);
    assert_eq!(durable(&r), json!({}));
}

#[test]
fn t11_kv_more_multi_deletes() {
    let r = run_lab(quiet(3), Backend::Kv, |lab| async move {
        lab.preload(&[("foo", json!(1)), ("bar", json!(2)), ("corge", json!(3))]).await;
        lab.def("t11", |st| async move {
            let s = st.storage();
            // The cache learns foo and bar present, baz and qux absent.
            s.get_many::<Value>(&["foo", "bar", "baz", "qux"]).await?;
            let t0 = ms(&st);
            let n = s.delete_many(&["bar", "qux", "corge", "grault"]);
            let seen = s.get_many::<Value>(&["bar", "qux", "corge", "grault"]).await?;
            let seen_waited = ms(&st) > t0;
            let n = n.await?;
            Ok(json!({"seen": seen, "seen_waited": seen_waited, "n": n, "t0": t0, "n_at": ms(&st)}))
        });
        let _ = lab.call(0, "t11").await;
    });
    clean(&r);
    let v = value(&r, "t11");
    assert_eq!((&v["seen"], &v["seen_waited"]), (&json!({}), &json!(false)));
    // bar from the cache, corge from storage.
    assert_eq!(v["n"], json!(2));
    assert_eq!(num(&v["n_at"]), commit_at(&r, 2));
    assert_eq!(durable(&r), json!({"foo": 1}));
}

#[test]
fn t12_kv_coalescing() {
    let r = run_lab(quiet(4), Backend::Kv, |lab| async move {
        lab.preload(&[("foo", json!(123)), ("bar", json!(456)), ("garply", json!("g")), ("waldo", json!("w"))]).await;
        lab.def("t12", |st| async move {
            let s = st.storage();
            s.get_many::<Value>(&["foo", "bar", "baz", "qux"]).await?;
            let t0 = ms(&st);
            s.put_many(&[("bar", json!(654)), ("qux", json!(555)), ("corge", json!(789))]);
            s.put("corge", &987);
            let p1 = s.delete_many(&["bar", "grault"]);
            let foo = s.delete("foo");
            let p2 = s.delete_many(&["garply", "waldo", "fred"]);
            s.put("waldo", &"odlaw");
            let all = ["foo", "bar", "baz", "qux", "corge", "grault", "garply", "waldo", "fred"];
            let seen = s.get_many::<Value>(&all).await?;
            let seen_waited = ms(&st) > t0;
            let foo = foo.await?;
            let foo_waited = ms(&st) > t0;
            Ok(json!({
                "seen": seen, "seen_waited": seen_waited, "foo": foo, "foo_waited": foo_waited,
                "p1": p1.await?, "p2": p2.await?,
            }))
        });
        let _ = lab.call(0, "t12").await;
    });
    clean(&r);
    let v = value(&r, "t12");
    assert_eq!(
        v,
        &json!({
            "seen": {"corge": 987, "qux": 555, "waldo": "odlaw"}, "seen_waited": false,
            "foo": true, "foo_waited": false,
            // bar was in the cache, grault in neither; storage had garply and waldo, even
            // though waldo was put again afterwards.
            "p1": 1, "p2": 2,
        })
    );
    // One atomic batch of final values: puts of corge, qux, waldo; deletes of bar, foo,
    // fred, garply, grault.
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (8 writes: bar, corge, foo, fred, … 4 more)"));
    assert_eq!(r.stats.commits, 2);
    assert_eq!(durable(&r), json!({"corge": 987, "qux": 555, "waldo": "odlaw"}));
}

#[test]
fn t13_kv_canceled_deletes_are_coalesced() {
    let r = run_lab(quiet(5), Backend::Kv, |lab| async move {
        lab.preload(&[("foo", json!(1)), ("qux", json!(2))]).await;
        lab.def("t13", |st| async move {
            let s = st.storage();
            // Deletes whose promises are dropped at once, one that is kept, then a put
            // over one of the deleted keys.
            drop(s.delete("foo"));
            drop(s.delete("bar"));
            drop(s.delete_many(&["baz", "qux"]));
            let kept = s.delete("corge");
            s.put("qux", &"new");
            Ok(json!(kept.await?))
        });
        let _ = lab.call(0, "t13").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t13"), &json!(false));
    assert_eq!(r.stats.commits, 2, "{}", r.trace_text());
    assert_eq!(durable(&r), json!({"qux": "new"}));
}

#[test]
fn t14_kv_get_put_ordering() {
    for seed in 0..10 {
        let r = run_lab(quiet(seed), Backend::Kv, |lab| async move {
            lab.preload(&[("foo", json!(321)), ("bar", json!(654)), ("baz", json!(987))]).await;
            lab.def("t14", |st| async move {
                let s = st.storage();
                let g1 = s.get_many::<Value>(&["foo", "bar", "baz"]);
                s.put("foo", &123);
                let d = s.delete("bar");
                let g2 = s.get_many::<Value>(&["foo", "bar", "baz"]);
                s.put("bar", &456);
                let second = g2.await?;
                let second_at = ms(&st);
                let first = g1.await?;
                let first_at = ms(&st);
                let deleted = d.await?;
                let t = ms(&st);
                let cached = (s.get::<Value>("foo").await?, s.get::<Value>("bar").await?);
                let cached_waited = ms(&st) > t;
                Ok(json!({
                    "first": first, "second": second, "reads_done": first_at.max(second_at), "deleted": deleted,
                    "cached": [cached.0, cached.1], "cached_waited": cached_waited,
                }))
            });
            let _ = lab.call(0, "t14").await;
        });
        clean(&r);
        let v = value(&r, "t14");
        // Each read sees the state as of its call.
        assert_eq!(v["first"], json!({"bar": 654, "baz": 987, "foo": 321}), "seed {seed}");
        assert_eq!(v["second"], json!({"baz": 987, "foo": 123}), "seed {seed}");
        assert_eq!((&v["deleted"], &v["cached"]), (&json!(true), &json!([123, 456])));
        assert_eq!(v["cached_waited"], json!(false));
        // Nothing was written before both reads had finished.
        assert!(commit_at(&r, 2) > num(&v["reads_done"]), "seed {seed}\n{}", r.trace_text());
        assert_eq!(durable(&r), json!({"bar": 456, "baz": 987, "foo": 123}));
    }
}

#[test]
fn t15_kv_put_during_flush() {
    let r = run_lab(with_plan(6, SLOW), Backend::Kv, |lab| async move {
        lab.def("t15", |st| async move {
            let s = st.storage();
            s.put_many(&[("foo", 123), ("bar", 456)]);
            st.sleep(Duration::from_millis(1)).await;
            s.put("bar", &654);
            let put_at = ms(&st);
            let during = s.get::<Value>("bar").await?;
            s.sync().await?;
            let after = s.get::<Value>("bar").await?;
            Ok(json!({"put_at": put_at, "during": during, "after": after}))
        });
        let _ = lab.call(0, "t15").await;
    });
    clean(&r);
    let v = value(&r, "t15");
    assert!(num(&v["put_at"]) < commit_at(&r, 1), "the second put was not made during the first flush");
    assert_eq!((&v["during"], &v["after"]), (&json!(654), &json!(654)));
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (2 writes: bar, foo)"));
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: bar)"));
    assert_eq!(durable(&r), json!({"bar": 654, "foo": 123}));
}

/// T16's run: storage has a, b, c; one batch puts x and carries two counted deletes; while
/// its flush is in flight (slow storage) b is put again and y is put.
fn flush_retry_run(seed: u64) -> dosim::sim::RunReport {
    let plan = FaultPlan { flush_transient_failure: 400, ..SLOW };
    run_lab(with_plan(seed, plan), Backend::Kv, |lab| async move {
        lab.preload(&[("a", json!(1)), ("b", json!(2)), ("c", json!(3))]).await;
        lab.def("t16", |st| async move {
            let s = st.storage();
            s.put("x", &1);
            let p1 = s.delete_many(&["a", "z"]);
            let p2 = s.delete_many(&["b", "c"]);
            st.sleep(Duration::from_millis(1)).await;
            s.put("b", &"again");
            s.put("y", &1);
            let p1 = p1.await?;
            let p1_at = ms(&st);
            let p2 = p2.await?;
            Ok(json!({"p1": p1, "p2": p2, "p1_at": p1_at, "p2_at": ms(&st)}))
        });
        let _ = lab.call(0, "t16").await;
    })
}

/// Seeds whose first attempt at flushing batch #2 failed and whose retry succeeded.
fn retried(r: &dosim::sim::RunReport) -> bool {
    commit_line(r, 1).is_some()
        && r.trace_text().contains("flush of batch #2 failed (transient), attempt 1")
        && commit_line(r, 2).is_some()
}

#[test]
fn t16a_kv_flush_retry_delete_counts() {
    let mut seen = 0;
    for seed in 0..40 {
        let r = flush_retry_run(seed);
        clean(&r);
        if !retried(&r) {
            continue;
        }
        seen += 1;
        let v = value(&r, "t16");
        // The counted deletes resolve only after the successful retry, with their counts.
        assert_eq!((&v["p1"], &v["p2"]), (&json!(1), &json!(2)), "seed {seed}");
        let failed_at = line_at(&r, "flush of batch #2 failed (transient), attempt 1").unwrap();
        let landed = commit_at(&r, 2);
        assert!(failed_at < landed);
        assert_eq!((num(&v["p1_at"]), num(&v["p2_at"])), (landed, landed), "seed {seed}\n{}", r.trace_text());
        assert_eq!(durable(&r), json!({"b": "again", "x": 1, "y": 1}));
    }
    assert!(seen >= 3, "no seed retried the flush of batch #2");
}

#[test]
fn t16b_kv_flush_retry_takes_the_current_dirty_set() {
    let mut seen = 0;
    for seed in 0..40 {
        let r = flush_retry_run(seed);
        clean(&r);
        if !retried(&r) {
            continue;
        }
        seen += 1;
        // x, y and the deletes of a, z, c plus the put of b: one commit of six keys.
        assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (6 writes: a, b, c, x, … 2 more)"));
        assert_eq!(r.stats.commits, 2, "seed {seed}\n{}", r.trace_text());
    }
    assert!(seen >= 3, "no seed retried the flush of batch #2");
}

#[test]
fn t17_kv_output_gate_blocked_during_flush() {
    let r = run_lab(quiet(7), Backend::Kv, |lab| async move {
        lab.def("t17", |st| async move {
            st.storage().put("a", &1);
            drop(st.storage().delete("b"));
            Ok(json!("done"))
        });
        let _ = lab.call(0, "t17").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t17"), &json!("done"));
    let held = line_index(&r, "output gate holds the reply to s1 (request #0) until batch #1 is durable");
    let commit = line_index(&r, "commit batch #1 (2 writes: a, b)");
    let reply = line_index(&r, "ok #0");
    assert!(held.is_some() && held < commit && commit < reply, "{}", r.trace_text());
    assert!(completed_at(&r, "t17") > commit_at(&r, 1));
    assert_eq!(r.stats.held_responses, 1);
}

#[test]
fn t18_kv_output_gate_bypass() {
    let r = run_lab(with_plan(8, SLOW), Backend::Kv, |lab| async move {
        lab.def("t18", |st| async move {
            st.storage().put_with("a", &1, UNCONFIRMED);
            Ok(json!("done"))
        });
        let _ = lab.call(0, "t18").await;
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 0);
    assert_eq!(line_index(&r, "output gate holds"), None);
    // The reply is out before the write is durable, and the write is still flushed.
    assert!(completed_at(&r, "t18") < commit_at(&r, 1), "{}", r.trace_text());
    assert_eq!(durable(&r), json!({"a": 1}));
}

#[test]
fn t19_kv_output_gate_bypass_on_one_put_but_not_the_next() {
    let r = run_lab(quiet(9), Backend::Kv, |lab| async move {
        lab.def("t19", |st| async move {
            st.storage().put_with("a", &1, UNCONFIRMED);
            st.storage().put("b", &2);
            Ok(json!("done"))
        });
        let _ = lab.call(0, "t19").await;
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 1);
    assert!(r.trace_text().contains("(request #0) until batch #1 is durable"));
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (2 writes: a, b)"));
    assert!(completed_at(&r, "t19") > commit_at(&r, 1));
}

#[test]
fn t20_kv_flush_hard_failure() {
    // Half the flushes fail hard; keep the seeds where the first one did.
    let plan = FaultPlan { flush_hard_failure: 500, ..SLOW };
    let mut seen = 0;
    for seed in 0..30 {
        let r = run_lab(with_plan(seed, plan), Backend::Kv, |lab| async move {
            lab.def("t20", |st| async move {
                let s = st.storage();
                s.put("a", &1);
                st.sleep(Duration::from_millis(1)).await;
                // Written while batch #1 is in flight: batch #2, which must never land.
                s.put("b", &2);
                Ok(json!("done"))
            });
            lab.def("read", |st| async move { Ok(json!(st.storage().get_many::<Value>(&["a", "b"]).await?)) });
            let _ = lab.call(0, "t20").await;
            lab.sleep(100).await;
            let _ = lab.call(1, "read").await;
        });
        clean(&r);
        if !r.trace_text().contains("CRASH injected: hard failure flushing batch #1") {
            continue;
        }
        seen += 1;
        let e = failure(&r, "t20");
        assert!(e.durable_object_reset && e.kind == ErrorKind::Reset, "seed {seed}: {e:?}");
        assert_eq!(value(&r, "read"), &json!({}), "seed {seed}");
        assert_eq!(durable(&r), json!({}), "seed {seed}");
    }
    assert!(seen >= 3, "no seed failed the first flush");
}

#[test]
fn t21_kv_flush_hard_failure_with_output_gate_bypass() {
    let plan = FaultPlan { flush_hard_failure: 1000, ..SLOW };
    for seed in 0..5 {
        let r = run_lab(with_plan(seed, plan), Backend::Kv, |lab| async move {
            lab.def("t21", |st| async move {
                st.storage().put_with("a", &1, UNCONFIRMED);
                Ok(json!("sent"))
            });
            lab.def("bystander", |st| async move {
                st.sleep(Duration::from_millis(40)).await;
                Ok(json!("late"))
            });
            let bystander = lab.send_at(1, "bystander", 0);
            let _ = lab.send_at(0, "t21", 0).await;
            let _ = bystander.await;
        });
        clean(&r);
        // The gate was never closed for the write...
        assert_eq!(value(&r, "t21"), &json!("sent"), "seed {seed}");
        assert_eq!(r.stats.held_responses, 0);
        // ...but its failure still breaks it: what was in flight fails, nothing is stored.
        assert!(failure(&r, "bystander").durable_object_reset, "seed {seed}");
        assert_eq!(r.stats.crashes, 1);
        assert_eq!(durable(&r), json!({}));
    }
}

#[test]
fn t22_kv_flush_hard_failure_includes_internal_error_reference() {
    let plan = FaultPlan { flush_hard_failure: 1000, ..FaultPlan::NONE };
    let r = run_lab(with_plan(1, plan), Backend::Kv, |lab| async move {
        lab.def("t22", |st| async move {
            st.storage().put("a", &1);
            Ok(json!("done"))
        });
        let _ = lab.call(0, "t22").await;
    });
    clean(&r);
    let e = failure(&r, "t22");
    assert!(e.durable_object_reset);
    let prefix = "Internal error in Durable Object storage write caused object to be reset; reference = ";
    assert!(e.message.starts_with(prefix) && e.message.len() > prefix.len(), "{:?}", e.message);
}

#[test]
fn t23_kv_read_hard_failure() {
    let plan = FaultPlan { read_failure: 1000, ..FaultPlan::NONE };
    let r = run_lab(with_plan(2, plan), Backend::Kv, |lab| async move {
        lab.def("t23", |st| async move {
            let s = st.storage();
            s.put("w", &1);
            let read = s.get::<Value>("missing").await;
            let at = ms(&st);
            let e = read.expect_err("every storage read fails");
            Ok(json!({"kind": format!("{:?}", e.kind), "reset": e.durable_object_reset, "at": at}))
        });
        lab.def("again", |st| async move { Ok(json!(st.storage().get::<Value>("w").await?)) });
        let _ = lab.call(0, "t23").await;
        let _ = lab.call(0, "again").await;
    });
    clean(&r);
    let v = value(&r, "t23");
    // Only the read fails; it is not retried and the object is not reset.
    assert_eq!((&v["kind"], &v["reset"]), (&json!("Storage"), &json!(false)));
    // The write waited for the read, then flushed normally.
    assert!(commit_at(&r, 1) > num(&v["at"]));
    assert_eq!(value(&r, "again"), &json!(1));
    assert_eq!((r.stats.crashes, r.stats.constructions), (0, 1));
    assert_eq!(durable(&r), json!({"w": 1}));
}

#[test]
fn t24a_kv_delete_all_reads_and_counts() {
    let r = run_lab(quiet(3), Backend::Kv, |lab| async move {
        lab.preload(&[("bar", json!(1)), ("baz", json!(2)), ("corge", json!(555)), ("garply", json!(3))]).await;
        lab.def("t24", |st| async move {
            let s = st.storage();
            s.get::<Value>("corge").await?;
            let t0 = ms(&st);
            s.put("foo", &1);
            let counted = s.delete_many(&["bar", "baz", "grault"]);
            s.put("baz", &2);
            drop(s.delete("garply"));
            drop(s.delete_all());
            s.put_many(&[("grault", 10), ("garply", 11), ("waldo", 12)]);
            let seen = s.get_many::<Value>(&["foo", "baz", "corge", "grault", "garply", "waldo"]).await?;
            let seen_waited = ms(&st) > t0;
            Ok(json!({"seen": seen, "seen_waited": seen_waited, "counted": counted.await?}))
        });
        let _ = lab.call(0, "t24").await;
    });
    clean(&r);
    assert_eq!(
        value(&r, "t24"),
        &json!({"seen": {"garply": 11, "grault": 10, "waldo": 12}, "seen_waited": false, "counted": 2})
    );
    assert_eq!(durable(&r), json!({"garply": 11, "grault": 10, "waldo": 12}));
}

#[test]
fn t24b_kv_delete_all_then_get_of_an_unseen_key() {
    // Deliberate difference: dosim's KV cache keeps no known-empty ranges (kv_ops::list:
    // "that only changes timing, never results"), so after deleteAll() a key the cache has
    // never seen is read from storage, a 1–3 ms round trip holding the input gate. workerd
    // answers it at once from the cache. The value is the same: absent.
    let r = run_lab(quiet(4), Backend::Kv, |lab| async move {
        lab.preload(&[("a", json!(1)), ("z", json!(2))]).await;
        lab.def("t24b", |st| async move {
            let s = st.storage();
            drop(s.delete_all());
            let t0 = ms(&st);
            let seen = s.get_many::<Value>(&["", "a", "m", "z"]).await?;
            Ok(json!({"seen": seen, "waited": ms(&st) > t0}))
        });
        let _ = lab.call(0, "t24b").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t24b"), &json!({"seen": {}, "waited": true}));
    assert_eq!(durable(&r), json!({}));
}

#[test]
#[ignore = "dosim differs: on the KV back-end, writes before deleteAll(), the deleteAll() and writes after it are \
            committed as one batch; workerd flushes the earlier writes, then runs deleteAll, then writes the later \
            ones (three storage steps a crash can fall between)"]
fn t24c_kv_delete_all_is_ordered_between_flushes() {
    let r = run_lab(quiet(5), Backend::Kv, |lab| async move {
        lab.preload(&[("old", json!(1))]).await;
        lab.def("t24c", |st| async move {
            let s = st.storage();
            s.put("foo", &1);
            drop(s.delete_all());
            s.put("waldo", &2);
            Ok(Value::Null)
        });
        let _ = lab.call(0, "t24c").await;
    });
    clean(&r);
    assert_eq!(durable(&r), json!({"waldo": 2}));
    let commits: Vec<String> = r
        .trace
        .iter()
        .filter(|l| l.actor == LABEL && l.what.starts_with("commit batch"))
        .map(|l| l.what.clone())
        .collect();
    let before = commits.iter().position(|c| c.contains("foo") && !c.contains("waldo"));
    let after = commits.iter().position(|c| c.contains("waldo"));
    assert!(before.is_some() && before < after, "{commits:#?}");
}

#[test]
fn t25_kv_delete_all_again_before_the_first_is_done() {
    let r = run_lab(quiet(6), Backend::Kv, |lab| async move {
        lab.preload(&[("a", json!(1)), ("b", json!(2))]).await;
        lab.def("t25", |st| async move {
            let s = st.storage();
            drop(s.delete_all());
            s.put("between", &1);
            drop(s.delete_all());
            s.put("fred", &2);
            let seen = s.get_many::<Value>(&["a", "b", "between", "fred"]).await?;
            s.sync().await?;
            Ok(json!(seen))
        });
        let _ = lab.call(0, "t25").await;
    });
    clean(&r);
    // The write between the two is discarded; only fred is written after them.
    assert_eq!(value(&r, "t25"), &json!({"fred": 2}));
    assert_eq!(durable(&r), json!({"fred": 2}));
}

#[test]
fn t26_kv_list() {
    let r = run_lab(quiet(7), Backend::Kv, |lab| async move {
        lab.preload(&[("bar", json!(1)), ("baz", json!(2)), ("foo", json!(3))]).await;
        lab.def("t26", |st| async move {
            let s = st.storage();
            let t0 = ms(&st);
            let all = s.list::<Value>(&range("bar", "qux", None)).await?;
            let listed_at = ms(&st);
            let mut limited = Vec::new();
            for limit in [1, 2, 3, 1000] {
                limited.push(json!(s.list::<Value>(&range("bar", "qux", Some(limit))).await?));
            }
            let zero = s.list::<Value>(&range("bar", "qux", Some(0))).await.expect_err("limit 0");
            let reverse = ListOptions { reverse: true, ..range("bar", "qux", None) };
            let reverse: Vec<String> = s.list_ordered::<Value>(&reverse).await?.into_iter().map(|(k, _)| k).collect();
            // A listed key is cached now.
            let t1 = ms(&st);
            let baz = s.get::<Value>("baz").await?;
            let baz_waited = ms(&st) > t1;
            // Deliberate difference: workerd also caches the listed range as known, so an
            // absent key inside it (corge) is answered at once; dosim keeps no known-empty
            // ranges and reads it from storage (timing only: kv_ops::list).
            let t2 = ms(&st);
            let corge = s.get::<Value>("corge").await?;
            let corge_waited = ms(&st) > t2;
            // The end key is exclusive, so not known: it goes to storage in workerd too.
            let t3 = ms(&st);
            let qux = s.get::<Value>("qux").await?;
            let qux_waited = ms(&st) > t3;
            Ok(json!({
                "all": all, "list_waited": listed_at > t0, "limited": limited,
                "zero": [format!("{:?}", zero.kind), zero.message], "reverse": reverse,
                "baz": [baz, baz_waited], "corge": [corge, corge_waited], "qux": [qux, qux_waited],
            }))
        });
        let _ = lab.call(0, "t26").await;
    });
    clean(&r);
    let v = value(&r, "t26");
    assert_eq!(keys(&v["all"]), ["bar", "baz", "foo"]);
    assert_eq!(v["list_waited"], json!(true));
    let limited: Vec<Vec<String>> = v["limited"].as_array().unwrap().iter().map(keys).collect();
    assert_eq!(limited, [vec!["bar"], vec!["bar", "baz"], vec!["bar", "baz", "foo"], vec!["bar", "baz", "foo"]]);
    assert_eq!(v["zero"], json!(["Usage", "List limit must be positive."]));
    assert_eq!(v["reverse"], json!(["foo", "baz", "bar"]));
    assert_eq!(v["baz"], json!([2, false]));
    assert_eq!(v["corge"], json!([null, true]));
    assert_eq!(v["qux"], json!([null, true]));
}

#[test]
#[ignore = "dosim differs: a list() of a range already listed goes to storage again (no known-complete ranges), and a \
            flush can start during that round trip, so writes before and after it commit in two batches; workerd \
            answers it from the cache in the same turn, and they commit together"]
fn t26b_kv_relisting_a_listed_range_keeps_writes_coalesced() {
    for seed in 0..5 {
        let r = run_lab(quiet(seed), Backend::Kv, |lab| async move {
            lab.preload(&[("b", json!(1))]).await;
            lab.def("t26b", |st| async move {
                let s = st.storage();
                let everything = ListOptions::default();
                s.list::<Value>(&everything).await?;
                // The whole key space is known now: listing it again needs no storage.
                s.put("p", &1);
                let again = s.list::<Value>(&everything).await?;
                s.put("q", &2);
                Ok(json!(again))
            });
            let _ = lab.call(0, "t26b").await;
        });
        clean(&r);
        assert_eq!(value(&r, "t26b"), &json!({"b": 1, "p": 1}));
        assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (2 writes: p, q)"), "seed {seed}");
    }
}

#[test]
fn t27_kv_list_with_limit_around_negative_entries() {
    let r = run_lab(quiet(8), Backend::Kv, |lab| async move {
        lab.preload(&[("bar", json!(0)), ("bar1", json!(1)), ("bar3", json!(3)), ("foo", json!(9))]).await;
        lab.def("t27", |st| async move {
            let s = st.storage();
            drop(s.delete_many(&["bar1", "bar2", "bar3", "bar4"]));
            s.put("baz", &5);
            Ok(json!(s.list::<Value>(&range("bar", "qux", Some(3))).await?))
        });
        let _ = lab.call(0, "t27").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t27"), &json!({"bar": 0, "baz": 5, "foo": 9}));
}

#[test]
fn t28_kv_list_with_limit_and_dirty_puts_past_the_limit() {
    let r = run_lab(quiet(9), Backend::Kv, |lab| async move {
        lab.preload(&[("bar", json!(1)), ("baz", json!(2)), ("foo", json!(3))]).await;
        lab.def("t28", |st| async move {
            let s = st.storage();
            s.put("corge", &4);
            s.put("grault", &5);
            Ok(json!(s.list::<Value>(&range("bar", "qux", Some(3))).await?))
        });
        let _ = lab.call(0, "t28").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t28"), &json!({"bar": 1, "baz": 2, "corge": 4}));
}

#[test]
fn t29_kv_transaction_overlay_changes() {
    let r = run_lab(quiet(10), Backend::Kv, |lab| async move {
        lab.preload(&[("grault", json!(1)), ("baz", json!(2)), ("corge", json!(3))]).await;
        lab.def("t29", |st| async move {
            st.storage()
                .transaction(|txn| async move {
                    txn.put("foo", &1).await?;
                    txn.put("bar", &2).await?;
                    txn.put("qux", &3).await?;
                    let grault = txn.delete("grault").await?;
                    let baz = txn.delete("baz").await?;
                    let garply = txn.delete("garply").await?;
                    let foo = txn.get::<Value>("foo").await?;
                    let gone = txn.get::<Value>("grault").await?;
                    let list = txn.list::<Value>(&ListOptions::default()).await?;
                    Ok(json!({"deleted": [grault, baz, garply], "foo": foo, "gone": gone, "list": list}))
                })
                .await
        });
        let _ = lab.call(0, "t29").await;
    });
    clean(&r);
    assert_eq!(
        value(&r, "t29"),
        &json!({
            "deleted": [true, true, false], "foo": 1, "gone": null,
            "list": {"bar": 2, "corge": 3, "foo": 1, "qux": 3},
        })
    );
    // Nothing was written before the commit, then one batch: deletes of baz and grault,
    // puts of bar, foo and qux (garply was read absent, so there is nothing to delete).
    let closed = line_index(&r, "critical section closed").expect("the transaction ran");
    let commit = line_index(&r, "commit batch #2").expect("the transaction committed");
    assert!(closed < commit);
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (5 writes: bar, baz, foo, grault, … 1 more)"));
    assert_eq!(r.stats.commits, 2);
    assert_eq!(durable(&r), json!({"bar": 2, "corge": 3, "foo": 1, "qux": 3}));
}

#[test]
fn t33a_kv_sync_with_nothing_pending() {
    let r = run_lab(quiet(11), Backend::Kv, |lab| async move {
        lab.def("t33a", |st| async move {
            let t0 = ms(&st);
            st.storage().sync().await?;
            Ok(json!(ms(&st) - t0))
        });
        let _ = lab.call(0, "t33a").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t33a"), &json!(0));
    assert_eq!(r.stats.commits, 0);
}

#[test]
fn t33b_kv_sync_waits_for_the_pending_flush() {
    let r = run_lab(quiet(12), Backend::Kv, |lab| async move {
        lab.def("t33b", |st| async move {
            let s = st.storage();
            let mut at = Vec::new();
            s.put("a", &1);
            s.sync().await?;
            at.push(ms(&st));
            s.put_with("b", &2, UNCONFIRMED);
            s.sync().await?;
            at.push(ms(&st));
            drop(s.delete("a"));
            s.sync().await?;
            at.push(ms(&st));
            drop(s.delete_all());
            s.sync().await?;
            at.push(ms(&st));
            Ok(json!(at))
        });
        let _ = lab.call(0, "t33b").await;
    });
    clean(&r);
    // A put, an unconfirmed put, a delete, a deleteAll: each sync resolves as its flush lands.
    let expected: Vec<u64> = (1..=4).map(|n| commit_at(&r, n)).collect();
    assert_eq!(value(&r, "t33b"), &json!(expected));
}

#[test]
fn t33c_kv_sync_does_not_wait_for_later_writes() {
    let r = run_lab(with_plan(13, SLOW), Backend::Kv, |lab| async move {
        lab.def("t33c", |st| async move {
            let s = st.storage();
            s.put("a", &1);
            st.sleep(Duration::from_millis(1)).await;
            // Batch #1 is in flight; the sync covers it, the put after the call does not.
            let synced = s.sync();
            s.put("b", &2);
            synced.await?;
            Ok(json!(ms(&st)))
        });
        let _ = lab.call(0, "t33c").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t33c"), &json!(commit_at(&r, 1)));
    assert!(commit_at(&r, 2) > commit_at(&r, 1));
}

#[test]
fn t34a_kv_crash_drops_a_scheduled_flush() {
    let mut landed = [false, false];
    for seed in 0..20 {
        let r = run_lab(with_plan(seed, SLOW), Backend::Kv, |lab| async move {
            lab.def("t34", |st| async move {
                let s = st.storage();
                s.put("a", &1);
                st.sleep(Duration::from_millis(1)).await;
                // Batch #2: scheduled behind batch #1, which is in flight (it lands at 11 ms at the earliest).
                s.put("b", &2);
                st.sleep(Duration::from_millis(100)).await;
                Ok(json!("done"))
            });
            let call = lab.send_at(0, "t34", 0);
            lab.sleep(10).await;
            lab.world.crash(LABEL, "test: shutdown");
            let _ = call.await;
        });
        clean(&r);
        assert!(failure(&r, "t34").durable_object_reset, "seed {seed}");
        assert!(r.trace_text().contains("batch #2 rolled back"), "seed {seed}\n{}", r.trace_text());
        // The flush in flight lands whole or not at all (dosim models a crash, where
        // workerd's graceful shutdown lets it complete); the scheduled one never does.
        let a_landed = r.trace_text().contains("batch #1 in flight landed");
        landed[usize::from(a_landed)] = true;
        let expected = if a_landed { json!({"a": 1}) } else { json!({}) };
        assert_eq!(durable(&r), expected, "seed {seed}");
    }
    assert_eq!(landed, [true, true], "both fates of the flush in flight should occur");
}

#[test]
fn t34b_kv_storage_of_a_dropped_instance_is_no_longer_accessible() {
    let r = run_lab(quiet(14), Backend::Kv, |lab| async move {
        lab.def_stash();
        let _ = lab.call(0, "stash").await;
        lab.world.crash(LABEL, "test: shutdown");
        let s = stashed().storage().clone();
        let put = s.put("a", &1).await.expect_err("put on a dropped instance");
        let unconfirmed = s.put_with("b", &1, UNCONFIRMED).await.expect_err("unconfirmed put");
        let delete = s.delete("c").await.expect_err("delete on a dropped instance");
        for e in [put, unconfirmed, delete] {
            assert_eq!(e.message, "Durable Object storage is no longer accessible.");
        }
    });
    clean(&r);
    assert_eq!(r.stats.commits, 0);
    assert_eq!(durable(&r), json!({}));
}

#[test]
#[ignore = "dosim differs: the KV back-end has no write-buffer backpressure; in workerd, once more than 8 MiB is \
            dirty, a write's promise resolves only after the flush catches up (holding the input gate)"]
fn t35_kv_backpressure() {
    let r = run_lab(quiet(15), Backend::Kv, |lab| async move {
        lab.def("t35", |st| async move {
            let s = st.storage();
            // 70 values of 120 KiB: over workerd's 8 MiB dirty limit.
            let big = "x".repeat(120 * 1024);
            for i in 0..70 {
                s.put(&format!("k{i:02}"), &big);
            }
            let t0 = ms(&st);
            s.put("late", &1).await?;
            Ok(json!(ms(&st) - t0))
        });
        let _ = lab.call(0, "t35").await;
    });
    clean(&r);
    assert!(num(value(&r, "t35")) > 0, "the write over the limit resolved at once");
}
