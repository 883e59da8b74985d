//! The timing of the KV-backed back-end: reads that miss the cache and `list` take a
//! storage round trip and hold the input gate meanwhile (unless `allow_concurrency`);
//! counted deletes settle only after their flush lands; the flush task sends one batch at
//! a time, after the reads issued before it, and retries transient failures.

use super::kv::KvStore;
use super::sqlite::Range;
use super::{GateHold, ReadOptions, StorageOp, Store, WriteOptions};
use crate::error::Error;
use crate::host::ObjectCore;
use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::Duration;

/// Flush attempts after a transient failure before it counts as hard (workerd: 4).
const MAX_FLUSH_RETRIES: u32 = 4;

fn kv<R>(c: &ObjectCore, f: impl FnOnce(&mut KvStore) -> R) -> R {
    match &mut *c.store.borrow_mut() {
        Store::Kv(s) => f(s),
        Store::Sqlite(_) => unreachable!("KV operation on a SQLite-backed object"),
    }
}

/// One storage round trip, in whole milliseconds (slow storage multiplies it).
fn round_trip(c: &ObjectCore) -> Duration {
    let base = c.world.decide().between(1, 3);
    Duration::from_millis(base * c.world.fault_plan().storage_slowdown.max(1))
}

/// What a finished read puts in the cache, and whether it may (`no_cache`).
type Fills = (Vec<(Vec<u8>, Option<Vec<u8>>)>, bool);

/// Ends a storage read when dropped, so a flush never waits for a read nobody awaits.
struct ReadTicket {
    core: Weak<ObjectCore>,
    seq: u64,
    fills: Option<Fills>,
}

impl Drop for ReadTicket {
    fn drop(&mut self) {
        let Some(core) = self.core.upgrade() else { return };
        let (fills, no_cache) = self.fills.take().unwrap_or_default();
        kv(&core, |s| s.end_read(self.seq, fills, no_cache));
        core.notify_storage();
    }
}

/// A read that goes to storage: decided now (reads are point-in-time), delivered after a
/// round trip, holding the gate unless `allow_concurrency`.
fn round_trip_read<T: 'static>(
    c: &Rc<ObjectCore>,
    result: T,
    fills: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    options: ReadOptions,
) -> StorageOp<T> {
    let keys: Vec<String> = fills.iter().map(|(k, _)| super::sqlite::key_text(k)).collect();
    let who = crate::strand::current_strand().map_or_else(String::new, |s| format!("s{s} "));
    let gate = if options.allow_concurrency { "gate open" } else { "holding the input gate" };
    c.world.trace(&c.label, format!("{who}reads from storage ({gate}): {}", crate::host::summarize(&keys)));
    let seq = kv(c, KvStore::begin_read);
    let ticket = ReadTicket { core: Rc::downgrade(c), seq, fills: Some((fills, options.no_cache)) };
    let hold = if options.allow_concurrency { None } else { GateHold::take(c) };
    if hold.is_some() {
        c.world.sometimes("storage read held the input gate");
    }
    let latency = round_trip(c);
    let fail = {
        let p = c.world.fault_plan().read_failure;
        c.world.decide().chance(p) || c.world.in_outage(crate::faults::Outage::Storage)
    };
    let sleep = c.world.sleep(latency);
    let (weak, inc) = (Rc::downgrade(c), c.incarnation());
    StorageOp::waiting(
        async move {
            sleep.await;
            let core = weak.upgrade().ok_or_else(Error::stale_storage)?;
            if core.incarnation() != inc {
                return Err(core.reset_error());
            }
            if fail {
                drop(ticket.fills_dropped());
                core.world.trace(&core.label, "storage read failed (injected)");
                return Err(Error::storage("Durable Object storage read failed (injected fault)."));
            }
            drop(ticket);
            Ok(result)
        },
        hold,
    )
}

impl ReadTicket {
    /// A failed read caches nothing.
    fn fills_dropped(mut self) -> Self {
        self.fills = None;
        self
    }
}

/// `get` on the KV back-end.
pub(crate) fn get(c: &Rc<ObjectCore>, keys: &[&str], options: ReadOptions) -> StorageOp<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut fills = Vec::new();
    kv(c, |s| {
        for k in keys {
            match s.cached(k.as_bytes()) {
                Some(Some(v)) => {
                    out.insert((*k).to_owned(), v.clone());
                }
                Some(None) => {}
                None => {
                    let v = s.stored(k.as_bytes());
                    if let Some(v) = &v {
                        out.insert((*k).to_owned(), v.clone());
                    }
                    fills.push((k.as_bytes().to_vec(), v));
                }
            }
        }
    });
    if fills.is_empty() {
        return StorageOp::settled(Some(c), Ok(out));
    }
    round_trip_read(c, out, fills, options)
}

/// `list` on the KV back-end: always a storage round trip. dosim does not remember which
/// ranges a list already covered, so where workerd answers a repeated list from cache in
/// the same turn, dosim takes a round trip: the values are the same, but time passes and
/// a flush may start meanwhile, splitting writes into more batches (conformance T26).
pub(crate) fn list(c: &Rc<ObjectCore>, range: Range, options: ReadOptions) -> StorageOp<Vec<(Vec<u8>, Vec<u8>)>> {
    let rows = kv(c, |s| s.list(&range));
    let fills = rows.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    round_trip_read(c, rows, fills, options)
}

/// Puts (`Some`) and deletes (`None`) whose results are already known.
pub(crate) fn write(c: &Rc<ObjectCore>, rows: Vec<(String, Option<Vec<u8>>)>, options: WriteOptions) {
    let mut opened = None;
    let mut changed = false;
    kv(c, |s| {
        for (k, v) in rows {
            let e = s.write(k.as_bytes(), v);
            opened = opened.or(e.opened);
            changed |= e.changed;
        }
    });
    if changed {
        c.note_write(!options.allow_unconfirmed);
    }
    if opened.is_some() {
        spawn_flush(c);
    }
}

/// `delete` on the KV back-end: answered at once when the cache knows every key,
/// otherwise a counted delete that settles when its flush lands (holding the gate).
pub(crate) fn delete(c: &Rc<ObjectCore>, keys: &[&str], options: WriteOptions) -> StorageOp<usize> {
    let known: Option<usize> =
        kv(c, |s| keys.iter().try_fold(0, |n, k| s.cached(k.as_bytes()).map(|v| n + usize::from(v.is_some()))));
    if let Some(n) = known {
        write(c, keys.iter().map(|k| ((*k).to_owned(), None)).collect(), options);
        return StorageOp::settled(Some(c), Ok(n));
    }
    let mut from_cache = 0;
    let uncached: Vec<Vec<u8>> = kv(c, |s| {
        keys.iter()
            .filter(|k| match s.cached(k.as_bytes()) {
                Some(v) => {
                    from_cache += usize::from(v.is_some());
                    false
                }
                None => true,
            })
            .map(|k| k.as_bytes().to_vec())
            .collect()
    });
    write(c, keys.iter().map(|k| ((*k).to_owned(), None)).collect(), options);
    let (counted, opened) = kv(c, |s| s.counted_delete(uncached));
    c.note_write(!options.allow_unconfirmed);
    if opened.is_some() {
        spawn_flush(c);
    }
    let batch = counted.borrow().batch;
    c.world.sometimes("counted delete waited for its flush");
    let hold = if options.allow_concurrency { None } else { GateHold::take(c) };
    let wait = c.wait_durable(c.incarnation(), batch);
    StorageOp::waiting(
        async move {
            wait.await?;
            let n = counted.borrow().count.unwrap_or(0);
            Ok(from_cache + n)
        },
        hold,
    )
}

/// `deleteAll()` on the KV back-end: every key deleted in the open batch.
pub(crate) fn delete_everything(c: &Rc<ObjectCore>) {
    let keys = kv(c, |s| s.all_keys());
    let rows = keys.into_iter().map(|k| (super::sqlite::key_text(&k), None)).collect();
    write(c, rows, WriteOptions::default());
}

/// Waits until `ready` holds, re-checking whenever storage changes.
fn until(c: &Rc<ObjectCore>, ready: impl Fn(&ObjectCore) -> bool) -> impl Future<Output = ()> {
    let weak = Rc::downgrade(c);
    poll_fn(move |cx| match weak.upgrade() {
        Some(core) if !ready(&core) => {
            core.wait_storage(cx.waker());
            Poll::Pending
        }
        _ => Poll::Ready(()),
    })
}

/// The flush task of a newly opened batch: one turn for other writes to join, then
/// (after any flush in flight and every earlier read) one atomic write to storage.
pub(crate) fn spawn_flush(c: &Rc<ObjectCore>) {
    let weak = Rc::downgrade(c);
    let inc = c.incarnation();
    let idle = until(c, |core| !kv(core, |s| s.flushing()));
    crate::task::spawn(&c.world, async move {
        crate::time::yield_now().await;
        idle.await;
        let Some(core) = weak.upgrade() else { return };
        if core.incarnation() != inc {
            return;
        }
        // Usually batch `no` itself; after a retry folded `no` into the flush before it,
        // whatever batch is collecting writes now.
        let Some((no, n)) = kv(&core, KvStore::start_flush) else { return };
        let barrier = kv(&core, |s| s.read_barrier());
        until(&core, move |c| !kv(c, |s| s.reads_pending_before(barrier))).await;
        let mut retries = 0;
        let mut absorbed = None;
        loop {
            core.world.sleep(round_trip(&core)).await;
            if core.incarnation() != inc {
                return; // the crash landed or dropped this flush whole
            }
            let plan = core.world.fault_plan();
            let hard = core.world.decide().chance(plan.flush_hard_failure);
            if hard || core.world.in_outage(crate::faults::Outage::Storage) {
                kv(&core, KvStore::abandon_flush);
                core.world.sometimes("object reset by a failed write");
                core.fail_write(&format!("injected: hard failure flushing batch #{no}"));
                return;
            }
            if core.world.decide().chance(plan.flush_transient_failure) {
                retries += 1;
                core.world.sometimes("flush failed transiently");
                core.world.trace(&core.label, format!("flush of batch #{no} failed (transient), attempt {retries}"));
                if retries > MAX_FLUSH_RETRIES {
                    kv(&core, KvStore::abandon_flush);
                    core.fail_write(&format!("flush of batch #{no} failed {retries} times"));
                    return;
                }
                absorbed = kv(&core, KvStore::refresh_flush).or(absorbed);
                continue;
            }
            break;
        }
        core.flushed(no, n);
        if let Some(later) = absorbed {
            // Writes folded in from the next batch are durable too: their replies may go.
            let mut out = core.output.borrow_mut();
            out.durable = out.durable.max(later);
            drop(out);
            core.notify_storage();
        }
    });
}

/// Result of a completed flush, for `ObjectCore::flushed`: the keys written and the alarm
/// change it carried.
pub(crate) fn finish(core: &ObjectCore) -> Option<(Vec<String>, Option<Option<u64>>)> {
    kv(core, KvStore::finish_flush)
        .map(|b| (b.writes.iter().map(|(k, _)| super::sqlite::key_text(k)).collect(), b.alarm))
}

/// What a crash does to the KV state: drop the cache and the open batch; a flush in
/// flight lands or not, as drawn. Returns (lost batch, landed batch).
/// What a crash left: the batch lost, and a flush in flight that landed (with the alarm
/// change it carried).
pub(crate) type CrashEffect = (Option<u64>, Option<(u64, Option<Option<u64>>)>);

pub(crate) fn crash(core: &ObjectCore) -> CrashEffect {
    let in_flight = kv(core, |s| s.flushing());
    let land = in_flight && core.world.decide().chance(500);
    let (lost, landed) = kv(core, |s| s.crash(land));
    (lost, landed.map(|b| (b.no, b.alarm)))
}

/// Committed KV state.
pub(crate) fn durable(core: &ObjectCore) -> BTreeMap<Vec<u8>, Vec<u8>> {
    kv(core, |s| s.durable().clone())
}

/// Keys the cache holds as stored that storage does not hold (see `KvStore::incoherent`).
pub(crate) fn incoherent(core: &ObjectCore) -> Vec<String> {
    kv(core, |s| s.incoherent().iter().map(|k| super::sqlite::key_text(k)).collect())
}

/// Whether writes are waiting for (or in) a flush.
pub(crate) fn busy(core: &ObjectCore) -> bool {
    kv(core, |s| s.open_batch().is_some() || s.flushing())
}
