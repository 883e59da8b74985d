//! Alarms: §9.3 on the SQLite back-end (workerd `actor-sqlite-test.c++`: the alarm as an
//! ordinary write, the handler's deferred deletion, transactions, `deleteAll()`, the order
//! of scheduling and commit), the JS tests of §9.4 (`actor-alarms-test.js`,
//! `actor-alarms-delete-test.js`, `delete-all-deletes-alarm-test.js`), §9.5 (`ctx.abort()`
//! in a handler, an alarm set while another is abandoned, which retries count against the
//! limit) and §9.6 (alarm persistence across a restart, eviction after 10 s idle).
//!
//! Alarm times are simulated milliseconds since the start of the run. The handler is the
//! lab's alarm program; what each run of it returned comes back from `run_lab_seen`, and
//! every attempt (scheduled time, start, retry count, outcome) is in the report's `alarms`.

use crate::lab::*;
use dosim::sim::compat::DEFAULT_DATE;
use dosim::sim::{AlarmAttempt, Backend, Compatibility, Error, FaultPlan, RunReport, SimConfig, State};
use serde_json::{json, Value};
use std::time::Duration;

/// An alarm a day away: never due within a run (the liveness phase lasts 15 minutes).
const FAR: u64 = 86_400_000;

/// What callers of a failed commit see, up to the reference id workerd appends.
const COMMIT_FAILED: &str = "Internal error in Durable Object storage write caused object to be reset; reference = ";

/// Every commit that is not the root of an explicit transaction fails (dosim never fails
/// those, see `t52b`, which is how these cases set an alarm up durably).
const COMMITS_FAIL: FaultPlan = FaultPlan { commit_failure: 1000, ..FaultPlan::NONE };

/// Registers `arm`, which sets the alarm for `at` (an implicit transaction), and
/// `get_alarm`, which reads it.
fn def_arm(lab: &Lab, at: u64) {
    lab.def("arm", move |st| async move {
        st.storage().set_alarm(at).await?;
        Ok(Value::Null)
    });
    def_get_alarm(lab);
}

/// Registers `arm_in_txn`, which sets the alarm for `at` inside `transaction()`.
fn def_arm_in_txn(lab: &Lab, at: u64) {
    lab.def("arm_in_txn", move |st| async move {
        let s = st.storage().clone();
        st.storage()
            .transaction(move |_txn| async move {
                s.set_alarm(at).await?;
                Ok(Value::Null)
            })
            .await
    });
}

fn def_get_alarm(lab: &Lab) {
    lab.def("get_alarm", |st| async move { Ok(json!(st.storage().get_alarm().await?)) });
}

/// A handler that reports what `getAlarm()` returns inside it and its `alarmInfo`.
fn report_handler(lab: &Lab) {
    lab.def_alarm(|st, info| async move {
        Ok(json!({
            "get_alarm": st.storage().get_alarm().await?,
            "scheduled": info.scheduled_time.as_millis(),
            "retry_count": info.retry_count,
        }))
    });
}

/// Runs `program` once on a fresh SQLite-backed object.
fn one_call<F, Fut>(seed: u64, name: &'static str, program: F) -> RunReport
where
    F: Fn(State) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = dosim::sim::Result<Value>> + 'static,
{
    run_lab(quiet(seed), Backend::Sqlite, move |lab| async move {
        lab.def(name, program);
        let _ = lab.call(0, name).await;
    })
}

/// (scheduled, outcome) of every attempt.
fn attempts(r: &RunReport) -> Vec<(u64, &str)> {
    r.alarms.iter().map(|a: &AlarmAttempt| (a.scheduled.as_millis(), a.outcome.as_str())).collect()
}

fn alarm_set(r: &RunReport) -> Option<u64> {
    r.alarms_set.get(LABEL).copied()
}

// ---------------------------------------------------------------------------------------
// §9.3, actor-sqlite-test.c++

#[test]
fn t37_initial_alarm_is_unset() {
    let r = one_call(1, "t37", |st| async move {
        let t0 = ms(&st);
        let alarm = st.storage().get_alarm().await?;
        Ok(json!({"alarm": alarm, "waited": ms(&st) - t0}))
    });
    clean(&r);
    assert_eq!(value(&r, "t37"), &json!({"alarm": null, "waited": 0}));
    // Reading the alarm writes nothing.
    assert_eq!(r.stats.commits, 0);
    assert!(r.alarms.is_empty() && r.alarms_set.is_empty());
}

#[test]
fn t38a_alarm_write_commits_with_storage_ops() {
    let r = one_call(2, "t38a", |st| async move {
        let s = st.storage();
        s.set_alarm(FAR);
        s.put("foo", &"bar");
        Ok(json!(s.get_alarm().await?))
    });
    clean(&r);
    assert_eq!(value(&r, "t38a"), &json!(FAR));
    // One commit holds both writes, and the reply waited for it.
    assert_eq!(r.stats.commits, 1);
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (2 writes: (alarm 86400000ms), foo)"));
    assert_eq!(r.stats.held_responses, 1);
    assert_eq!(alarm_set(&r), Some(FAR));
    assert_eq!(durable(&r), json!({"foo": "bar"}));
}

#[test]
fn t38b_alarm_set_twice_in_one_turn_schedules_only_the_second() {
    let (r, seen) = run_lab_seen(quiet(3), Backend::Sqlite, |lab| async move {
        report_handler(&lab);
        lab.def("t38b", |st| async move {
            let s = st.storage();
            s.set_alarm(1000);
            s.set_alarm(2000);
            Ok(json!(s.get_alarm().await?))
        });
        let _ = lab.call(0, "t38b").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t38b"), &json!(2000));
    assert_eq!(r.stats.commits, 2, "the alarm's commit, then the handler's deletion of it");
    // The scheduler only ever saw 2000 ms: nothing fired at 1000 ms.
    assert_eq!(attempts(&r), [(2000, "ok")]);
    assert!(r.alarms[0].at.as_millis() >= 2000);
    assert_eq!(line_index(&r, "alarm fires (set for 1000ms"), None);
    assert_eq!(seen, [json!({"get_alarm": null, "scheduled": 2000, "retry_count": 0})]);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t39_setting_the_alarm_it_already_has_is_no_write() {
    let r = one_call(4, "t39", |st| async move {
        let s = st.storage();
        let tick = || st.sleep(Duration::from_millis(1));
        s.delete_alarm(); // no alarm set: nothing to write
        tick().await;
        s.set_alarm(FAR);
        tick().await;
        s.set_alarm(FAR); // the same time again
        tick().await;
        Ok(json!(s.get_alarm().await?))
    });
    clean(&r);
    assert_eq!(value(&r, "t39"), &json!(FAR));
    assert_eq!(r.stats.commits, 1);
    assert_eq!(commit_line(&r, 1).as_deref(), Some("commit batch #1 (1 writes: (alarm 86400000ms))"));
    assert_eq!(alarm_set(&r), Some(FAR));
}

#[test]
fn t40_get_alarm_is_null_in_the_handler_and_the_alarm_is_deleted_after_it() {
    let (r, seen) = run_lab_seen(quiet(5), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        report_handler(&lab);
        let _ = lab.call(0, "arm").await;
        let _ = lab.send_at(0, "get_alarm", 1500).await;
    });
    clean(&r);
    assert_eq!(seen, [json!({"get_alarm": null, "scheduled": 1000, "retry_count": 0})]);
    assert_eq!(attempts(&r), [(1000, "ok")]);
    // The handler wrote nothing: its end deletes the alarm, in a commit of its own.
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: (alarm deleted))"));
    assert_eq!(r.stats.commits, 2);
    assert_eq!(value(&r, "get_alarm"), &Value::Null);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t41_alarm_set_by_the_handler_survives_it() {
    let (r, seen) = run_lab_seen(quiet(6), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|st, _info| async move {
            let s = st.storage();
            s.set_alarm(FAR);
            Ok(json!({"get_alarm": s.get_alarm().await?}))
        });
        let _ = lab.call(0, "arm").await;
        let _ = lab.send_at(0, "get_alarm", 1500).await;
    });
    clean(&r);
    assert_eq!(seen, [json!({"get_alarm": FAR})]);
    assert_eq!(attempts(&r), [(1000, "ok")]);
    // No deletion: the handler's own write is the only one after the handler.
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: (alarm 86400000ms))"));
    assert_eq!(r.stats.commits, 2);
    assert_eq!(value(&r, "get_alarm"), &json!(FAR));
    assert_eq!(alarm_set(&r), Some(FAR));
}

#[test]
fn t42_a_failed_handler_leaves_the_alarm_set() {
    let (r, seen) = run_lab_seen(quiet(7), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|_st, info| async move {
            if info.retry_count == 0 {
                return Err(Error::app("boom"));
            }
            Ok(json!({"retry_count": info.retry_count}))
        });
        let _ = lab.call(0, "arm").await;
        // Between the failed attempt and its retry (2 s later at least).
        let _ = lab.send_at(0, "get_alarm", 1500).await;
    });
    clean(&r);
    assert_eq!(value(&r, "get_alarm"), &json!(1000), "the deferred deletion was cancelled");
    assert_eq!(attempts(&r), [(1000, "failed: boom"), (1000, "ok")]);
    assert_eq!(r.alarms.iter().map(|a| a.retry_count).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(seen, [json!({"error": "boom"}), json!({"retry_count": 1})]);
    // Only the successful retry deleted the alarm.
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (1 writes: (alarm deleted))"));
    assert!(commit_at(&r, 2) >= r.alarms[1].at.as_millis());
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t43_the_alarm_stays_when_the_deferred_deletion_fails_to_commit() {
    let r = run_lab(with_plan(8, COMMITS_FAIL), Backend::Sqlite, |lab| async move {
        def_arm_in_txn(&lab, 1000);
        def_get_alarm(&lab);
        report_handler(&lab);
        let _ = lab.call(0, "arm_in_txn").await;
        // After the handler's deletion failed, before the retry (faults stop once the
        // workload is done, so the retry succeeds).
        let _ = lab.send_at(0, "get_alarm", 1500).await;
    });
    clean(&r);
    assert_eq!(value(&r, "arm_in_txn"), &Value::Null);
    // The failed commit broke the output gate: the handler's run failed with its error.
    let first = &r.alarms[0];
    let reason = first.outcome.strip_prefix("reset: ").unwrap_or_else(|| panic!("{first:?}"));
    assert!(reason.starts_with(COMMIT_FAILED), "{reason:?}");
    assert_eq!(value(&r, "get_alarm"), &json!(1000), "the deletion was rolled back");
    assert_eq!(attempts(&r)[1..], [(1000, "ok")]);
    // Not the handler's fault: the retry does not count.
    assert_eq!(r.alarms.iter().map(|a| a.retry_count).collect::<Vec<_>>(), [0, 0]);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t45a_delete_all_keeps_the_alarm_without_the_flag() {
    let mut config = quiet(9);
    // A date before 2026-02-24, when `delete_all_deletes_alarm` came on.
    config.compatibility = Compatibility::at("2026-02-23").expect("a date");
    let r = run_lab(config, Backend::Sqlite, |lab| async move {
        lab.def("t45a", |st| async move {
            let s = st.storage();
            s.set_alarm(FAR);
            s.put("k", &1);
            s.sync().await?;
            s.delete_all();
            let at_once = s.get_alarm().await?;
            st.sleep(Duration::from_millis(1)).await; // the deleteAll() commits
            Ok(json!([at_once, s.get_alarm().await?, s.get::<u64>("k").await?]))
        });
        let _ = lab.call(0, "t45a").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t45a"), &json!([FAR, FAR, null]));
    assert_eq!(alarm_set(&r), Some(FAR));
    assert_eq!(durable(&r), json!({}));
}

#[test]
fn t45b_delete_all_deletes_the_alarm_with_the_flag() {
    // `delete_all_deletes_alarm` is on by default (the default date is after 2026-02-24).
    let r = run_lab(quiet(10), Backend::Sqlite, |lab| async move {
        report_handler(&lab);
        lab.def("t45b", |st| async move {
            let s = st.storage();
            s.set_alarm(1000);
            s.put("k", &1);
            s.sync().await?;
            s.delete_all();
            let at_once = s.get_alarm().await?;
            st.sleep(Duration::from_millis(1)).await;
            Ok(json!([at_once, s.get_alarm().await?]))
        });
        let _ = lab.call(0, "t45b").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t45b"), &json!([null, null]));
    assert_eq!(commit_line(&r, 2).as_deref(), Some("commit batch #2 (2 writes: (delete_all), (alarm deleted))"));
    // The scheduler was told: the alarm due at 1000 ms never fired.
    assert!(r.alarms.is_empty(), "{:?}", r.alarms);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t46_a_rolled_back_transaction_restores_the_alarm() {
    const BEFORE: u64 = 2 * FAR;
    let r = one_call(11, "t46", |st| async move {
        let s = st.storage().clone();
        s.set_alarm(BEFORE);
        s.sync().await?;
        let inner = s.clone();
        let inside = s
            .transaction(move |txn| async move {
                inner.set_alarm(FAR).await?;
                let seen = inner.get_alarm().await?;
                txn.rollback()?;
                Ok(seen)
            })
            .await?;
        Ok(json!([inside, s.get_alarm().await?]))
    });
    clean(&r);
    assert_eq!(value(&r, "t46"), &json!([FAR, BEFORE]));
    assert_eq!(r.stats.commits, 1);
    assert_eq!(alarm_set(&r), Some(BEFORE));
}

#[test]
fn t47_an_alarm_set_by_a_committed_transaction_in_the_handler_survives_it() {
    let (r, seen) = run_lab_seen(quiet(12), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|st, _info| async move {
            let s = st.storage().clone();
            let inner = s.clone();
            st.storage()
                .transaction(move |_txn| async move {
                    inner.set_alarm(FAR).await?;
                    Ok(())
                })
                .await?;
            Ok(json!({"get_alarm": s.get_alarm().await?}))
        });
        let _ = lab.call(0, "arm").await;
        let _ = lab.send_at(0, "get_alarm", 1500).await;
    });
    clean(&r);
    assert_eq!(seen, [json!({"get_alarm": FAR})]);
    assert_eq!(attempts(&r), [(1000, "ok")]);
    assert_eq!(r.stats.commits, 2, "the alarm, then the transaction; no deletion");
    assert_eq!(value(&r, "get_alarm"), &json!(FAR));
    assert_eq!(alarm_set(&r), Some(FAR));
}

// T55 — workerd keeps the scheduled alarm no later than the committed one: moving it
// earlier schedules before the commit, moving it later commits first. dosim's scheduler
// follows commits only and has no scheduling requests that can fail, so what is observable
// is the outcome: the handler runs at the committed time, never at a time that was not
// committed, and a move whose commit fails leaves the alarm where it was.

/// A run that sets the alarm for `first` (inside `transaction()`, whose commit no fault
/// hits), then moves it to `then` in the program `move` (an implicit transaction).
fn moved(seed: u64, plan: FaultPlan, first: u64, then: u64) -> (RunReport, Vec<Value>) {
    run_lab_seen(with_plan(seed, plan), Backend::Sqlite, move |lab| async move {
        def_arm_in_txn(&lab, first);
        lab.def("move", move |st| async move {
            st.storage().set_alarm(then);
            Ok(Value::Null)
        });
        report_handler(&lab);
        let _ = lab.call(0, "arm_in_txn").await;
        let _ = lab.call(0, "move").await;
    })
}

#[test]
fn t55a_an_alarm_moved_earlier_fires_at_the_earlier_time() {
    let (r, seen) = moved(13, FaultPlan::NONE, 5000, 1000);
    clean(&r);
    assert_eq!(attempts(&r), [(1000, "ok")]);
    assert!((1000..5000).contains(&r.alarms[0].at.as_millis()), "{:?}", r.alarms);
    assert_eq!(seen.len(), 1);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t55b_an_alarm_moved_later_does_not_fire_at_the_earlier_time() {
    let (r, _) = moved(14, FaultPlan::NONE, 1000, 5000);
    clean(&r);
    assert_eq!(attempts(&r), [(5000, "ok")]);
    assert!(r.alarms[0].at.as_millis() >= 5000);
    assert_eq!(line_index(&r, "alarm fires (set for 1000ms"), None);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t55c_a_move_earlier_whose_commit_fails_leaves_the_alarm_where_it_was() {
    let (r, _) = moved(15, COMMITS_FAIL, 5000, 1000);
    clean(&r);
    let e = failure(&r, "move");
    assert!(e.durable_object_reset && e.message.starts_with(COMMIT_FAILED), "{e:?}");
    // Faults stop when the workload ends, long before 5000 ms: the alarm runs once, there.
    assert_eq!(attempts(&r), [(5000, "ok")]);
    assert_eq!(line_index(&r, "alarm fires (set for 1000ms"), None);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t55d_a_move_later_whose_commit_fails_leaves_the_alarm_where_it_was() {
    let (r, _) = moved(16, COMMITS_FAIL, 1000, 5000);
    clean(&r);
    let e = failure(&r, "move");
    assert!(e.durable_object_reset && e.message.starts_with(COMMIT_FAILED), "{e:?}");
    assert_eq!(attempts(&r), [(1000, "ok")]);
    assert_eq!(alarm_set(&r), None);
}

// ---------------------------------------------------------------------------------------
// §9.4, the JS alarm tests

/// What [`wait_for_alarm`] returns after one run of the handler.
fn waited_one_alarm() -> Value {
    json!({"now_before_scheduled": false, "get_alarm_after": null, "alarms_triggered": 1})
}

/// `waitForAlarm()`: the request waits (letting other events in) until the handler has
/// recorded that it ran, then checks the time and that the alarm is gone.
async fn wait_for_alarm(st: &State, scheduled: u64) -> dosim::sim::Result<Value> {
    let s = st.storage();
    while s.get::<u64>("alarms_triggered").await?.is_none() {
        st.sleep(Duration::from_millis(5)).await;
    }
    Ok(json!({
        "now_before_scheduled": ms(st) < scheduled,
        "get_alarm_after": s.get_alarm().await?,
        "alarms_triggered": s.get::<u64>("alarms_triggered").await?,
    }))
}

#[test]
fn t65_alarm_fires_with_its_scheduled_time() {
    let (r, seen) = run_lab_seen(quiet(17), Backend::Sqlite, |lab| async move {
        lab.def("t65", |st| async move {
            let s = st.storage();
            let time = ms(&st) + 50;
            memory().borrow_mut().insert("scheduled_time".into(), json!(time));
            s.set_alarm(time).await?;
            let got = s.get_alarm().await?;
            let waited = wait_for_alarm(&st, time).await?;
            Ok(json!({"get_alarm": got.map(|t| t - time), "waited": waited}))
        });
        lab.def_alarm(|st, info| async move {
            let scheduled = memory().borrow().get("scheduled_time").cloned();
            let s = st.storage();
            let time = s.get_alarm().await?;
            s.put("alarms_triggered", &1);
            let is_set_time = scheduled == Some(json!(info.scheduled_time.as_millis()));
            Ok(json!({"get_alarm": time, "scheduled_time_is_the_set_time": is_set_time}))
        });
        let _ = lab.call(0, "t65").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t65"), &json!({"get_alarm": 0, "waited": waited_one_alarm()}));
    assert_eq!(seen, [json!({"get_alarm": null, "scheduled_time_is_the_set_time": true})]);
    assert_eq!(r.alarms.len(), 1);
    assert_eq!(r.alarms[0].outcome, "ok");
    assert!(r.alarms[0].at >= r.alarms[0].scheduled);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t66_deleted_alarms_never_fire_and_the_handler_may_delete() {
    let (r, seen) = run_lab_seen(quiet(18), Backend::Sqlite, |lab| async move {
        lab.def("t66", |st| async move {
            let s = st.storage();
            // An alarm that never fires: deleted before it is due.
            s.set_alarm(ms(&st) + 500).await?;
            s.delete_alarm().await?;
            // Another one, to test that deleting an alarm inside its handler is harmless.
            let time = ms(&st) + 500;
            s.set_alarm(time).await?;
            let got = s.get_alarm().await?;
            let waited = wait_for_alarm(&st, time).await?;
            Ok(json!({"get_alarm": got.map(|t| t - time), "waited": waited}))
        });
        lab.def_alarm(|st, _info| async move {
            let s = st.storage();
            let n = s.get::<u64>("alarms_triggered").await?.unwrap_or(0) + 1;
            s.put("alarms_triggered", &n);
            let time = s.get_alarm().await?;
            // No effect on the running alarm ...
            s.delete_alarm().await?;
            // ... but an alarm set meanwhile is deleted: the handler runs only once.
            s.set_alarm(ms(&st) + 50).await?;
            s.delete_alarm().await?;
            Ok(json!({"get_alarm": time}))
        });
        let _ = lab.call(0, "t66").await;
    });
    clean(&r);
    assert_eq!(value(&r, "t66"), &json!({"get_alarm": 0, "waited": waited_one_alarm()}));
    assert_eq!(seen, [json!({"get_alarm": null})]);
    // Over the whole run (the liveness phase included), one attempt, at the second time.
    assert_eq!(r.alarms.len(), 1);
    assert_eq!(r.alarms[0].outcome, "ok");
    assert_eq!(alarm_set(&r), None);
}

/// delete-all-deletes-alarm-test.js with the compatibility flag on or off.
fn delete_all_run(seed: u64, flag: bool) -> RunReport {
    let mut config: SimConfig = quiet(seed);
    let named = if flag { "delete_all_deletes_alarm" } else { "delete_all_preserves_alarm" };
    config.compatibility = Compatibility::new(DEFAULT_DATE, &[named.to_owned()]).expect("a flag");
    run_lab(config, Backend::Sqlite, move |lab| async move {
        lab.def_alarm(|_st, _info| async move { Err(Error::app("alarm handler unexpectedly invoked")) });
        lab.def("t67", move |st| async move {
            let s = st.storage();
            let alarm_time = ms(&st) + 10 * 60 * 1000;
            s.set_alarm(alarm_time).await?;
            let set = s.get_alarm().await?;
            s.put("key", &"value").await?;
            s.delete_all().await?;
            let key = s.get::<String>("key").await?;
            let after = s.get_alarm().await?;
            if !flag {
                // Clean up the alarm so it doesn't fire during the test.
                s.delete_alarm().await?;
            }
            let rel = |t: Option<u64>| t.map(|t| t - ms(&st));
            Ok(json!({"set": rel(set), "key": key, "after": rel(after)}))
        });
        let _ = lab.call(0, "t67").await;
    })
}

#[test]
fn t67a_delete_all_deletes_the_alarm_with_the_flag() {
    let r = delete_all_run(19, true);
    clean(&r);
    assert_eq!(value(&r, "t67"), &json!({"set": 600_000, "key": null, "after": null}));
    // The handler throws if invoked; it never was (the liveness phase outlasts 10 min).
    assert!(r.alarms.is_empty(), "{:?}", r.alarms);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t67b_delete_all_keeps_the_alarm_without_the_flag() {
    let r = delete_all_run(20, false);
    clean(&r);
    assert_eq!(value(&r, "t67"), &json!({"set": 600_000, "key": null, "after": 600_000}));
    assert!(r.alarms.is_empty(), "{:?}", r.alarms);
    assert_eq!(alarm_set(&r), None);
}

// ---------------------------------------------------------------------------------------
// §9.5, ctx.abort() in the handler

#[test]
fn t70a_abort_in_the_handler_retries_the_alarm_by_default() {
    // `retryAlarm` defaults to true: the aborted run is retried.
    let (r, seen) = run_lab_seen(quiet(21), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|st, _info| async move {
            let s = st.storage();
            if s.get::<bool>("aborted").await?.is_none() {
                s.put("aborted", &true);
                s.sync().await?;
                return Err(st.abort(Some("alarm aborted")));
            }
            Ok(json!("ran"))
        });
        let _ = lab.call(0, "arm").await;
    });
    clean(&r);
    assert_eq!(r.alarms.len(), 2, "{:?}", r.alarms);
    assert!(r.alarms[0].outcome.ends_with("alarm aborted"), "{:?}", r.alarms);
    assert_eq!(r.alarms[1].outcome, "ok");
    assert_eq!(seen.last(), Some(&json!("ran")));
    assert_eq!(durable(&r), json!({"aborted": true}));
    assert_eq!(alarm_set(&r), None);
}

/// `ctx.abort(reason, { retryAlarm: false })`.
fn abort_without_alarm_retry(st: &State, reason: &str) -> Error {
    st.abort_with(Some(reason), dosim::sim::AbortOptions { retry_alarm: false })
}

#[test]
fn t70b_abort_with_retry_alarm_false_abandons_the_alarm() {
    let r = run_lab(quiet(22).liveness_budget(60_000), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|st, _info| async move { Err(abort_without_alarm_retry(&st, "give up")) });
        let _ = lab.call(0, "arm").await;
        let _ = lab.send_at(0, "get_alarm", 10_000).await;
    });
    clean(&r);
    assert_eq!(r.alarms.len(), 1, "{:?}", r.alarms);
    assert_eq!(value(&r, "get_alarm"), &Value::Null);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t71_an_alarm_set_by_the_last_failing_attempt_survives_abandonment() {
    // alarm-scheduler-test.c++ "preserves an alarm queued while abandonment is pending": the
    // last attempt before abandonment sets a new alarm; it is kept, across a restart too.
    let (r, seen) = run_lab_seen(quiet(26), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(|st, info| async move {
            if info.scheduled_time.as_millis() != 1000 {
                return Ok(json!({"ran": info.scheduled_time.as_millis() - 1000}));
            }
            if info.retry_count == 6 {
                st.storage().set_alarm(ms(&st) + 60_000);
            }
            Err(Error::app("boom"))
        });
        let _ = lab.call(0, "arm").await;
        // After the 7th attempt (2 + 4 + … + 64 s of backoff, plus up to 25% jitter) and
        // before the new alarm.
        lab.sleep(160_000).await;
        lab.world.crash(LABEL, "test: restart");
    });
    clean(&r);
    assert_eq!(r.alarms.len(), 8, "{:?}", r.alarms);
    assert_eq!(r.alarms[..7].iter().map(|a| a.retry_count).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
    assert!(r.alarms[..7].iter().all(|a| a.outcome == "failed: boom"), "{:?}", r.alarms);
    let last = &r.alarms[7];
    assert_eq!(
        (last.scheduled.as_millis(), last.retry_count, last.outcome.as_str()),
        (r.alarms[6].at.as_millis() + 60_000, 0, "ok")
    );
    assert_eq!(seen.last(), Some(&json!({"ran": last.scheduled.as_millis() - 1000})));
    assert_eq!(alarm_set(&r), None);
}

type Handler = fn(State) -> std::pin::Pin<Box<dyn std::future::Future<Output = dosim::sim::Result<Value>>>>;

/// The alarm set for 1000 ms, a handler that fails through `fail` every time, and a read
/// of the alarm at 200 s (after abandonment, if it comes).
fn always_failing(config: SimConfig, fail: Handler) -> RunReport {
    run_lab(config, Backend::Sqlite, move |lab| async move {
        def_arm(&lab, 1000);
        lab.def_alarm(move |st, _info| fail(st));
        let _ = lab.call(0, "arm").await;
        let _ = lab.send_at(0, "get_alarm", 200_000).await;
    })
}

/// The gaps between attempts follow workerd's backoff: 2, 4, 8, 16, 32, 64 s, each plus up
/// to 25% jitter.
fn assert_backoff(r: &RunReport) {
    for (i, pair) in r.alarms.windows(2).enumerate() {
        let base = 2000u64 << i;
        let gap = pair[1].at.as_millis() - pair[0].at.as_millis();
        assert!((base..=base + base / 4 + 10).contains(&gap), "retry {}: {gap} ms after the previous attempt", i + 1);
    }
}

#[test]
fn t72a_a_failing_handler_counts_and_is_abandoned_after_6_retries() {
    // Output gate intact: the failure counts (alarm-retry-test.c++, "failures without a
    // broken output gate always count").
    let r = always_failing(quiet(27), |_st| Box::pin(async { Err(Error::app("boom")) }));
    clean(&r);
    assert_eq!(r.alarms.iter().map(|a| a.retry_count).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
    assert!(r.alarms.iter().all(|a| a.outcome == "failed: boom"), "{:?}", r.alarms);
    assert_backoff(&r);
    // Abandoned: the alarm is cleared.
    assert_eq!(value(&r, "get_alarm"), &Value::Null);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t72b_a_broken_output_gate_alone_does_not_count() {
    // The deferred deletion's commit fails every time while faults are on (60 s): every
    // attempt breaks the output gate, for no fault of the handler's, and none counts.
    let r = run_lab(with_plan(28, COMMITS_FAIL), Backend::Sqlite, |lab| async move {
        def_arm_in_txn(&lab, 1000);
        report_handler(&lab);
        let _ = lab.call(0, "arm_in_txn").await;
        lab.sleep(60_000).await;
    });
    clean(&r);
    let (failed, last) = r.alarms.split_at(r.alarms.len() - 1);
    assert!(failed.len() > 7, "more attempts than the limit allows: {}", failed.len());
    assert!(failed.iter().all(|a| a.outcome.starts_with("reset: ")), "{:?}", r.alarms);
    assert!(r.alarms.iter().all(|a| a.retry_count == 0), "{:?}", r.alarms);
    assert_eq!(last[0].outcome, "ok");
    assert_eq!(line_index(&r, "abandoned"), None);
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t72c_a_reset_caused_by_the_handler_counts() {
    let r = always_failing(quiet(29).liveness_budget(300_000), |st| {
        Box::pin(async move {
            st.block_concurrency_while(async { Err::<(), _>(Error::app("boom")) }).await?;
            Ok(Value::Null)
        })
    });
    clean(&r);
    assert_eq!(r.alarms.iter().map(|a| a.retry_count).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
    assert_backoff(&r);
    assert_eq!(value(&r, "get_alarm"), &Value::Null);
    assert_eq!(alarm_set(&r), None);
}

// ---------------------------------------------------------------------------------------
// §9.6, server level

#[test]
fn t74a_a_far_alarm_is_still_set_after_a_restart() {
    let r = run_lab(quiet(23), Backend::Sqlite, |lab| async move {
        def_arm(&lab, FAR);
        let _ = lab.call(0, "arm").await;
        lab.world.crash(LABEL, "test: restart");
        let _ = lab.call(0, "get_alarm").await;
    });
    clean(&r);
    assert_eq!(value(&r, "get_alarm"), &json!(FAR));
    assert_eq!((r.stats.crashes, r.stats.constructions), (1, 2));
    assert_eq!(alarm_set(&r), Some(FAR));
}

#[test]
fn t74b_an_alarm_survives_a_restart_and_fires() {
    let (r, seen) = run_lab_seen(quiet(24), Backend::Sqlite, |lab| async move {
        def_arm(&lab, 5000);
        report_handler(&lab);
        let _ = lab.call(0, "arm").await;
        lab.world.crash(LABEL, "test: restart");
        let _ = lab.call(0, "get_alarm").await;
        // Nothing in memory when it fires: the handler constructs a fresh instance.
        lab.world.crash(LABEL, "test: restart again");
    });
    clean(&r);
    assert_eq!(value(&r, "get_alarm"), &json!(5000));
    assert_eq!(attempts(&r), [(5000, "ok")]);
    assert_eq!(seen, [json!({"get_alarm": null, "scheduled": 5000, "retry_count": 0})]);
    assert_eq!((r.stats.crashes, r.stats.constructions), (2, 3));
    assert_eq!(alarm_set(&r), None);
}

#[test]
fn t75_an_idle_object_is_evicted_after_10_s() {
    // workerd's `preventEviction` variant has no counterpart in dosim (not covered).
    let r = run_lab(quiet(25), Backend::Sqlite, |lab| async move {
        lab.def("remember", |_st| async move {
            let old = memory().borrow_mut().insert("field".into(), json!(1));
            Ok(json!(old))
        });
        lab.def("recall", |_st| async move { Ok(json!(memory().borrow().get("field"))) });
        let _ = lab.call(0, "remember").await;
        let _ = lab.call(0, "recall").await;
        lab.sleep(9_000).await; // idle, but not for 10 s
        let _ = lab.call(0, "recall").await;
        lab.sleep(10_500).await; // idle for more than 10 s
        let _ = lab.call(0, "recall").await;
    });
    clean(&r);
    assert_eq!(value(&r, "remember"), &Value::Null);
    assert_eq!(values(&r, "recall"), [Some(&json!(1)), Some(&json!(1)), Some(&Value::Null)]);
    assert_eq!(r.stats.constructions, 2);
    // Once, 10 s after the second recall (about 9 s in) left the object idle.
    assert_eq!(r.trace.iter().filter(|l| l.what.contains("hibernated after 10 s idle")).count(), 1);
    let evicted = line_at(&r, "hibernated after 10 s idle").expect("evicted");
    assert!((19_000..19_100).contains(&evicted), "{evicted}");
}
