//! §9.3–9.4, the SQLite back-end through the KV API (workerd `actor-sqlite-test.c++`,
//! `sql-test.js`): multi-key puts, the output gate around implicit and explicit
//! transactions, commit failures, `sync()` and the `txnTest` transaction sequence.

use crate::lab::*;
use dosim::sim::{Backend, Error, ErrorKind, FaultPlan, WriteOptions};
use serde_json::{json, Value};
use std::time::Duration;

const UNCONFIRMED: WriteOptions = WriteOptions { allow_unconfirmed: true, allow_concurrency: false, no_cache: false };

/// What callers see when a commit fails in dosim.
/// What callers of a failed commit see, up to the reference id workerd appends.
const COMMIT_FAILED: &str = "Internal error in Durable Object storage write caused object to be reset; reference = ";

#[test]
fn t44_put_multiple_is_all_or_nothing() {
    let r = run_lab(quiet(1), Backend::Sqlite, |lab| async move {
        lab.def("t44", |st| async move {
            let s = st.storage();
            s.put("baz", &0);
            // One byte over SQLite's 4 MiB length limit.
            let big = "k".repeat(4 * 1024 * 1024 + 1);
            let e = s.put_many(&[("foo", 1), ("foo2", 2), ("foo3", 3), (big.as_str(), 4)]).await.expect_err("too big");
            let seen = s.get_many::<Value>(&["baz", "foo", "foo2", "foo3"]).await?;
            Ok(json!({"error": [format!("{:?}", e.kind), e.message], "seen": seen}))
        });
        let _ = lab.call(0, "t44").await;
    });
    clean(&r);
    assert_eq!(
        value(&r, "t44"),
        &json!({"error": ["Storage", "string or blob too big: SQLITE_TOOBIG"], "seen": {"baz": 0}})
    );
    // The put before it, in the same implicit transaction, is still committed.
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (1 writes: baz)"));
    assert_eq!(durable(&r), json!({"baz": 0}));
}

/// Runs `program` once on a fresh SQLite-backed object.
fn one_call<F, Fut>(seed: u64, name: &'static str, program: F) -> dosim::sim::RunReport
where
    F: Fn(dosim::sim::State) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = dosim::sim::Result<Value>> + 'static,
{
    run_lab(quiet(seed), Backend::Sqlite, move |lab| async move {
        lab.def(name, program);
        let _ = lab.call(0, name).await;
    })
}

#[test]
fn t48a_confirmed_put_blocks_output_gate() {
    let r = one_call(2, "t48a", |st| async move {
        st.storage().put("foo", &"bar");
        Ok(json!("done"))
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 1);
    let held = line_index(&r, "(request #0) until batch #1 is durable");
    let commit = line_index(&r, "commit batch #1 (1 writes: foo)");
    let reply = line_index(&r, "ok #0");
    assert!(held.is_some() && held < commit && commit < reply, "{}", r.trace_text());
    assert_eq!(durable(&r), json!({"foo": "bar"}));
}

#[test]
fn t48b_unconfirmed_put_does_not_block_output_gate() {
    let r = one_call(3, "t48b", |st| async move {
        st.storage().put_with("foo", &"bar", UNCONFIRMED);
        Ok(json!("done"))
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 0);
    assert_eq!(line_index(&r, "output gate holds"), None);
    assert_eq!(durable(&r), json!({"foo": "bar"}));
}

#[test]
fn t48c_mixed_writes_in_one_transaction_use_output_gate() {
    let r = one_call(4, "t48c", |st| async move {
        st.storage().put_with("foo", &"bar", UNCONFIRMED);
        st.storage().put("baz", &"quux");
        Ok(json!("done"))
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 1);
    assert!(r.trace_text().contains("(request #0) until batch #1 is durable"));
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (2 writes: foo, baz)"));
    assert_eq!(durable(&r), json!({"baz": "quux", "foo": "bar"}));
}

#[test]
fn t50_confirmed_put_in_explicit_transaction() {
    // Deliberate difference: dosim commits the root of an explicit transaction at once
    // (storage/txn.rs: "an explicit root that committed is now durable"), so the output
    // gate has nothing left to hold when the reply is produced. workerd locks the gate at
    // the root commit until the commit callback resolves (immediately in workerd itself).
    // Either way no client sees the reply before the write is durable, which is asserted.
    let r = one_call(5, "t50", |st| async move {
        let s = st.storage().clone();
        st.storage()
            .transaction(move |_txn| async move {
                s.put("foo", &"bar");
                Ok(json!("committed"))
            })
            .await
    });
    clean(&r);
    assert_eq!(value(&r, "t50"), &json!("committed"));
    let commit = line_index(&r, "commit batch #1 (1 writes: foo)");
    let closed = line_index(&r, "critical section closed");
    let reply = line_index(&r, "ok #0");
    assert!(commit.is_some() && commit < closed && closed < reply, "{}", r.trace_text());
    assert_eq!(r.stats.held_responses, 0);
    assert_eq!(durable(&r), json!({"foo": "bar"}));
}

#[test]
fn t51_nested_rollback_leaves_only_the_parent_write() {
    let r = one_call(6, "t51", |st| async move {
        let outer = st.clone();
        st.storage()
            .transaction(move |_txn| async move {
                outer.storage().put_with("parent", &1, UNCONFIRMED);
                let inner = outer.clone();
                outer
                    .storage()
                    .transaction(move |txn| async move {
                        inner.storage().put("child", &2);
                        txn.rollback()?;
                        Ok(())
                    })
                    .await?;
                let seen = outer.storage().get_many::<Value>(&["parent", "child"]).await?;
                Ok(json!(seen))
            })
            .await
    });
    clean(&r);
    assert_eq!(value(&r, "t51"), &json!({"parent": 1}));
    // The child's confirmed write was rolled back, so the parent's commit must not hold
    // the reply. (dosim never holds a reply for an explicit transaction, see t50; this
    // keeps the rolled-back child from counting if it ever does.)
    assert_eq!(r.stats.held_responses, 0);
    assert_eq!(durable(&r), json!({"parent": 1}));
}

#[test]
fn t52a_unconfirmed_write_failure_still_breaks_output_gate() {
    let plan = FaultPlan { commit_failure: 1000, ..FaultPlan::NONE };
    for seed in 0..5 {
        let r = run_lab(with_plan(seed, plan), Backend::Sqlite, |lab| async move {
            lab.def("t52", |st| async move {
                st.storage().put_with("a", &1, UNCONFIRMED);
                Ok(json!("sent"))
            });
            lab.def("bystander", |st| async move {
                st.sleep(Duration::from_millis(20)).await;
                Ok(json!("late"))
            });
            // The bystander is in the object (1–3 ms to 21–23 ms) when t52 arrives at 6–8 ms.
            let bystander = lab.send_at(1, "bystander", 0);
            let _ = lab.send_at(0, "t52", 5).await;
            let _ = bystander.await;
        });
        clean(&r);
        assert_eq!(value(&r, "t52"), &json!("sent"), "seed {seed}");
        let e = failure(&r, "bystander");
        assert!(e.durable_object_reset, "seed {seed}: {e:?}");
        assert!(e.message.starts_with(COMMIT_FAILED), "{:?}", e.message);
        assert_eq!(r.stats.crashes, 1);
        assert_eq!(durable(&r), json!({}));
    }
}

#[test]
#[ignore = "dosim differs: injected commit failures never hit the commit of an explicit transaction() (its root is \
            durable at once); in workerd that commit can fail, and then breaks the output gate even when every write \
            in it was unconfirmed"]
fn t52b_explicit_transaction_commit_failure_breaks_output_gate() {
    let plan = FaultPlan { commit_failure: 1000, ..FaultPlan::NONE };
    let r = run_lab(with_plan(1, plan), Backend::Sqlite, |lab| async move {
        lab.def("t52b", |st| async move {
            let s = st.storage().clone();
            st.storage()
                .transaction(move |_txn| async move {
                    s.put_with("a", &1, UNCONFIRMED);
                    Ok(())
                })
                .await?;
            st.sleep(Duration::from_millis(5)).await;
            Ok(json!("survived"))
        });
        let _ = lab.call(0, "t52b").await;
    });
    clean(&r);
    assert!(failure(&r, "t52b").durable_object_reset);
    assert_eq!(durable(&r), json!({}));
}

#[test]
fn t53a_sync_returns_at_once_when_nothing_is_pending() {
    let r = one_call(7, "t53a", |st| async move {
        let t0 = ms(&st);
        st.storage().sync().await?;
        Ok(json!(ms(&st) - t0))
    });
    clean(&r);
    assert_eq!(value(&r, "t53a"), &json!(0));
    assert_eq!(r.stats.commits, 0);
}

#[test]
fn t53b_sync_waits_for_earlier_writes() {
    // After `await sync()` the write is durable, so the reply has nothing to wait for.
    let r = one_call(8, "t53b", |st| async move {
        st.storage().put("a", &1);
        st.storage().sync().await?;
        Ok(json!("synced"))
    });
    clean(&r);
    assert_eq!(value(&r, "t53b"), &json!("synced"));
    assert_eq!(r.stats.held_responses, 0);
    assert_eq!(durable(&r), json!({"a": 1}));
}

#[test]
fn t53c_sync_propagates_commit_errors() {
    let plan = FaultPlan { commit_failure: 1000, ..FaultPlan::NONE };
    let r = run_lab(with_plan(10, plan), Backend::Sqlite, |lab| async move {
        lab.def("t53c", |st| async move {
            st.storage().put_with("a", &1, UNCONFIRMED);
            st.storage().sync().await?;
            Ok(json!("synced"))
        });
        let _ = lab.call(0, "t53c").await;
    });
    clean(&r);
    let e = failure(&r, "t53c");
    assert!(e.durable_object_reset && e.kind == ErrorKind::Reset, "{e:?}");
    assert!(e.message.starts_with(COMMIT_FAILED), "{:?}", e.message);
    assert_eq!(r.stats.crashes, 1);
    assert_eq!(durable(&r), json!({}));
}

/// T54's run: an instance stashes its `State` and writes; the commit fails; the workload
/// then writes through the stashed storage and returns what each write did.
fn writes_after_failed_commit(seed: u64) -> (dosim::sim::RunReport, std::sync::Arc<std::sync::Mutex<Vec<Error>>>) {
    let plan = FaultPlan { commit_failure: 1000, ..FaultPlan::NONE };
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = errors.clone();
    let r = run_lab(with_plan(seed, plan), Backend::Sqlite, move |lab| async move {
        lab.def_stash();
        lab.def("write", |st| async move {
            st.storage().put("a", &1);
            Ok(json!("written"))
        });
        let _ = lab.call(0, "stash").await;
        let _ = lab.call(0, "write").await;
        let s = stashed().storage().clone();
        let attempts =
            [s.put("b", &2).await.err(), s.put_with("c", &3, UNCONFIRMED).await.err(), s.delete("a").await.err()];
        out.lock().unwrap().extend(attempts.into_iter().map(|e| e.expect("the write was refused")));
    });
    (r, errors)
}

#[test]
fn t54a_writes_after_a_failed_commit_are_refused() {
    let (r, errors) = writes_after_failed_commit(11);
    clean(&r);
    assert!(failure(&r, "write").message.starts_with(COMMIT_FAILED));
    assert_eq!(errors.lock().unwrap().len(), 3);
    assert_eq!(durable(&r), json!({}));
}

#[test]
fn t54b_writes_after_a_failed_commit_throw_the_same_error() {
    let (r, errors) = writes_after_failed_commit(12);
    clean(&r);
    for e in errors.lock().unwrap().iter() {
        assert!(e.message.starts_with(COMMIT_FAILED), "{:?}", e.message);
    }
}

#[test]
fn t58_transaction_sequence() {
    let r = one_call(13, "t58", |st| async move {
        let s = st.storage().clone();
        let mut log = Vec::new();
        let get = |s: &dosim::sim::Storage| s.get::<u64>("txnTest");
        s.put("txnTest", &0);
        st.sleep(Duration::from_millis(1)).await; // finish the implicit transaction

        // A transaction while no implicit transaction is open.
        let s1 = s.clone();
        let result = s
            .transaction(move |_txn| async move {
                s1.put("txnTest", &1);
                Ok((s1.get::<u64>("txnTest").await?, "foo"))
            })
            .await?;
        log.push(json!([result.0, result.1, get(&s).await?]));

        // A transaction while an implicit transaction is open.
        s.put("txnTest", &2);
        let s1 = s.clone();
        let inside = s
            .transaction(move |_txn| async move {
                s1.put("txnTest", &3);
                s1.get::<u64>("txnTest").await
            })
            .await?;
        log.push(json!([inside, get(&s).await?]));

        // Explicitly rolled back.
        let s1 = s.clone();
        let inside = s
            .transaction(move |txn| async move {
                s1.put("txnTest", &4);
                let v = s1.get::<u64>("txnTest").await?;
                txn.rollback()?;
                Ok(v)
            })
            .await?;
        log.push(json!([inside, get(&s).await?]));

        // Rolled back by an error.
        let s1 = s.clone();
        let failed = s
            .transaction(move |_txn| async move {
                s1.put("txnTest", &5);
                assert_eq!(s1.get::<u64>("txnTest").await?, Some(5));
                Err::<(), _>(Error::app("txn failure"))
            })
            .await
            .expect_err("the closure failed");
        log.push(json!([failed.message, format!("{:?}", failed.kind), get(&s).await?]));

        // Nested, with an await inside the inner one; the outer rolls back.
        let (s1, st1) = (s.clone(), st.clone());
        let seen = s
            .transaction(move |txn| async move {
                s1.put("txnTest", &6);
                let six = s1.get::<u64>("txnTest").await?;
                let (s2, st2) = (s1.clone(), st1.clone());
                let seven = s1
                    .transaction(move |_txn2| async move {
                        s2.put("txnTest", &7);
                        let v = s2.get::<u64>("txnTest").await?;
                        st2.sleep(Duration::from_millis(1)).await;
                        Ok(v)
                    })
                    .await?;
                let after_inner = s1.get::<u64>("txnTest").await?;
                txn.rollback()?;
                Ok(json!([six, seven, after_inner]))
            })
            .await?;
        log.push(json!([seen, get(&s).await?]));
        Ok(json!(log))
    });
    clean(&r);
    assert_eq!(value(&r, "t58"), &json!([[1, "foo", 1], [3, 3], [4, 3], ["txn failure", "App", 3], [[6, 7, 7], 3],]));
    assert_eq!(durable(&r), json!({"txnTest": 3}));
}

#[test]
fn t63_put_in_a_failed_transaction_sync_is_rolled_back() {
    // The KV half of sql-test.js `testRollbackKvInit` (its alarm half needs alarms).
    let r = one_call(14, "t63", |st| async move {
        let s = st.storage();
        let e = s
            .transaction_sync(|| {
                drop(s.put("a", &1));
                Err::<(), _>(Error::app("boom"))
            })
            .expect_err("the callback failed");
        let a = s.get::<u64>("a").await?;
        // The API keeps working afterwards, inside and outside transactionSync.
        s.put("b", &2);
        let returned = s.transaction_sync(|| {
            drop(s.put("c", &3));
            Ok(7)
        })?;
        let seen = s.get_many::<u64>(&["a", "b", "c"]).await?;
        Ok(json!({"error": e.message, "a": a, "returned": returned, "seen": seen}))
    });
    clean(&r);
    assert_eq!(value(&r, "t63"), &json!({"error": "boom", "a": null, "returned": 7, "seen": {"b": 2, "c": 3}}));
    assert_eq!(durable(&r), json!({"b": 2, "c": 3}));
}
