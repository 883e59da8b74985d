//! §9.1, the gates (workerd `io-gate-test.c++`). The input gate's bookkeeping is public
//! (`dosim::sim::gate::InputGate`), so T01–T04 are checked on it directly. In dosim a
//! turn is one poll and cannot overlap another, so workerd's "lock held for a turn" has
//! no counterpart; a lock that outlives the turn (`Lock::addRef()` kept by a storage
//! operation) is a *hold* of the strand. The output gate is internal: T05–T06 are checked
//! through the replies it holds back.

use crate::lab::*;
use dosim::sim::gate::{Blocker, Entry, InputGate};
use dosim::sim::{Backend, Error, FaultPlan};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker and how many times it was woken.
fn waker() -> (Arc<Wakes>, Waker) {
    let w = Arc::new(Wakes(AtomicUsize::new(0)));
    (w.clone(), Waker::from(w))
}

fn woken(w: &Wakes) -> usize {
    w.0.load(Ordering::SeqCst)
}

const ENTER: Entry = Entry::Enter { overridden: None };

#[test]
fn t01_input_gate_basics() {
    let mut g = InputGate::new(true);
    let (_, w1) = waker();
    let (c2, w2) = waker();
    let (c3, w3) = waker();
    // Waiter 1 finds the gate open; L1 and L2 = L1.addRef() outlive its turn.
    assert_eq!(g.try_enter(1, &w1), ENTER);
    g.hold(1);
    g.hold(1);
    assert_eq!(g.try_enter(2, &w2), Entry::Wait(Blocker::Storage(1)));
    assert_eq!(g.try_enter(3, &w3), Entry::Wait(Blocker::Storage(1)));
    // Dropping L1 is not enough while L2 exists.
    g.release(1);
    assert_eq!(woken(&c2), 0);
    assert_eq!(g.blocker(2), Some(Blocker::Storage(1)));
    // Dropping L2 grants waiter 2, and only waiter 2.
    g.release(1);
    assert_eq!((woken(&c2), woken(&c3)), (1, 0));
    assert_eq!(g.try_enter(3, &w3), Entry::Wait(Blocker::Queue(2)));
    assert_eq!(g.try_enter(2, &w2), ENTER);
    // Waiter 3 stays pending while waiter 2's lock lives on.
    g.hold(2);
    assert_eq!(g.try_enter(3, &w3), Entry::Wait(Blocker::Storage(2)));
    assert_eq!(g.queued(), 1);
    g.release(2);
    assert_eq!(woken(&c3), 1);
    assert_eq!(g.try_enter(3, &w3), ENTER);
    assert_eq!(g.queued(), 0);
}

#[test]
fn t02_input_gate_critical_section() {
    let mut g = InputGate::new(true);
    let (_, w) = waker();
    let (c2, w2) = waker();
    // Strand 1 holds the lock and starts critical section 10; 10 takes a lock inside it.
    assert!(g.open_section(10, Some(1)));
    assert_eq!(g.try_enter(10, &w), ENTER);
    g.hold(10);
    assert_eq!(g.try_enter(2, &w2), Entry::Wait(Blocker::CriticalSection(10)));
    // No lock held inside, but the section exists: the top-level waiter stays blocked.
    g.release(10);
    assert_eq!(g.blocker(2), Some(Blocker::CriticalSection(10)));
    assert_eq!(woken(&c2), 0);
    // The section succeeds while an inner lock is still held: still blocked.
    g.hold(10);
    g.close_section(10, false);
    assert_eq!(g.depth(), 0);
    assert_eq!(g.blocker(2), Some(Blocker::Storage(10)));
    assert_eq!(woken(&c2), 0);
    // Succeeded and the inner lock dropped: granted.
    g.release(10);
    assert_eq!(woken(&c2), 1);
    assert_eq!(g.try_enter(2, &w2), ENTER);
}

#[test]
fn t03a_nested_critical_section_blocks_its_parent() {
    let mut g = InputGate::new(true);
    let (_, w) = waker();
    let (c10, w10) = waker();
    assert!(g.open_section(10, Some(1)));
    assert!(g.open_section(11, Some(10)));
    // The outer section cannot make progress while the nested one runs.
    assert_eq!(g.try_enter(10, &w10), Entry::Wait(Blocker::CriticalSection(11)));
    assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::CriticalSection(11)));
    assert_eq!(g.try_enter(11, &w), ENTER);
    // The nested one succeeds: its caller (the outer section) goes before the queue.
    g.close_section(11, true);
    assert_eq!(woken(&c10), 1);
    assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::HandBack(10)));
    assert_eq!(g.try_enter(10, &w10), ENTER);
    assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::CriticalSection(10)));
    g.close_section(10, true);
    assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::HandBack(1)));
    assert_eq!(g.try_enter(1, &w), ENTER);
    assert_eq!(g.try_enter(2, &w), ENTER);
}

/// Starts two critical sections from one caller, without an await in between; each
/// logs its start and its end around a 1 ms timer.
fn def_siblings(lab: &Lab) {
    lab.def("siblings", |st| async move {
        let log = Rc::new(RefCell::new(Vec::<String>::new()));
        let section = |name: &'static str| {
            let (st, log) = (st.clone(), log.clone());
            async move {
                log.borrow_mut().push(format!("{name} start"));
                st.sleep(Duration::from_millis(1)).await;
                log.borrow_mut().push(format!("{name} end"));
                Ok(())
            }
        };
        let a = st.block_concurrency_while(section("a"));
        let b = st.block_concurrency_while(section("b"));
        a.await?;
        b.await?;
        let log = log.borrow().clone();
        Ok(json!(log))
    });
}

#[test]
fn t03b_sibling_critical_sections_run_in_the_order_opened() {
    for seed in 0..5 {
        let r = run_lab(quiet(seed), Backend::Sqlite, |lab| async move {
            def_siblings(&lab);
            let _ = lab.call(0, "siblings").await;
        });
        clean(&r);
        assert_eq!(value(&r, "siblings"), &json!(["a start", "a end", "b start", "b end"]), "seed {seed}");
    }
}

#[test]
fn t04a_failed_critical_section_drops_every_waiter() {
    let mut g = InputGate::new(true);
    let (_, w) = waker();
    assert!(g.open_section(10, Some(1)));
    assert!(g.open_section(11, Some(10)));
    assert!(g.open_section(12, Some(1)));
    // Waiters at every level: the parent section, the caller, another event at the root.
    for s in [10, 1, 2] {
        assert!(matches!(g.try_enter(s, &w), Entry::Wait(_)));
    }
    // A failed section resets the object: every waiter is released (to find its strand
    // dead), and nothing of the old sections survives.
    assert_eq!(g.reset().len(), 3);
    assert_eq!((g.depth(), g.queued()), (0, 0));
}

#[test]
fn t04b_failed_critical_section_fails_every_pending_event() {
    for seed in 0..10 {
        let r = run_lab(quiet(seed), Backend::Sqlite, |lab| async move {
            lab.def("explode", |st| async move {
                let outer = st.clone();
                st.block_concurrency_while(async move {
                    let inner = outer.clone();
                    outer
                        .block_concurrency_while(async move {
                            inner.sleep(Duration::from_millis(20)).await;
                            Err::<(), _>(Error::app("foobar"))
                        })
                        .await
                })
                .await?;
                Ok(json!("survived"))
            });
            lab.def("queued-1", |_| async { Ok(json!("ran")) });
            lab.def("queued-2", |_| async { Ok(json!("ran")) });
            lab.def("after", |_| async { Ok(json!("ran")) });
            let exploding = lab.send_at(0, "explode", 0);
            // They arrive at 5–7 ms, while the inner section sleeps (from 1–3 ms to 21–23 ms).
            let q1 = lab.send_at(1, "queued-1", 4);
            let q2 = lab.send_at(2, "queued-2", 4);
            let _ = (exploding.await, q1.await, q2.await);
            let _ = lab.call(3, "after").await;
        });
        clean(&r);
        for program in ["explode", "queued-1", "queued-2"] {
            assert_eq!(failure(&r, program).message, "foobar", "seed {seed}: {program}");
        }
        // The broken instance is gone; the next event reaches a fresh one.
        assert_eq!(value(&r, "after"), &json!("ran"));
        assert!(r.trace_text().contains("construct (incarnation 2)"), "{}", r.trace_text());
    }
}

/// T05's three calls on the KV back-end, with slow storage: `w1` writes (batch #1), `w2`
/// runs while batch #1 is in flight and writes nothing, `w3` writes then (batch #2).
async fn output_gate_workload(lab: Lab) {
    lab.def("w1", |st| async move {
        st.storage().put("a", &1);
        Ok(json!("w1"))
    });
    lab.def("w2", |_| async { Ok(json!("w2")) });
    lab.def("w3", |st| async move {
        st.storage().put("b", &2);
        Ok(json!("w3"))
    });
    let w1 = lab.send_at(0, "w1", 0);
    // w1 arrives at 1–3 ms and batch #1 lands 10–30 ms later; w2 arrives at 5–7 ms,
    // w3 at 8–10 ms: both while batch #1 is in flight.
    let w2 = lab.send_at(1, "w2", 4);
    let w3 = lab.send_at(2, "w3", 7);
    let _ = (w1.await, w2.await, w3.await);
}

#[test]
fn t05_output_gate_waiters_wait_only_for_earlier_locks() {
    for seed in 0..10 {
        let r = run_lab(with_plan(seed, SLOW), Backend::Kv, output_gate_workload);
        clean(&r);
        let text = r.trace_text();
        // w1 and w2 wait for lock A (batch #1), w3 for A and B (batch #2).
        for (op, batch) in [(0, 1), (1, 1), (2, 2)] {
            let held = format!("(request #{op}) until batch #{batch} is durable");
            assert!(text.contains(&held), "seed {seed}: {held}\n{text}");
        }
        let (a, b) = (commit_at(&r, 1), commit_at(&r, 2));
        for program in ["w1", "w2"] {
            let at = completed_at(&r, program);
            assert!(a < at && at < b, "seed {seed}: {program} answered at {at}, A at {a}, B at {b}\n{text}");
        }
        assert!(completed_at(&r, "w3") > b, "{text}");
        assert_eq!(r.stats.held_responses, 3);
    }
}

#[test]
fn t06_output_gate_failure_rejects_only_later_waiters() {
    // Half the flushes fail hard; keep the seeds where A (batch #1) landed and B failed.
    let plan = FaultPlan { flush_hard_failure: 500, ..SLOW };
    let mut seen = 0;
    for seed in 0..40 {
        let r = run_lab(with_plan(seed, plan), Backend::Kv, output_gate_workload);
        clean(&r);
        if commit_line(&r, 1).is_none() || !r.trace_text().contains("CRASH injected: hard failure flushing batch #2") {
            continue;
        }
        seen += 1;
        assert_eq!(value(&r, "w1"), &json!("w1"), "seed {seed}");
        assert_eq!(value(&r, "w2"), &json!("w2"), "seed {seed}");
        let e = failure(&r, "w3");
        assert!(e.durable_object_reset, "seed {seed}: {e:?}");
        assert_eq!(durable(&r), json!({"a": 1}));
    }
    assert!(seen >= 3, "no seed had batch #1 land and batch #2 fail");
}
