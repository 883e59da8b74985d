//! The KV-backed ("legacy") back-end's state (SEMANTICS.md §3.2): a write-back cache in
//! front of a durable map that stands in for the remote storage service. Writes land in
//! the cache at once and are flushed in numbered batches, one flush at a time; reads that
//! miss the cache go to storage. Pure bookkeeping: the timing lives in `storage::kv_ops`.

use super::sqlite::Range;
use std::collections::{BTreeMap, BTreeSet};

/// A cached key: its value (`None` = known absent) and the batch that will write it.
#[derive(Debug, Clone)]
struct Entry {
    value: Option<Vec<u8>>,
    dirty: Option<u64>,
}

/// Keys of one counted delete and, once its flush lands, how many existed.
#[derive(Debug)]
pub(crate) struct CountedDelete {
    pub batch: u64,
    pub keys: Vec<Vec<u8>>,
    pub count: Option<usize>,
}

/// The batch a flush writes: final values only (`None` = delete).
pub(crate) struct FlushBatch {
    pub no: u64,
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The alarm the batch sets or deletes, if it changes it.
    pub alarm: Option<Option<u64>>,
}

#[derive(Default)]
pub(crate) struct KvStore {
    durable: BTreeMap<Vec<u8>, Vec<u8>>,
    cache: BTreeMap<Vec<u8>, Entry>,
    open: Option<u64>,
    flushing: Option<FlushBatch>,
    next_batch: u64,
    reads: BTreeSet<u64>,
    next_read: u64,
    counted: Vec<std::rc::Rc<std::cell::RefCell<CountedDelete>>>,
    /// `transaction()`s running (their writes wait in the transaction's overlay).
    pub txn_depth: usize,
    /// The alarm storage holds.
    alarm: Option<u64>,
    /// An alarm change waiting in a batch: (value, batch).
    alarm_dirty: Option<(Option<u64>, u64)>,
}

/// What a write did to the batches.
pub(crate) struct WriteEffect {
    /// The write changed something (an identical re-put does not).
    pub changed: bool,
    /// The number of a batch this write opened (its flush must be scheduled).
    pub opened: Option<u64>,
}

impl KvStore {
    pub fn new() -> Self {
        KvStore { next_batch: 1, ..Default::default() }
    }

    /// The cached state of `key`: `Some(None)` is known absent, `None` is not cached.
    pub fn cached(&self, key: &[u8]) -> Option<Option<&Vec<u8>>> {
        self.cache.get(key).map(|e| e.value.as_ref())
    }

    /// What storage holds for `key` (what a cache miss will read).
    pub fn stored(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.durable.get(key).cloned()
    }

    /// A read that goes to storage starts; writes flushed after now wait for it.
    pub fn begin_read(&mut self) -> u64 {
        self.next_read += 1;
        self.reads.insert(self.next_read);
        self.next_read
    }

    /// The read finished; what it read is cached unless written meanwhile (or `no_cache`).
    /// A read a crash cancelled (no longer in `reads`) caches nothing: what it read was
    /// decided before the crash, and a `list` reads the dead instance's unflushed writes
    /// through its cache, so caching them would show the next instance writes that were
    /// rolled back, as if stored (and drop its re-writes of them as redundant).
    pub fn end_read(&mut self, seq: u64, fills: Vec<(Vec<u8>, Option<Vec<u8>>)>, no_cache: bool) {
        if !self.reads.remove(&seq) || no_cache {
            return;
        }
        for (k, v) in fills {
            self.cache.entry(k).or_insert(Entry { value: v, dirty: None });
        }
    }

    /// Whether a read started at or before `barrier` is still in flight.
    pub fn reads_pending_before(&self, barrier: u64) -> bool {
        self.reads.first().is_some_and(|first| *first <= barrier)
    }

    /// The newest read sequence number handed out.
    pub fn read_barrier(&self) -> u64 {
        self.next_read
    }

    /// The batch collecting writes, opened if none is: (its number, the number again if
    /// it was just opened and its flush must be scheduled).
    fn collecting_batch(&mut self) -> (u64, Option<u64>) {
        match self.open {
            Some(no) => (no, None),
            None => {
                let no = self.next_batch;
                self.next_batch += 1;
                self.open = Some(no);
                (no, Some(no))
            }
        }
    }

    /// Applies a put (`Some`) or delete (`None`) to the cache and the open batch.
    pub fn write(&mut self, key: &[u8], value: Option<Vec<u8>>) -> WriteEffect {
        if let Some(e) = self.cache.get(key) {
            // Redundant writes are dropped: the same value again, or deleting a known absence.
            if e.value == value {
                return WriteEffect { changed: false, opened: None };
            }
        }
        let (no, opened) = self.collecting_batch();
        self.cache.insert(key.to_vec(), Entry { value, dirty: Some(no) });
        WriteEffect { changed: true, opened }
    }

    /// A delete whose count the cache cannot answer: it rides with the open batch.
    pub fn counted_delete(
        &mut self,
        keys: Vec<Vec<u8>>,
    ) -> (std::rc::Rc<std::cell::RefCell<CountedDelete>>, Option<u64>) {
        let mut opened = None;
        for k in &keys {
            let e = self.write(k, None);
            opened = opened.or(e.opened);
        }
        // Even if every key was a known absence, a batch is needed to answer the count.
        let (batch, new) = self.collecting_batch();
        opened = opened.or(new);
        let cd = std::rc::Rc::new(std::cell::RefCell::new(CountedDelete { batch, keys, count: None }));
        self.counted.push(cd.clone());
        (cd, opened)
    }

    /// The alarm as the object sees it (pending changes included).
    pub fn alarm(&self) -> Option<u64> {
        self.alarm_dirty.map_or(self.alarm, |(v, _)| v)
    }

    /// Sets (or deletes) the alarm in the open batch; returns a batch it opened.
    pub fn set_alarm(&mut self, time: Option<u64>) -> Option<u64> {
        let (no, opened) = self.collecting_batch();
        self.alarm_dirty = Some((time, no));
        opened
    }

    /// Whether a `transaction()` is running.
    pub fn in_transaction(&self) -> bool {
        self.txn_depth > 0
    }

    /// Number of the batch collecting writes, if any.
    pub fn open_batch(&self) -> Option<u64> {
        self.open
    }

    /// Whether a flush is in flight.
    pub fn flushing(&self) -> bool {
        self.flushing.is_some()
    }

    /// Takes the open batch for flushing: from now on new writes open the next batch.
    pub fn start_flush(&mut self) -> Option<(u64, usize)> {
        let no = self.open.take()?;
        let writes: Vec<_> =
            self.cache.iter().filter(|(_, e)| e.dirty == Some(no)).map(|(k, e)| (k.clone(), e.value.clone())).collect();
        let alarm = self.alarm_dirty.filter(|(_, b)| *b == no).map(|(v, _)| v);
        let n = writes.len() + usize::from(alarm.is_some());
        self.flushing = Some(FlushBatch { no, writes, alarm });
        Some((no, n))
    }

    /// The flush landed: storage takes the whole batch at once, counted deletes get their
    /// counts, and the entries it wrote become clean.
    pub fn finish_flush(&mut self) -> Option<FlushBatch> {
        let batch = self.flushing.take()?;
        for cd in &self.counted {
            let mut cd = cd.borrow_mut();
            if cd.batch == batch.no {
                cd.count = Some(cd.keys.iter().filter(|k| self.durable.contains_key(*k)).count());
            }
        }
        self.counted.retain(|cd| cd.borrow().batch != batch.no);
        if let Some(a) = batch.alarm {
            self.alarm = a;
            if self.alarm_dirty.is_some_and(|(_, b)| b == batch.no) {
                self.alarm_dirty = None;
            }
        }
        for (k, v) in &batch.writes {
            match v {
                Some(v) => self.durable.insert(k.clone(), v.clone()),
                None => self.durable.remove(k),
            };
            if let Some(e) = self.cache.get_mut(k) {
                if e.dirty == Some(batch.no) {
                    e.dirty = None;
                }
            }
        }
        Some(batch)
    }

    /// A flush attempt failed transiently: the retry writes the *current* dirty set, so
    /// the batch collecting writes meanwhile is folded into the one in flight (SEMANTICS.md
    /// T16). Returns the number of the batch folded in.
    pub fn refresh_flush(&mut self) -> Option<u64> {
        let target = self.flushing.as_ref()?.no;
        let absorbed = self.open.take()?;
        for e in self.cache.values_mut() {
            if e.dirty == Some(absorbed) {
                e.dirty = Some(target);
            }
        }
        if let Some((_, b)) = self.alarm_dirty.as_mut() {
            if *b == absorbed {
                *b = target;
            }
        }
        for cd in &self.counted {
            let mut cd = cd.borrow_mut();
            if cd.batch == absorbed {
                cd.batch = target;
            }
        }
        let writes =
            self.cache.iter().filter(|(_, e)| e.dirty == Some(target)).map(|(k, e)| (k.clone(), e.value.clone()));
        let writes = writes.collect();
        let alarm = self.alarm_dirty.filter(|(_, b)| *b == target).map(|(v, _)| v);
        if let Some(f) = self.flushing.as_mut() {
            f.writes = writes;
            f.alarm = alarm;
        }
        Some(absorbed)
    }

    /// The flush failed for good: nothing of it reaches storage.
    pub fn abandon_flush(&mut self) -> Option<FlushBatch> {
        self.flushing.take()
    }

    /// Crash: the cache and the unflushed batch are gone. A flush in flight either landed
    /// before the crash or never reached storage (`land_in_flight`), never half of it.
    pub fn crash(&mut self, land_in_flight: bool) -> (Option<u64>, Option<FlushBatch>) {
        let landed = if land_in_flight {
            self.finish_flush()
        } else {
            self.abandon_flush();
            None
        };
        let lost = self.open.take();
        self.alarm_dirty = None;
        self.cache.clear();
        self.reads.clear();
        self.counted.clear();
        (lost, landed)
    }

    /// Entries in `range`: storage merged with the cache (dirty writes win, known
    /// absences hide), in key order or reverse, `limit` counting present entries only.
    pub fn list(&self, range: &Range) -> Vec<(Vec<u8>, Vec<u8>)> {
        let within =
            |k: &[u8]| range.start.as_deref().is_none_or(|s| k >= s) && range.end.as_deref().is_none_or(|e| k < e);
        let mut merged: BTreeMap<&[u8], Option<&Vec<u8>>> =
            self.durable.iter().filter(|(k, _)| within(k)).map(|(k, v)| (k.as_slice(), Some(v))).collect();
        for (k, e) in self.cache.iter().filter(|(k, _)| within(k)) {
            merged.insert(k.as_slice(), e.value.as_ref());
        }
        let present = merged.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_vec(), v.clone())));
        let limit = range.limit.map_or(usize::MAX, |l| l as usize);
        if range.reverse {
            present.rev().take(limit).collect()
        } else {
            present.take(limit).collect()
        }
    }

    /// Every key storage or the cache knows of (for `delete_all`).
    pub fn all_keys(&self) -> Vec<Vec<u8>> {
        let mut keys: BTreeSet<Vec<u8>> = self.durable.keys().cloned().collect();
        keys.extend(self.cache.iter().filter(|(_, e)| e.value.is_some()).map(|(k, _)| k.clone()));
        keys.into_iter().collect()
    }

    /// Keys the cache holds as clean (no batch will write them) with a value storage does
    /// not hold. Always empty in a sound cache: a write of the cached value again is
    /// dropped as redundant, so a reply after it would acknowledge state no batch commits.
    pub fn incoherent(&self) -> Vec<Vec<u8>> {
        let clean = self.cache.iter().filter(|(_, e)| e.dirty.is_none());
        clean.filter(|(k, e)| self.durable.get(*k) != e.value.as_ref()).map(|(k, _)| k.clone()).collect()
    }

    /// What storage holds (the durable state).
    pub fn durable(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.durable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn identical_reput_is_dropped_and_last_write_wins() {
        let mut s = KvStore::new();
        assert_eq!(s.write(&k("a"), Some(k("1"))).opened, Some(1));
        assert!(s.write(&k("a"), Some(k("2"))).changed);
        assert!(!s.write(&k("a"), Some(k("2"))).changed);
        let (no, n) = s.start_flush().unwrap();
        assert_eq!((no, n), (1, 1));
        s.finish_flush();
        assert_eq!(s.durable().get(&k("a")), Some(&k("2")));
        assert!(!s.write(&k("a"), Some(k("2"))).changed, "clean identical value");
    }

    #[test]
    fn writes_during_a_flush_go_to_the_next_batch() {
        let mut s = KvStore::new();
        s.write(&k("foo"), Some(k("1")));
        s.write(&k("bar"), Some(k("1")));
        s.start_flush();
        assert_eq!(s.write(&k("bar"), Some(k("2"))).opened, Some(2));
        let first = s.finish_flush().unwrap();
        assert_eq!(first.writes.len(), 2);
        assert_eq!(s.durable().get(&k("bar")), Some(&k("1")));
        assert_eq!(s.cached(&k("bar")), Some(Some(&k("2"))));
        let (no, n) = s.start_flush().unwrap();
        assert_eq!((no, n), (2, 1));
    }

    #[test]
    fn counted_delete_counts_what_storage_had() {
        let mut s = KvStore::new();
        s.write(&k("a"), Some(k("1")));
        s.start_flush();
        s.finish_flush();
        let mut cold = KvStore { durable: s.durable().clone(), next_batch: 5, ..Default::default() };
        let (cd, opened) = cold.counted_delete(vec![k("a"), k("b")]);
        assert!(opened.is_some());
        assert_eq!(cold.cached(&k("a")), Some(None), "reads see the delete at once");
        cold.start_flush();
        cold.finish_flush();
        assert_eq!(cd.borrow().count, Some(1));
        assert!(cold.durable().is_empty());
    }

    #[test]
    fn list_merges_cache_over_storage_and_limits_present_entries() {
        let mut s = KvStore::new();
        for key in ["bar", "baz", "foo"] {
            s.write(&k(key), Some(k("x")));
        }
        s.start_flush();
        s.finish_flush();
        s.write(&k("baz"), None);
        s.write(&k("corge"), Some(k("y")));
        let r = Range { start: Some(k("bar")), end: Some(k("qux")), reverse: false, limit: Some(3) };
        let keys: Vec<_> = s.list(&r).into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect();
        assert_eq!(keys, ["bar", "corge", "foo"]);
    }

    #[test]
    fn a_read_cancelled_by_a_crash_caches_nothing() {
        let mut s = KvStore::new();
        s.write(&k("a"), Some(k("1")));
        // A list in flight read the unflushed write through the cache.
        let seq = s.begin_read();
        let fills = s.list(&Range { start: None, end: None, reverse: false, limit: None });
        assert_eq!(fills, [(k("a"), k("1"))]);
        s.crash(false);
        s.end_read(seq, fills.into_iter().map(|(k, v)| (k, Some(v))).collect(), false);
        assert_eq!(s.cached(&k("a")), None, "a rolled-back write came back as stored");
        assert!(s.incoherent().is_empty());
        // So the next instance's write of the same value is a real write, in a batch.
        assert!(s.write(&k("a"), Some(k("1"))).changed);
    }

    #[test]
    fn crash_loses_the_open_batch_and_lands_or_drops_the_flush_whole() {
        for land in [true, false] {
            let mut s = KvStore::new();
            s.write(&k("a"), Some(k("1")));
            s.start_flush();
            s.write(&k("b"), Some(k("2")));
            let (lost, landed) = s.crash(land);
            assert_eq!(lost, Some(2));
            assert_eq!(landed.is_some(), land);
            assert_eq!(s.durable().contains_key(&k("a")), land);
            assert!(!s.durable().contains_key(&k("b")));
        }
    }
}
