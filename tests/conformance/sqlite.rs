//! §9.3–9.4, the SQLite back-end (workerd `actor-sqlite-test.c++`, `sql-test.js`): through
//! the KV API, multi-key puts, the output gate around implicit and explicit transactions,
//! commit failures, `sync()` and the `txnTest` transaction sequence; through the SQL API
//! (`state.storage().sql().exec(...)`), SQL writes and the output gate, cursors,
//! restrictions, `transactionSync()`, foreign keys, critical errors and row counters.
//! (Alarm cases are in `alarms.rs`, but for T63's alarm half.)

use crate::lab::*;
use dosim::sim::{Backend, Cursor, Error, ErrorKind, FaultPlan, Result, Row, SqlValue, State, WriteOptions};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
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
fn t63a_put_in_a_failed_transaction_sync_is_rolled_back() {
    // sql-test.js `testRollbackKvInit`.
    let r = one_call(14, "t63a", |st| async move {
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
    assert_eq!(value(&r, "t63a"), &json!({"error": "boom", "a": null, "returned": 7, "seen": {"b": 2, "c": 3}}));
    assert_eq!(durable(&r), json!({"b": 2, "c": 3}));
}

#[test]
fn t63b_set_alarm_in_a_failed_transaction_sync_is_rolled_back() {
    // sql-test.js `testRollbackAlarmInit`.
    const IN: u64 = 86_400 * 365; // the test's `Date.now() + 86400 * 365` (ms)
    let r = one_call(15, "t63b", |st| async move {
        let s = st.storage();
        let e = s
            .transaction_sync(|| {
                drop(s.set_alarm(ms(&st) + IN));
                Err::<(), _>(Error::app("bar"))
            })
            .expect_err("the callback failed");
        let rolled_back = s.get_alarm().await?;
        s.set_alarm(ms(&st) + IN).await?;
        let set = s.get_alarm().await?.map(|t| t - ms(&st));
        Ok(json!({"error": e.message, "rolled_back": rolled_back, "set": set}))
    });
    clean(&r);
    assert_eq!(value(&r, "t63b"), &json!({"error": "bar", "rolled_back": null, "set": IN}));
    assert_eq!(r.stats.commits, 1);
    assert!(r.alarms_set.contains_key(LABEL));
}

// ---------------------------------------------------------------------------------------
// The SQL API

/// A SQL value as JavaScript sees it: every number a double, a blob (an `ArrayBuffer`) as
/// its bytes.
fn js(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => json!(*i as f64),
        SqlValue::Real(x) => json!(x),
        SqlValue::Text(s) => json!(s),
        SqlValue::Blob(b) => json!(b),
    }
}

/// A row as the object workerd builds: a property per column, the last of equal names wins.
fn obj(row: &Row) -> Value {
    let mut m = serde_json::Map::new();
    for (column, v) in row.columns().iter().zip(row.values()) {
        m.insert(column.clone(), js(v));
    }
    Value::Object(m)
}

/// `[...cursor]`.
fn all(cursor: Cursor) -> Value {
    Value::Array(cursor.map(|r| obj(&r)).collect())
}

/// `[...cursor.raw()]`.
fn raw(mut cursor: Cursor) -> Value {
    Value::Array(cursor.raw().map(|row| Value::Array(row.iter().map(js).collect())).collect())
}

fn exec(st: &State, query: &str, bindings: &[SqlValue]) -> Result<Cursor> {
    st.storage().sql().exec(query, bindings)
}

/// The message of an error that was expected.
fn thrown<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").message
}

fn num(x: f64) -> SqlValue {
    SqlValue::Real(x) // JavaScript numbers are bound as REAL
}

const NOT_AUTHORIZED: &str = "not authorized: SQLITE_AUTH";
const NO_STATEMENT: &str = "SQL code did not contain a statement.";
const USE_THE_TRANSACTION_API: &str = "To execute a transaction, please use the state.storage.transaction() or \
     state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The \
     JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts \
     correctly with Durable Objects' automatic atomic write coalescing.";

#[test]
fn t49a_sql_writes_are_confirmed_writes() {
    let r = one_call(16, "t49a", |st| async move {
        exec(&st, "CREATE TABLE t (x INTEGER)", &[])?;
        exec(&st, "INSERT INTO t VALUES (1)", &[])?;
        Ok(json!("done"))
    });
    clean(&r);
    assert_eq!(r.stats.held_responses, 1);
    let held = line_index(&r, "(request #0) until batch #1 is durable");
    let commit = line_index(&r, "commit batch #1 (");
    let reply = line_index(&r, "ok #0");
    assert!(held.is_some() && held < commit && commit < reply, "{}", r.trace_text());
    assert_eq!(r.tables[LABEL]["t"], [json!({"x": 1})]);
}

#[test]
fn t49b_an_unconfirmed_put_then_sql_needs_the_output_gate() {
    let r = run_lab(quiet(17), Backend::Sqlite, |lab| async move {
        lab.def("create", |st| async move {
            exec(&st, "CREATE TABLE t (x INTEGER)", &[])?;
            Ok(Value::Null)
        });
        lab.def("t49b", |st| async move {
            st.storage().put_with("foo", &"bar", UNCONFIRMED);
            exec(&st, "INSERT INTO t VALUES (2)", &[])?;
            Ok(json!("done"))
        });
        let _ = lab.call(0, "create").await;
        let _ = lab.call(0, "t49b").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t49b"), &json!("done"));
    assert_eq!(r.stats.held_responses, 2, "create's reply, then t49b's");
    let held = line_index(&r, "until batch #2 is durable");
    let commit = line_index(&r, "commit batch #2 (2 writes: foo, (sql))");
    assert!(held.is_some() && held < commit, "{}", r.trace_text());
    assert_eq!(r.tables[LABEL]["t"], [json!({"x": 2})]);
    assert_eq!(durable(&r), json!({"foo": "bar"}));
}

#[test]
fn t56_cursor_basics() {
    // sql-test.js `test()`: results, bindings, iteration, `one()`, statement errors,
    // limits, several statements in one exec (`testMultiStatement`), duplicate columns.
    let r = one_call(18, "t56", |st| async move {
        let x = |q: &str| exec(&st, q, &[]);
        let mut log = serde_json::Map::new();
        let mut put = |k: &str, v: Value| log.insert(k.to_owned(), v);
        put("number", all(x("SELECT 123")?));
        put("raw", raw(x("SELECT 123")?));
        put("string", all(x("SELECT 'hello'")?));
        put("blob", all(x("SELECT x'ff' as blob")?));
        put("binding", all(exec(&st, "SELECT ?", &[num(456.0)])?));
        put("bindings", all(exec(&st, "SELECT ? + ?", &[num(123.0), num(456.0)])?));
        let three = "SELECT 1 AS value\nUNION ALL\nSELECT 2 AS value\nUNION ALL\nSELECT 3 AS value;";
        put("rows", all(x(three)?));
        let mut c = x("SELECT 1 AS col\nUNION ALL\nSELECT \"foo\" AS col\nUNION ALL\nSELECT 3 AS col;")?;
        let steps: Vec<Value> = (0..4)
            .map(|_| match c.next_row() {
                Some(row) => json!({"done": false, "value": obj(&row)}),
                None => json!({"done": true}),
            })
            .collect();
        put("next", json!(steps));
        let mut c = x("SELECT 1 AS value\nUNION ALL\nSELECT \"foo\" AS value\nUNION ALL\nSELECT 3 AS value;")?;
        put("to_array", Value::Array(c.to_array().iter().map(obj).collect()));
        let mut c = x("SELECT 123 AS foo, \"abc\" AS bar")?;
        put("one", obj(&c.one()?));
        put("after_one", all(c));
        put("one_of_two", json!(thrown(x("SELECT 1 AS value\nUNION ALL\nSELECT \"foo\" AS value;")?.one())));
        x("CREATE TABLE IF NOT EXISTS empty (x INTEGER)")?;
        put("one_of_none", json!(thrown(x("SELECT * from empty;")?.one())));
        x("DROP TABLE empty")?;
        put("trailing_comment", json!(thrown(x("SELECT 123; SELECT 456; -- trailing comment"))));
        let sub = "(SELECT 1 AS value\nUNION ALL\nSELECT 2 AS value\nUNION ALL\nSELECT 3 AS value);";
        put("count", all(x(&format!("SELECT count(value) from {sub}"))?));
        put("sum", all(x(&format!("SELECT sum(value) from {sub}"))?));
        put("cos", all(x("SELECT cos(0)")?));
        put("empty", json!([thrown(x("")), thrown(x(";"))]));
        put("syntax", json!([thrown(x("SELECT ;")), thrown(x("SELECT -;"))]));
        x("CREATE TABLE test_error_codes (name TEXT);")?;
        put("mismatch", json!(thrown(x("INSERT INTO test_error_codes(rowid, name) values ('yeah','nah');"))));
        x("DROP TABLE test_error_codes;")?;
        put("no_binding", json!(thrown(x("SELECT ?"))));
        let five = "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5";
        put("five_terms", json!(x(five)?.count()));
        put("six_terms", json!(thrown(x(&format!("{five} UNION ALL SELECT 6")))));
        x("PRAGMA case_sensitive_like = TRUE")?;
        let multi =
            x("\n      CREATE TABLE items(i INTEGER, s TEXT);\n      CREATE INDEX itemsIdx ON items(s);\n      \
             INSERT INTO items VALUES (123, \"abc\");\n      INSERT INTO items VALUES (456, \"def\");\n      \
             SELECT i FROM items WHERE s = \"abc\";\n    ")?;
        put("multi_statement", all(multi));
        x("CREATE TABLE abc (a INT, b INT, c INT);")?;
        x("CREATE TABLE cde (c INT, d INT, e INT);")?;
        x("INSERT INTO abc VALUES (1,2,3),(4,5,6);")?;
        x("INSERT INTO cde VALUES (7,8,9),(1,2,3);")?;
        put("join_objects", all(x("SELECT * FROM abc, cde")?));
        let c = x("SELECT * FROM abc, cde")?;
        put("join_columns", json!(c.column_names()));
        put("join_raw", raw(c));
        x("CREATE TABLE test_blob (id INTEGER PRIMARY KEY, data BLOB);")?;
        let blob = SqlValue::Blob((0..12).collect());
        exec(&st, "INSERT INTO test_blob(data) VALUES(?),(ZEROBLOB(10)),(null),(?);", &[blob, SqlValue::Null])?;
        put(
            "blob_lengths",
            json!(x("SELECT length(data) AS n FROM test_blob")?.map(|r| obj(&r)["n"].clone()).collect::<Vec<_>>()),
        );
        Ok(Value::Object(log))
    });
    clean(&r);
    let v = value(&r, "t56");
    let expect = |k: &str, want: Value| assert_eq!(v[k], want, "{k}");
    expect("number", json!([{"123": 123.0}]));
    expect("raw", json!([[123.0]]));
    expect("string", json!([{"'hello'": "hello"}]));
    expect("blob", json!([{"blob": [255]}]));
    expect("binding", json!([{"?": 456.0}]));
    expect("bindings", json!([{"? + ?": 579.0}]));
    expect("rows", json!([{"value": 1.0}, {"value": 2.0}, {"value": 3.0}]));
    expect(
        "next",
        json!([
            {"done": false, "value": {"col": 1.0}},
            {"done": false, "value": {"col": "foo"}},
            {"done": false, "value": {"col": 3.0}},
            {"done": true},
        ]),
    );
    expect("to_array", json!([{"value": 1.0}, {"value": "foo"}, {"value": 3.0}]));
    expect("one", json!({"foo": 123.0, "bar": "abc"}));
    expect("after_one", json!([]));
    expect("one_of_two", json!("Expected exactly one result from SQL query, but got multiple results."));
    expect("one_of_none", json!("Expected exactly one result from SQL query, but got no results."));
    expect("trailing_comment", json!(NO_STATEMENT));
    expect("count", json!([{"count(value)": 3.0}]));
    expect("sum", json!([{"sum(value)": 6.0}]));
    expect("cos", json!([{"cos(0)": 1.0}]));
    expect("empty", json!([NO_STATEMENT, NO_STATEMENT]));
    expect(
        "syntax",
        json!([
            r#"near ";": syntax error at offset 7: SQLITE_ERROR"#,
            r#"near ";": syntax error at offset 8: SQLITE_ERROR"#
        ]),
    );
    expect("mismatch", json!("datatype mismatch: SQLITE_MISMATCH"));
    expect("no_binding", json!("Wrong number of parameter bindings for SQL query."));
    expect("five_terms", json!(5));
    expect("six_terms", json!("too many terms in compound SELECT: SQLITE_ERROR"));
    expect("multi_statement", json!([{"i": 123.0}]));
    // In the objects the second `c` wins (5 properties, not 6); raw() keeps both.
    expect(
        "join_objects",
        json!([
            {"a": 1.0, "b": 2.0, "c": 7.0, "d": 8.0, "e": 9.0},
            {"a": 1.0, "b": 2.0, "c": 1.0, "d": 2.0, "e": 3.0},
            {"a": 4.0, "b": 5.0, "c": 7.0, "d": 8.0, "e": 9.0},
            {"a": 4.0, "b": 5.0, "c": 1.0, "d": 2.0, "e": 3.0},
        ]),
    );
    expect("join_columns", json!(["a", "b", "c", "c", "d", "e"]));
    expect(
        "join_raw",
        json!([
            [1.0, 2.0, 3.0, 7.0, 8.0, 9.0],
            [1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
            [4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]
        ]),
    );
    expect("blob_lengths", json!([12.0, 10.0, null, null]));
}

#[test]
fn t57_restrictions() {
    // sql-test.js `test()`: the runtime's names, PRAGMAs, transactions, TEMP objects,
    // functions and virtual-table modules.
    let r = one_call(19, "t57", |st| async move {
        let x = |q: &str| exec(&st, q, &[]);
        let mut log = serde_json::Map::new();
        let mut put = |k: &str, v: Value| log.insert(k.to_owned(), v);
        put("create_cf", json!(thrown(x("CREATE TABLE _cf_invalid (name TEXT)"))));
        st.storage().put("blah", &123); // the KV table exists
        put("select_cf_kv", json!(thrown(x("SELECT * FROM _cf_KV"))));
        let refused = [
            "PRAGMA hard_heap_limit = 1024",
            "PRAGMA data_version = 5",
            "PRAGMA max_page_count = 65536",
            "PRAGMA page_size = 8192",
            "PRAGMA table_info(_cf_KV)",
            "PRAGMA quick_check(_cf_KV)",
            "CREATE TEMP TABLE tempy AS\n      SELECT * FROM sqlite_master;",
            "CREATE VIRTUAL TABLE test_fts USING fts5abcd(id);",
            "PRAGMA defer_foreign_keys = abcd;",
            "PRAGMA defer_foreign_keys = \"foo\";",
        ];
        put("refused", json!(refused.map(|q| thrown(x(q)))));
        // The value depends on the database's history (workerd's test sees 2 there).
        put("data_version_is_a_number", json!(x("pragma data_version;")?.one()?.values()[0].as_f64().is_some()));
        x("CREATE TABLE myTable (foo TEXT, bar INTEGER)")?;
        let names =
            |q: &str| -> Result<Value> { Ok(json!(x(q)?.map(|r| obj(&r)["name"].clone()).collect::<Vec<_>>())) };
        put("table_info", json!([names("PRAGMA table_info(myTable)")?, names("PRAGMA table_xinfo(myTable)")?]));
        let checks = [
            "pragma quick_check;",
            "pragma quick_check(1);",
            "pragma quick_check(100);",
            "pragma quick_check(myTable);",
        ];
        let mut quick = Vec::new();
        for q in checks {
            quick.push(all(x(q)?));
        }
        put("quick_check", json!(quick));
        put("abs", raw(x("SELECT abs(-123)")?));
        put("sqlite_version", json!(thrown(x("SELECT sqlite_version()"))));
        put("json", all(x("SELECT '{\"a\":2,\"c\":[4,5,{\"f\":7}]}' -> '$.c' AS value")?));
        let now = x("SELECT current_date, current_time, current_timestamp")?.one()?;
        let shape = |v: &SqlValue| {
            v.as_str().map(|s| s.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect::<String>())
        };
        put("clock_shapes", json!(now.values().iter().map(shape).collect::<Vec<_>>()));
        put("transactions", json!([thrown(x("BEGIN TRANSACTION")), thrown(x("SAVEPOINT foo"))]));
        x("CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT NOT NULL, content TEXT NOT NULL);")?;
        x("CREATE VIRTUAL TABLE documents_fts USING FtS5(id, title, content, tokenize = porter);")?;
        x("CREATE VIRTUAL TABLE documents_fts_v_col USING fTs5VoCaB(documents_fts, col);")?;
        x("INSERT INTO documents_fts(id, title, content) VALUES \
           (1, 'Document 1', 'This is the contents of document 1 (of 2).'), \
           (2, 'Document 2', 'This is the content of document 2 (of 2).')")?;
        let matches = x("SELECT id FROM documents_fts WHERE documents_fts MATCH 'content' ORDER BY rank")?;
        put("fts_porter", raw(matches));
        let mut bools = Vec::new();
        for spelling in [
            "true",
            "false",
            "on",
            "off",
            "yes",
            "no",
            "1",
            "0",
            "tRuE",
            "NO",
            "'true'",
            "\"yes\"",
            "\"0\"",
            "  true    ",
        ] {
            x(&format!("PRAGMA defer_foreign_keys = {spelling};"))?;
            bools.push(x("PRAGMA defer_foreign_keys;")?.one()?.values()[0].as_f64());
        }
        put("booleans", json!(bools));
        put("unterminated", json!(thrown(x("PRAGMA defer_foreign_keys = 'yes;"))));
        let before = st.storage().sql().database_size()?;
        x("CREATE TABLE should_make_one_more_page(VALUE text);")?;
        let grown = st.storage().sql().database_size()? - before;
        x("DROP TABLE should_make_one_more_page;")?;
        put("database_size", json!([grown, st.storage().sql().database_size()? - before]));
        Ok(Value::Object(log))
    });
    clean(&r);
    let v = value(&r, "t57");
    let expect = |k: &str, want: Value| assert_eq!(v[k], want, "{k}");
    expect("create_cf", json!(NOT_AUTHORIZED));
    expect("select_cf_kv", json!("access to _cf_KV.key is prohibited: SQLITE_AUTH"));
    expect("refused", json!([NOT_AUTHORIZED; 10].to_vec()));
    expect("data_version_is_a_number", json!(true));
    expect("table_info", json!([["foo", "bar"], ["foo", "bar"]]));
    expect("quick_check", json!(vec![json!([{"quick_check": "ok"}]); 4]));
    expect("abs", json!([[123.0]]));
    expect("sqlite_version", json!("not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR"));
    expect("json", json!([{"value": "[4,5,{\"f\":7}]"}]));
    expect("clock_shapes", json!(["9999-99-99", "99:99:99", "9999-99-99 99:99:99"]));
    expect("transactions", json!([USE_THE_TRANSACTION_API, USE_THE_TRANSACTION_API]));
    // Porter stemming makes "contents" match "content".
    expect("fts_porter", json!([[1.0], [2.0]]));
    expect("booleans", json!([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]));
    expect("unterminated", json!("unrecognized token: \"'yes;\" at offset 28: SQLITE_ERROR"));
    // One 4096-byte page per empty table, given back by DROP TABLE. (Absolute sizes depend on
    // what the database held before: workerd's test starts from 36864 bytes.)
    expect("database_size", json!([4096, 0]));
}

#[test]
fn t59_transaction_sync() {
    let r = one_call(20, "t59", |st| async move {
        let s = st.storage();
        let x = |q: &str| exec(&st, q, &[]);
        let tables = |name: &str| -> Result<usize> {
            Ok(exec(&st, "SELECT * FROM sqlite_master WHERE tbl_name = ?", &[name.into()])?.count())
        };
        st.sleep(Duration::from_millis(1)).await;
        let result = s.transaction_sync(|| {
            x("CREATE TABLE IF NOT EXISTS should_succeed (VALUE text);")?;
            Ok("some data")
        })?;
        let succeeded = tables("should_succeed")?;

        st.sleep(Duration::from_millis(1)).await;
        let failed = s.transaction_sync(|| {
            x("CREATE TABLE should_be_rolled_back (VALUE text);")?;
            x("SELECT * FROM misspelled_table_name;")?;
            Ok(())
        });
        let rolled_back = tables("should_be_rolled_back")?;

        x("CREATE TABLE txnTest (i INTEGER)")?;
        x("INSERT INTO txnTest VALUES (1)")?;
        let set_i = |i: f64| exec(&st, "UPDATE txnTest SET i = ?", &[num(i)]).map(drop);
        let get_i = || -> Result<Value> { Ok(obj(&x("SELECT i FROM txnTest")?.one()?)["i"].clone()) };
        let before = get_i()?;
        let inner_saw = RefCell::new(Value::Null);
        let nested = s.transaction_sync(|| {
            set_i(2.0)?;
            let outer_saw = get_i()?;
            let inner = s.transaction_sync(|| {
                set_i(3.0)?;
                *inner_saw.borrow_mut() = get_i()?;
                Err::<(), _>(Error::app("foo"))
            });
            Ok(json!([outer_saw, thrown(inner), get_i()?]))
        })?;
        Ok(json!({
            "success": [result, succeeded],
            "failure": [thrown(failed), rolled_back],
            "nested": [before, nested, inner_saw.into_inner(), get_i()?],
        }))
    });
    clean(&r);
    assert_eq!(
        value(&r, "t59"),
        &json!({
            "success": ["some data", 1],
            "failure": ["no such table: misspelled_table_name: SQLITE_ERROR", 0],
            "nested": [1.0, [2.0, "foo", 2.0], 3.0, 2.0],
        })
    );
    let tables = &r.tables[LABEL];
    assert_eq!(tables["txnTest"], [json!({"i": 2})]);
    assert!(tables.contains_key("should_succeed") && !tables.contains_key("should_be_rolled_back"), "{tables:?}");
}

/// sql-test.js `testForeignKeys` up to its last step: tables `users` and `posts` (with a
/// foreign key), the checks that hold per statement, and a deferred check that passes.
fn def_foreign_keys(lab: &Lab) {
    lab.def("foreign_keys", |st| async move {
        let s = st.storage();
        let x = |q: &str, b: &[SqlValue]| exec(&st, q, b);
        let post = |id: f64, content: &str| {
            x("INSERT INTO posts (user_id, content) VALUES (?, ?)", &[num(id), content.into()]).map(drop)
        };
        x("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);", &[])?;
        x(
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, content TEXT, \
             FOREIGN KEY(user_id) REFERENCES users(id));",
            &[],
        )?;
        st.sleep(Duration::from_millis(1)).await;
        // Foreign keys are enforced ...
        let statement = thrown(post(1.0, "Post 1"));
        // ... inside transactionSync() too, at once.
        let passed_first_statement = Cell::new(false);
        let in_transaction = thrown(s.transaction_sync(|| {
            post(1.0, "Post 1")?;
            passed_first_statement.set(true);
            Ok(())
        }));
        st.sleep(Duration::from_millis(1)).await;
        // Deferred, rows may come in any order as long as they are valid by the end.
        s.transaction_sync(|| {
            x("PRAGMA defer_foreign_keys=ON;", &[])?;
            post(1.0, "Post 1")?;
            x("INSERT INTO users VALUES (?, ?)", &[num(1.0), "Alice".into()]).map(drop)
        })?;
        st.sleep(Duration::from_millis(1)).await;
        Ok(json!([statement, in_transaction, passed_first_statement.get()]))
    });
    lab.def("posts", |st| async move { Ok(raw(exec(&st, "SELECT id, user_id, content FROM posts", &[])?)) });
}

const FOREIGN_KEY_FAILED: &str =
    "FOREIGN KEY constraint failed: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_FOREIGNKEY)";

#[test]
fn t61a_foreign_keys_are_enforced() {
    let r = run_lab(quiet(21), Backend::Sqlite, |lab| async move {
        def_foreign_keys(&lab);
        let _ = lab.call(0, "foreign_keys").await;
    });
    clean(&r);
    assert_eq!(value(&r, "foreign_keys"), &json!([FOREIGN_KEY_FAILED, FOREIGN_KEY_FAILED, false]));
    let tables = &r.tables[LABEL];
    assert_eq!(tables["users"], [json!({"id": 1, "name": "Alice"})]);
    assert_eq!(tables["posts"], [json!({"id": 1, "user_id": 1, "content": "Post 1"})]);
}

#[test]
fn t61b_a_deferred_foreign_key_violation_resets_the_object_at_commit() {
    const VIOLATED: &str = "Durable Object was reset and rolled back to its last known good state because the \
                            application left the database in a state where constraints were violated: FOREIGN KEY \
                            constraint failed: SQLITE_CONSTRAINT";
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = errors.clone();
    let r = run_lab(quiet(22), Backend::Sqlite, move |lab| async move {
        def_foreign_keys(&lab);
        lab.def("violate", |st| async move {
            st.storage().transaction_sync(|| {
                exec(&st, "PRAGMA defer_foreign_keys=ON;", &[])?;
                exec(&st, "INSERT INTO posts (user_id, content) VALUES (?, ?)", &[num(2.0), "Post 2".into()])?;
                Ok(())
            })?;
            Ok(json!("committed?"))
        });
        let stub = lab.stub_named("p");
        let _ = lab.call_on(0, &stub, "foreign_keys").await;
        let first = lab.call_on(0, &stub, "violate").await;
        // The stub that saw the reset stays broken.
        let again = lab.call_on(0, &stub, "posts").await;
        out.lock().unwrap().extend([first.err(), again.err()]);
        // A new stub reaches an instance with the committed state.
        let _ = lab.call_on(0, &lab.stub_named("p"), "posts").await;
    });
    clean(&r);
    for e in errors.lock().unwrap().iter() {
        let e = e.as_ref().expect("the call failed");
        assert!(e.durable_object_reset && e.message.starts_with(VIOLATED), "{e:?}");
    }
    assert_eq!(values(&r, "posts"), [None, Some(&json!([[1.0, 1.0, "Post 1"]]))]);
    assert_eq!(r.tables[LABEL]["posts"], [json!({"id": 1, "user_id": 1, "content": "Post 1"})]);
}

// T62 — sql-test.js `testAutoRollBackOnCriticalError` and its variants: a critical SQLite
// error (here SQLITE_FULL) rolls back the open transaction and breaks the output gate; the
// request fails with it even if the handler caught it, and a new stub sees only what was
// committed before.

/// workerd's `sql.setMaxPageCountForTest(pages)`. dosim has no such hook, and user SQL may
/// not set the PRAGMA: this fails ("not authorized") until the runtime offers one.
fn set_max_page_count_for_test(st: &State, pages: u32) -> Result<()> {
    exec(st, &format!("PRAGMA max_page_count = {pages}"), &[]).map(drop)
}

const DATABASE_FULL: &str = "database or disk is full: SQLITE_FULL";

/// `createStringTable`, then `program` (which notes what it saw), then the ids a new stub
/// reads.
fn critical_run<F, Fut>(seed: u64, program: F) -> (dosim::sim::RunReport, Vec<Value>)
where
    F: Fn(State) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Value>> + 'static,
{
    run_lab_seen(quiet(seed), Backend::Sqlite, move |lab| async move {
        lab.def("create", |st| async move {
            exec(&st, "CREATE TABLE IF NOT EXISTS string_table (id INTEGER PRIMARY KEY, data BLOB)", &[])?;
            Ok(Value::Null)
        });
        lab.def("critical", program);
        lab.def("ids", |st| async move { Ok(raw(exec(&st, "SELECT id FROM string_table", &[])?)) });
        let stub = lab.stub_named("p");
        let _ = lab.call_on(0, &stub, "create").await;
        let _ = lab.call_on(0, &stub, "critical").await;
        let _ = lab.call_on(0, &lab.stub_named("p"), "ids").await;
    })
}

/// Inserts row `id` into `string_table`, `size` bytes of data.
fn insert(st: &State, id: f64, size: usize) -> Result<()> {
    exec(st, "INSERT INTO string_table VALUES (?, ?)", &[num(id), "a".repeat(size).into()]).map(drop)
}

fn assert_critical(r: &dosim::sim::RunReport, ids: Value) {
    clean(r);
    let e = failure(r, "critical");
    assert!(e.message.starts_with(DATABASE_FULL), "{e:?}");
    assert_eq!(value(r, "ids"), &ids);
}

#[test]
#[ignore = "dosim differs: no setMaxPageCountForTest, so nothing can fill the database; workerd: SQLITE_FULL rolls \
            back the open implicit transaction, later statements rethrow it, the request fails with it"]
fn t62a_a_critical_error_rolls_back_and_breaks_the_output_gate() {
    let (r, notes) = critical_run(23, |st| async move {
        set_max_page_count_for_test(&st, 10)?;
        insert(&st, 1.0, 1)?;
        st.storage().sync().await?;
        insert(&st, 2.0, 1)?;
        note(json!(thrown(insert(&st, 3.0, 1_000_000))));
        // The critical error is cached: further storage operations fail with it.
        note(json!(thrown(insert(&st, 4.0, 1))));
        Ok(json!("handled"))
    });
    assert_critical(&r, json!([[1.0]]));
    assert_eq!(notes, [json!(DATABASE_FULL), json!(DATABASE_FULL)]);
}

#[test]
#[ignore = "dosim differs: no setMaxPageCountForTest (see t62a); workerd: a critical error inside transactionSync() \
            whose callback then throws rolls back to before the open implicit transaction"]
fn t62b_a_critical_error_in_a_transaction_sync_that_rolls_back() {
    let (r, notes) = critical_run(24, |st| async move {
        set_max_page_count_for_test(&st, 10)?;
        insert(&st, 1.0, 1)?;
        st.storage().sync().await?;
        insert(&st, 2.0, 1)?;
        let escaped = st.storage().transaction_sync(|| {
            note(json!(thrown(insert(&st, 3.0, 1_000_000))));
            Err::<(), _>(Error::app("an_escaping_exception_to_trigger_rollback"))
        });
        note(json!(thrown(escaped)));
        Ok(json!("handled"))
    });
    assert_critical(&r, json!([[1.0]]));
    assert_eq!(notes, [json!(DATABASE_FULL), json!("an_escaping_exception_to_trigger_rollback")]);
}

#[test]
#[ignore = "dosim differs: no setMaxPageCountForTest (see t62a); workerd: transactionSync() whose callback caught a \
            critical error throws \"Cannot commit transaction due to an earlier SQL critical error\""]
fn t62c_a_critical_error_in_a_transaction_sync_that_commits() {
    let (r, notes) = critical_run(25, |st| async move {
        set_max_page_count_for_test(&st, 10)?;
        insert(&st, 1.0, 1)?;
        st.storage().sync().await?;
        insert(&st, 2.0, 1)?;
        let committed = st.storage().transaction_sync(|| {
            note(json!(thrown(insert(&st, 3.0, 1_000_000))));
            Ok(())
        });
        note(json!(thrown(committed)));
        Ok(json!("handled"))
    });
    assert_critical(&r, json!([[1.0]]));
    assert_eq!(notes, [json!(DATABASE_FULL), json!("Cannot commit transaction due to an earlier SQL critical error")]);
}

#[test]
#[ignore = "dosim differs: no setMaxPageCountForTest (see t62a); workerd: a critical error inside transaction() \
            fails it with the error, after the implicit transaction before it was committed"]
fn t62d_a_critical_error_in_a_transaction() {
    let (r, notes) = critical_run(26, |st| async move {
        set_max_page_count_for_test(&st, 10)?;
        insert(&st, 1.0, 1)?;
        st.storage().sync().await?;
        insert(&st, 2.0, 1)?; // committed when the transaction starts
        let inner = st.clone();
        let failed = st
            .storage()
            .transaction(move |txn| async move {
                note(json!(thrown(insert(&inner, 3.0, 1_000_000))));
                txn.rollback()
            })
            .await;
        note(json!(thrown(failed)));
        Ok(json!("handled"))
    });
    assert_critical(&r, json!([[1.0], [2.0]]));
    assert_eq!(notes, [json!(DATABASE_FULL), json!(DATABASE_FULL)]);
}

#[test]
fn t64_row_counters() {
    // sql-test.js `testIoStats`.
    let r = one_call(27, "t64", |st| async move {
        let x = |q: &str, b: &[SqlValue]| exec(&st, q, b);
        let insert = |id: f64, v: &str| x("INSERT INTO tbl (id, value) VALUES (?, ?)", &[num(id), v.into()]);
        let mut log = serde_json::Map::new();
        let mut put = |k: &str, v: Value| log.insert(k.to_owned(), v);
        x("CREATE TABLE tbl (id INTEGER PRIMARY KEY, value TEXT)", &[])?;
        insert(100000.0, "arbitrary-initial-value")?;
        st.sleep(Duration::from_millis(1)).await;

        let mut c = insert(1.0, "arbitrary-value")?;
        c.by_ref().for_each(drop);
        put("insert_written", json!(c.rows_written()));
        let mut c = x("SELECT * FROM tbl", &[])?;
        c.by_ref().for_each(drop);
        put("select_read", json!(c.rows_read()));
        let mut c123 = insert(101.0, "value1")?;
        c123.by_ref().for_each(drop);
        let first = c123.rows_written();
        let mut c456 = insert(202.0, "value2")?;
        c456.by_ref().for_each(drop);
        put("own_counters", json!([first, c456.rows_written(), c123.rows_written()]));

        x("DELETE FROM tbl", &[])?;
        for i in 1..=10 {
            insert(f64::from(i), &format!("value{i}"))?;
        }
        let mut c = x("SELECT * FROM tbl", &[])?;
        let mut reads = Vec::new();
        while c.next_row().is_some() {
            reads.push(c.rows_read());
        }
        put("reads_while_iterating", json!(reads));
        put("reads_when_done", json!(c.rows_read()));

        x("CREATE TABLE abc (a INT, b INT, c INT);", &[])?;
        x("CREATE TABLE cde (c INT, d INT, e INT);", &[])?;
        x("INSERT INTO abc VALUES (1,2,3),(4,5,6);", &[])?;
        x("INSERT INTO cde VALUES (7,8,9),(1,2,3);", &[])?;
        let (mut join, mut col_counts) = (Vec::new(), Vec::new());
        let mut rows = x("SELECT * FROM abc", &[])?;
        while let Some(row) = rows.next_row() {
            let mut cols = x("SELECT * FROM cde", &[])?;
            while let Some(col) = cols.next_row() {
                join.push(json!({"row": obj(&row), "col": obj(&col)}));
            }
            col_counts.push(cols.rows_read());
        }
        put("join", json!(join));
        put("interleaved", json!([rows.rows_read(), col_counts]));
        let mut c = x("SELECT * FROM abc WHERE a IN (1,2,3,4,5,6)", &[])?;
        c.by_ref().for_each(drop);
        put("in_clause", json!([c.rows_read(), c.rows_written()]));
        Ok(Value::Object(log))
    });
    clean(&r);
    let v = value(&r, "t64");
    let expect = |k: &str, want: Value| assert_eq!(v[k], want, "{k}");
    expect("insert_written", json!(1));
    expect("select_read", json!(2));
    expect("own_counters", json!([1, 1, 1]));
    // One ahead of the rows returned (the cursor pre-fetches), but there are only 10.
    expect("reads_while_iterating", json!([2, 3, 4, 5, 6, 7, 8, 9, 10, 10]));
    expect("reads_when_done", json!(10));
    expect(
        "join",
        json!([
            {"col": {"c": 7.0, "d": 8.0, "e": 9.0}, "row": {"a": 1.0, "b": 2.0, "c": 3.0}},
            {"col": {"c": 1.0, "d": 2.0, "e": 3.0}, "row": {"a": 1.0, "b": 2.0, "c": 3.0}},
            {"col": {"c": 7.0, "d": 8.0, "e": 9.0}, "row": {"a": 4.0, "b": 5.0, "c": 6.0}},
            {"col": {"c": 1.0, "d": 2.0, "e": 3.0}, "row": {"a": 4.0, "b": 5.0, "c": 6.0}},
        ]),
    );
    expect("interleaved", json!([2, [2, 2]]));
    // The temporary b-tree of the IN clause is not counted as written.
    expect("in_clause", json!([2, 0]));
}
