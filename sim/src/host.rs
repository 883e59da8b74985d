//! The object host: one per object id. Owns the live instance (at most one), its input
//! gate, its database and its output gate; commits batches; crashes (drop the instance and
//! every strand, roll back the open batch, fail callers with a reset error) and runs the
//! model-independent checkers at each crash.

use crate::config::GatePolicy;
use crate::error::{Error, Result};
use crate::gate::{InputGate, StrandId};
use crate::storage::sqlite::{decode_json, key_text, SqliteStore};
use crate::storage::{kv_ops, Backend, KvStore, Opened, Store};
use crate::world::World;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The output gate's bookkeeping (SEMANTICS.md §2): batches are numbered per object;
/// a reply waits until every batch written before it is durable.
#[derive(Default)]
pub(crate) struct OutputGate {
    /// Highest committed batch.
    pub durable: u64,
    /// Highest batch holding a confirmed write.
    pub last_written: u64,
    /// Highest batch holding any write, confirmed or not (what `sync()` waits for).
    pub last_any: u64,
    /// Highest batch some delivered reply followed (for the durability checker).
    pub acked: u64,
    waiters: Vec<Waker>,
}

pub(crate) struct ObjectCore {
    pub(crate) world: World,
    pub(crate) label: String,
    incarnation: Cell<u64>,
    /// Instances constructed so far (crashes and hibernation both end one).
    instances: Cell<u64>,
    pub(crate) instance: RefCell<Option<Rc<dyn Any>>>,
    pub(crate) gate: RefCell<InputGate>,
    pub(crate) store: RefCell<Store>,
    pub(crate) output: RefCell<OutputGate>,
    live: RefCell<BTreeMap<StrandId, Waker>>,
    reset_error: RefCell<Error>,
    /// The alarm scheduler (outside the object: survives crashes).
    pub(crate) alarm: RefCell<crate::alarm::AlarmState>,
    /// Runs the class's `alarm()` handler (set by the namespace).
    pub(crate) alarm_driver: RefCell<Option<crate::alarm::AlarmDriver>>,
    /// Whether the last reset was the object's own error (see `reset_by_user_error`).
    reset_by_user: Cell<bool>,
    /// When the object last went idle (no strand in flight), if it is idle.
    idle_since: Cell<Option<u64>>,
    /// Whether the idle timer is running.
    idle_timer: Cell<bool>,
    /// The incarnation a failed write broke, and its error.
    broken_by: RefCell<Option<(u64, Error)>>,
    /// Open WebSocket connections (kept by the runtime: they survive hibernation).
    pub(crate) sockets: RefCell<crate::socket::Sockets>,
    /// Runs the class's WebSocket handlers (set by the namespace).
    pub(crate) socket_driver: RefCell<Option<crate::socket::SocketDriver>>,
    me: std::rc::Weak<ObjectCore>,
}

/// An object with nothing in flight is hibernated after this long (SEMANTICS.md §7).
const IDLE_EVICTION: std::time::Duration = std::time::Duration::from_secs(10);

impl ObjectCore {
    pub(crate) fn new(world: &World, label: String, backend: Backend) -> Result<Rc<ObjectCore>> {
        let store = match backend {
            Backend::Sqlite => {
                let mut h = crate::trace::Fnv64::default();
                h.write(&world.seed().to_le_bytes());
                h.write(label.as_bytes());
                Store::Sqlite(SqliteStore::open(h.finish())?)
            }
            Backend::Kv => {
                world.uses("kv");
                Store::Kv(KvStore::new())
            }
        };
        let enforced = world.config().input_gate == GatePolicy::Enforced;
        let core = Rc::new_cyclic(|me| ObjectCore {
            world: world.clone(),
            label,
            incarnation: Cell::new(1),
            instances: Cell::new(0),
            instance: RefCell::new(None),
            gate: RefCell::new(InputGate::new(enforced)),
            store: RefCell::new(store),
            output: RefCell::new(OutputGate::default()),
            live: RefCell::new(BTreeMap::new()),
            reset_error: RefCell::new(Error::reset("Durable Object reset.")),
            alarm: RefCell::default(),
            alarm_driver: RefCell::new(None),
            reset_by_user: Cell::new(false),
            idle_since: Cell::new(None),
            idle_timer: Cell::new(false),
            broken_by: RefCell::new(None),
            sockets: RefCell::default(),
            socket_driver: RefCell::new(None),
            me: me.clone(),
        });
        world.0.objects.borrow_mut().push(core.clone());
        Ok(core)
    }

    /// Bumped at every crash: work of an older incarnation is dead.
    pub(crate) fn incarnation(&self) -> u64 {
        self.incarnation.get()
    }

    /// A new instance is being constructed: its number in the object's life (1, 2, ...).
    /// Unlike the incarnation, it moves on after hibernation too.
    pub(crate) fn next_instance(&self) -> u64 {
        self.instances.set(self.instances.get() + 1);
        self.instances.get()
    }

    /// The error callers of a dead incarnation get.
    pub(crate) fn reset_error(&self) -> Error {
        self.reset_error.borrow().clone()
    }

    pub(crate) fn set_live(&self, strand: StrandId, waker: &Waker) {
        self.idle_since.set(None);
        let mut live = self.live.borrow_mut();
        match live.get_mut(&strand) {
            Some(w) => w.clone_from(waker),
            None => {
                live.insert(strand, waker.clone());
            }
        }
    }

    /// A strand ended (finished, dropped or killed).
    pub(crate) fn forget(&self, strand: StrandId) {
        self.live.borrow_mut().remove(&strand);
        self.world.forget_depth(strand);
        self.gate.borrow_mut().forget(strand);
        if self.live.borrow().is_empty() {
            self.arm_idle_timer();
        }
    }

    /// The object has nothing running: hibernate it if it stays so for 10 s.
    /// One timer per object at most: it sleeps until 10 s after the object last went
    /// idle, and re-checks (activity meanwhile pushes the deadline, or ends the timer).
    fn arm_idle_timer(&self) {
        if self.instance.borrow().is_none() {
            return;
        }
        self.idle_since.set(Some(self.world.now().as_millis()));
        if self.idle_timer.replace(true) {
            return;
        }
        let (weak, world) = (self.me.clone(), self.world.clone());
        let idle_ms = crate::time::millis_ceil(IDLE_EVICTION);
        crate::task::spawn(&self.world, async move {
            loop {
                let Some(core) = weak.upgrade() else { return };
                let Some(since) = core.idle_since.get() else {
                    core.idle_timer.set(false);
                    return;
                };
                if world.now().as_millis() >= since + idle_ms {
                    core.idle_timer.set(false);
                    core.hibernate_if_idle();
                    return;
                }
                drop(core);
                world.sleep_until(crate::time::SimTime(since + idle_ms)).await;
            }
        });
    }

    /// Hibernation: the instance and its memory go; storage, the alarm and the id stay.
    /// The next event constructs a fresh instance.
    fn hibernate_if_idle(&self) {
        let busy = !self.live.borrow().is_empty() || self.has_open_batch() || self.alarm.borrow().running.is_some();
        if busy || self.instance.borrow().is_none() {
            return;
        }
        let kept = if self.has_sockets() { ", connections kept" } else { "" };
        self.world.trace(&self.label, format!("hibernated after 10 s idle: instance dropped, storage kept{kept}"));
        self.world.sometimes("object hibernated after 10 s idle");
        let instance = self.instance.borrow_mut().take();
        drop(instance);
    }

    /// Runs a write against the SQLite database; a write that opens a batch schedules its
    /// commit. `confirmed` writes hold replies back until durable.
    pub(crate) fn sqlite_write<R: Opened>(
        &self,
        confirmed: bool,
        f: impl FnOnce(&mut SqliteStore) -> Result<R>,
    ) -> Result<R> {
        let (r, opened, explicit) = self.sqlite_step(f);
        let r = r?;
        self.note_write(confirmed);
        // A batch `f` reports but the store no longer shows as newly open still commits.
        if let Some(no) = r.opened().filter(|no| opened != Some(*no) && !explicit) {
            self.spawn_commit(no);
        }
        Ok(r)
    }

    /// Runs `f` on the SQLite store and schedules the commit of an implicit batch it
    /// opened, whether `f` then succeeded or not: a write refused after its `BEGIN` (a
    /// value over the size limit) must not leave a batch that nothing will ever commit,
    /// or every later write would wait for it forever.
    fn sqlite_step<R>(&self, f: impl FnOnce(&mut SqliteStore) -> Result<R>) -> (Result<R>, Option<u64>, bool) {
        let (r, opened, explicit) = {
            let mut store = self.store.borrow_mut();
            let Store::Sqlite(s) = &mut *store else { unreachable!("SQLite write on a KV-backed object") };
            let before = s.open_batch();
            let r = f(s);
            let after = s.open_batch();
            let explicit = s.in_explicit();
            (r, after.filter(|_| before.is_none() && !explicit), explicit)
        };
        if let Some(no) = opened {
            self.spawn_commit(no);
        }
        (r, opened, explicit)
    }

    /// Opens a SQLite transaction level without writing (`transaction()` and
    /// `transaction_sync()`); an implicit batch it opens gets its commit task.
    pub(crate) fn sqlite_begin(&self, f: impl FnOnce(&mut SqliteStore) -> Result<Option<u64>>) -> Result<()> {
        self.sqlite_step(f).0.map(drop)
    }

    /// A write joined the open batch: replies (if confirmed) and `sync()` now wait for it.
    pub(crate) fn note_write(&self, confirmed: bool) {
        let open = match &*self.store.borrow() {
            Store::Sqlite(s) => s.open_batch(),
            Store::Kv(s) => s.open_batch(),
        };
        if let Some(no) = open {
            let mut out = self.output.borrow_mut();
            out.last_any = out.last_any.max(no);
            if confirmed {
                out.last_written = out.last_written.max(no);
            }
        }
    }

    /// Whether a `transaction()` (or `transaction_sync()`) is running.
    pub(crate) fn in_transaction(&self) -> bool {
        match &*self.store.borrow() {
            Store::Sqlite(s) => s.depth() > 0,
            Store::Kv(s) => s.in_transaction(),
        }
    }

    /// Wakes everything waiting on storage progress (commits, flushes, finished reads).
    pub(crate) fn notify_storage(&self) {
        for w in self.output.borrow_mut().waiters.drain(..) {
            w.wake();
        }
    }

    /// Registers `waker` for the next storage progress.
    pub(crate) fn wait_storage(&self, waker: &Waker) {
        self.output.borrow_mut().waiters.push(waker.clone());
    }

    /// The commit task: it yields one scheduler turn, so whatever else is ready now (other
    /// events' writes included) may join the batch, then commits it (SEMANTICS.md §3.3).
    pub(crate) fn spawn_commit(&self, batch: u64) {
        let weak = self.me.clone();
        let inc = self.incarnation();
        crate::task::spawn(&self.world, async move {
            crate::time::yield_now().await;
            let Some(core) = weak.upgrade() else { return };
            if core.incarnation() != inc {
                return;
            }
            let plan = core.world.fault_plan();
            if core.world.decide().chance(plan.crash_before_commit) {
                core.crash(&format!("injected: between the writes of batch #{batch} and its commit"));
                return;
            }
            if core.world.in_outage(crate::faults::Outage::Storage) {
                core.world.sometimes("object reset by a failed write");
                core.fail_write(&format!("injected: storage outage, commit of batch #{batch} failed"));
                return;
            }
            if core.world.decide().chance(plan.commit_failure) {
                // A commit that fails breaks the output gate: the object resets (§2.4).
                core.world.sometimes("object reset by a failed write");
                core.fail_write(&format!("injected: commit of batch #{batch} failed"));
                return;
            }
            core.commit_open();
        });
    }

    /// Commits the open implicit batch now (the commit task, or a `transaction()` start).
    pub(crate) fn commit_open(&self) {
        let committed = match &mut *self.store.borrow_mut() {
            Store::Sqlite(s) => s.commit(),
            Store::Kv(_) => Ok(None),
        };
        match committed {
            Ok(Some(b)) => self.batch_durable(b.no, &b.keys(), b.alarm_change()),
            Ok(None) => {}
            // A commit that SQLite refuses (a deferred constraint) rolls the object back to its
            // last good state and resets it (SEMANTICS.md §2.4, T61).
            Err(e) => self.reset(
                "COMMIT refused",
                Error::reset(format!(
                    "Durable Object was reset and rolled back to its last known good state because the \
                     application left the database in a state where constraints were violated: {}",
                    e.message
                )),
            ),
        }
    }

    /// A batch reached storage: replies and `sync()` waiting for it go, and the alarm
    /// scheduler follows an alarm change it carries.
    pub(crate) fn batch_durable(&self, no: u64, keys: &[String], alarm: Option<Option<u64>>) {
        self.world.stats().commits += 1;
        self.world.trace(&self.label, format!("commit batch #{no} ({} writes: {})", keys.len(), summarize(keys)));
        self.output.borrow_mut().durable = no;
        self.notify_storage();
        if let (Some(value), Some(me)) = (alarm, self.me.upgrade()) {
            crate::alarm::persisted(&me, value);
        }
    }

    /// The alarm as the object sees it now (uncommitted writes included).
    pub(crate) fn stored_alarm(&self) -> Result<Option<u64>> {
        match &*self.store.borrow() {
            Store::Sqlite(s) => s.alarm(),
            Store::Kv(s) => Ok(s.alarm()),
        }
    }

    /// Sets (or deletes) the alarm as an ordinary write of the open batch.
    pub(crate) fn write_alarm(&self, time: Option<u64>, confirmed: bool) -> Result<()> {
        let backend = self.store.borrow().backend();
        match backend {
            Backend::Sqlite => self.sqlite_write(confirmed, |s| s.set_alarm(time)).map(drop),
            Backend::Kv => {
                let opened = match &mut *self.store.borrow_mut() {
                    Store::Kv(s) => s.set_alarm(time),
                    Store::Sqlite(_) => unreachable!(),
                };
                self.note_write(confirmed);
                if let (Some(_), Some(me)) = (opened, self.me.upgrade()) {
                    kv_ops::spawn_flush(&me);
                }
                Ok(())
            }
        }
    }

    /// The KV back-end's flush of batch `no` landed.
    pub(crate) fn flushed(&self, no: u64, _n: usize) {
        if let Some((keys, alarm)) = kv_ops::finish(self) {
            self.batch_durable(no, &keys, alarm);
        }
    }

    /// Waits until batch `needed` is durable; fails with the reset error if the object
    /// crashes first.
    pub(crate) fn wait_durable(self: &Rc<Self>, incarnation: u64, needed: u64) -> DurableWait {
        DurableWait { core: self.clone(), incarnation, needed }
    }

    /// Holds a reply until the writes before it are durable (or lets it go at once when
    /// the output gate is disabled). Records what the delivered reply acknowledged.
    pub(crate) async fn release_reply(self: &Rc<Self>, incarnation: u64, what: &str) -> Result<()> {
        let needed = self.output.borrow().last_written;
        let enforced = self.world.config().output_gate == GatePolicy::Enforced;
        if enforced && self.output.borrow().durable < needed {
            self.world.stats().held_responses += 1;
            self.world.sometimes("reply held by the output gate");
            self.world.trace(&self.label, format!("output gate holds {what} until batch #{needed} is durable"));
            if let Err(e) = self.wait_durable(incarnation, needed).await {
                self.world.sometimes("reply lost to a crash while held");
                return Err(e);
            }
        } else if self.incarnation() != incarnation {
            return Err(self.reset_error());
        }
        self.check_cache_before_reply(what);
        let mut out = self.output.borrow_mut();
        out.acked = out.acked.max(needed);
        Ok(())
    }

    /// The output gate's accounting is by batch number, so it trusts the KV cache: a write
    /// of the value the cache holds as stored is dropped and joins no batch. A clean entry
    /// that storage does not hold would let this reply acknowledge state that no batch will
    /// ever commit, with every batch number in order; so a reply checks the cache too.
    fn check_cache_before_reply(&self, what: &str) {
        if !matches!(&*self.store.borrow(), Store::Kv(_)) {
            return;
        }
        let keys = kv_ops::incoherent(self);
        if !keys.is_empty() {
            self.world.violation(
                "output-gate",
                format!(
                    "{}: {what} was released while the cache holds {} as stored, but storage does not \
                     (state acknowledged that no batch will commit)",
                    self.label,
                    summarize(&keys)
                ),
            );
        }
    }

    /// Crash: the instance and all its in-flight work are dropped, the open batch is
    /// rolled back, and everyone waiting on this incarnation is woken to fail.
    pub(crate) fn crash(&self, reason: &str) {
        self.reset(reason, Error::reset(format!("Durable Object reset: {reason} (simulated crash).")));
    }

    /// A write failed for good: the output gate breaks and the object resets. Callers,
    /// and the old instance's later storage calls, get workerd's internal-error text with
    /// a reference id (drawn from the run's stream, so it replays).
    pub(crate) fn fail_write(&self, reason: &str) {
        let reference = self.world.decide().bits() & 0xffff_ffff;
        let error = Error::reset(format!(
            "Internal error in Durable Object storage write caused object to be reset; reference = {reference:08x}"
        ));
        *self.broken_by.borrow_mut() = Some((self.incarnation(), error.clone()));
        self.reset(reason, error);
    }

    /// The error a storage call of incarnation `incarnation` gets once that incarnation is
    /// gone: the failed write's own error if one broke it, else "no longer accessible".
    pub(crate) fn stale_error(&self, incarnation: u64) -> Error {
        match &*self.broken_by.borrow() {
            Some((inc, e)) if *inc == incarnation => e.clone(),
            _ => Error::stale_storage(),
        }
    }

    /// Resets the object because its own code failed (a `block_concurrency_while` callback
    /// that threw): for a running alarm, such a reset counts against the retry limit.
    pub(crate) fn reset_by_user_error(&self, reason: &str, error: Error) {
        self.reset(reason, error);
        self.reset_by_user.set(true);
    }

    /// Whether the last reset was caused by the object's own error.
    pub(crate) fn reset_by_user(&self) -> bool {
        self.reset_by_user.get()
    }

    /// Resets the object with the error its callers will see.
    pub(crate) fn reset(&self, reason: &str, error: Error) {
        self.reset_by_user.set(false);
        let had_instance = self.instance.borrow().is_some();
        let (lost, landed) = self.drop_unflushed();
        let strands = self.live.borrow().len();
        if lost.is_some() {
            self.world.sometimes("crash between a write and its commit");
        }
        if strands > 0 {
            self.world.sometimes("crash while a handler was suspended");
        }
        self.incarnation.set(self.incarnation.get() + 1);
        *self.reset_error.borrow_mut() = error;
        self.world.stats().crashes += 1;
        let mut lost_text = match lost {
            Some(no) => format!("; batch #{no} rolled back"),
            None => String::new(),
        };
        if let Some((no, alarm)) = landed {
            lost_text.push_str(&format!("; batch #{no} in flight landed"));
            self.output.borrow_mut().durable = no;
            if let (Some(value), Some(me)) = (alarm, self.me.upgrade()) {
                crate::alarm::persisted(&me, value);
            }
        }
        let what = if had_instance { "instance dropped" } else { "nothing in memory" };
        self.world.trace(&self.label, format!("CRASH {reason}: {what}, {strands} strands killed{lost_text}"));
        self.check_after_crash();
        let instance = self.instance.borrow_mut().take();
        drop(instance);
        self.close_all_sockets();
        let mut wakers: Vec<Waker> = self.gate.borrow_mut().reset();
        wakers.extend(std::mem::take(&mut *self.live.borrow_mut()).into_values());
        {
            let mut out = self.output.borrow_mut();
            wakers.append(&mut out.waiters);
            out.last_written = out.durable;
            out.last_any = out.durable;
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Loses what is not durable: (batch lost, KV flush in flight that landed with the
    /// alarm change it carried).
    fn drop_unflushed(&self) -> kv_ops::CrashEffect {
        let backend = self.store.borrow().backend();
        match backend {
            Backend::Sqlite => {
                let lost = match &mut *self.store.borrow_mut() {
                    Store::Sqlite(s) => s.rollback().map(|b| b.no),
                    Store::Kv(_) => None,
                };
                (lost, None)
            }
            Backend::Kv => kv_ops::crash(self),
        }
    }

    /// Durability and coalescing, checked against what survived the crash.
    fn check_after_crash(&self) {
        let mut out = self.output.borrow_mut();
        if out.acked > out.durable {
            self.world.violation(
                "output-gate",
                format!(
                    "{}: a reply acknowledged writes of batch #{}, but the crash left only batches up to #{} durable",
                    self.label, out.acked, out.durable
                ),
            );
            out.acked = out.durable;
        }
        drop(out);
        self.check_coalescing("after crash");
    }

    /// The database holds exactly the committed batches: never part of one. (On the KV
    /// back-end storage takes a batch in one step, so there is nothing to compare.)
    pub(crate) fn check_coalescing(&self, when: &str) {
        let store = self.store.borrow();
        let Store::Sqlite(store) = &*store else { return };
        if store.open_batch().is_some() {
            return;
        }
        match store.kv_rows() {
            Ok(rows) if &rows == store.shadow() => {}
            Ok(rows) => {
                let diff: Vec<String> = rows
                    .keys()
                    .chain(store.shadow().keys())
                    .filter(|k| rows.get(*k) != store.shadow().get(*k))
                    .map(|k| key_text(k))
                    .collect();
                self.world.violation(
                    "coalescing",
                    format!(
                        "{} {when}: durable state is not a whole number of committed batches (keys differ: {})",
                        self.label,
                        summarize(&diff)
                    ),
                );
            }
            Err(e) => self.world.violation("storage", format!("{}: reading durable state failed: {e}", self.label)),
        }
        match store.digest_sql_tables() {
            Ok(d) if d == store.committed_sql_digest() => {}
            Ok(_) => self.world.violation(
                "coalescing",
                format!("{} {when}: SQL tables are not in the state of the last committed batch", self.label),
            ),
            Err(e) => self.world.violation("storage", format!("{}: reading SQL tables failed: {e}", self.label)),
        }
        match store.alarm() {
            Ok(a) if a == store.committed_alarm() => {}
            Ok(a) => self.world.violation(
                "coalescing",
                format!(
                    "{} {when}: the stored alarm ({a:?}) is not the last committed one ({:?})",
                    self.label,
                    store.committed_alarm()
                ),
            ),
            Err(e) => self.world.violation("storage", format!("{}: reading the alarm failed: {e}", self.label)),
        }
    }

    /// Committed KV state, as JSON values.
    pub(crate) fn durable_kv(&self) -> BTreeMap<String, serde_json::Value> {
        let shadow = match &*self.store.borrow() {
            Store::Sqlite(s) => Some(s.shadow().clone()),
            Store::Kv(_) => None,
        };
        let rows = shadow.unwrap_or_else(|| kv_ops::durable(self));
        rows.iter().map(|(k, v)| (key_text(k), decode_json(v))).collect()
    }

    /// Committed SQL tables (at the end of a run, when no batch is open).
    pub(crate) fn durable_tables(&self) -> BTreeMap<String, Vec<serde_json::Value>> {
        match &*self.store.borrow() {
            Store::Sqlite(s) if s.open_batch().is_none() => s.dump_tables().unwrap_or_default(),
            _ => BTreeMap::new(),
        }
    }

    /// The committed alarm, as the scheduler follows it.
    pub(crate) fn persisted_alarm(&self) -> Option<u64> {
        self.alarm.borrow().persisted
    }

    /// Whether some strand of the current instance is still in flight.
    pub(crate) fn has_live_strands(&self) -> bool {
        !self.live.borrow().is_empty()
    }

    /// Strands of the current instance in flight.
    pub(crate) fn live_strands(&self) -> Vec<StrandId> {
        self.live.borrow().keys().copied().collect()
    }

    /// Whether strand `s` is still in flight.
    pub(crate) fn is_live(&self, s: StrandId) -> bool {
        self.live.borrow().contains_key(&s)
    }

    /// The newest batch written or open, if a batch is still waiting for its commit.
    pub(crate) fn pending_batch(&self) -> Option<u64> {
        if !self.has_open_batch() {
            return None;
        }
        let open = match &*self.store.borrow() {
            Store::Sqlite(s) => s.open_batch(),
            Store::Kv(s) => s.open_batch(),
        };
        Some(open.unwrap_or(0).max(self.output.borrow().last_any))
    }

    /// Whether a batch is still waiting for its commit.
    pub(crate) fn has_open_batch(&self) -> bool {
        let sqlite_open = match &*self.store.borrow() {
            Store::Sqlite(s) => Some(s.open_batch().is_some()),
            Store::Kv(_) => None,
        };
        sqlite_open.unwrap_or_else(|| kv_ops::busy(self))
    }

    /// End of run: let go of everything heavy. Tasks still asleep when the run ends stay
    /// referenced by madsim's timer wheel (its callbacks hold their wakers, and their
    /// sleeps hold the wheel), so this object may outlive the run; its database must not.
    pub(crate) fn teardown(&self) {
        let instance = self.instance.borrow_mut().take();
        drop(instance);
        self.live.borrow_mut().clear();
        self.output.borrow_mut().waiters.clear();
        let _ = self.gate.borrow_mut().reset();
        *self.store.borrow_mut() = Store::Kv(KvStore::new());
        self.sockets.borrow_mut().clear();
        *self.alarm_driver.borrow_mut() = None;
        *self.socket_driver.borrow_mut() = None;
    }
}

/// Future of [`ObjectCore::wait_durable`].
pub(crate) struct DurableWait {
    core: Rc<ObjectCore>,
    incarnation: u64,
    needed: u64,
}

impl Future for DurableWait {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.core.incarnation() != self.incarnation {
            return Poll::Ready(Err(self.core.reset_error()));
        }
        let mut out = self.core.output.borrow_mut();
        if out.durable >= self.needed {
            return Poll::Ready(Ok(()));
        }
        out.waiters.push(cx.waker().clone());
        Poll::Pending
    }
}

/// A short list for trace lines: the first few items, then a count.
pub(crate) fn summarize(items: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", … {} more", items.len() - SHOWN));
    }
    s
}
