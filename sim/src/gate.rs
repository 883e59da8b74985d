//! The input gate (SEMANTICS.md §1): which strand of work may start a turn inside an
//! object. Pure bookkeeping, no futures: critical sections (innermost wins), the hand-back
//! to a critical section's caller, storage operations that hold the gate, and a FIFO of
//! strands that are ready but blocked.

use std::collections::{BTreeMap, VecDeque};
use std::task::Waker;

/// One strand of work inside an object: an event (request, constructor, critical
/// section) and every continuation of it. Numbered per run, in creation order.
pub type StrandId = u64;

/// Why a strand may not enter right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// A critical section of another strand is running.
    CriticalSection(StrandId),
    /// A finished critical section hands the gate back to its caller first.
    HandBack(StrandId),
    /// A storage operation of another strand holds the gate.
    Storage(StrandId),
    /// Other strands were blocked earlier and go first (FIFO).
    Queue(StrandId),
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::CriticalSection(s) => write!(f, "critical section of s{s}"),
            Blocker::HandBack(s) => write!(f, "hand-back to s{s}"),
            Blocker::Storage(s) => write!(f, "storage operation of s{s}"),
            Blocker::Queue(s) => write!(f, "s{s} queued earlier"),
        }
    }
}

/// The answer to a strand that wants to start a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Go ahead. `overridden` names what would have blocked it if the gate were enforced.
    Enter {
        /// Set only when enforcement is off and the gate would have said no.
        overridden: Option<Blocker>,
    },
    /// Wait: queued, and woken when the gate lets it in.
    Wait(Blocker),
}

#[derive(Debug, Clone, Copy)]
struct Section {
    strand: StrandId,
    parent: Option<StrandId>,
}

/// Per-object input gate state.
#[derive(Debug)]
pub struct InputGate {
    enforced: bool,
    sections: Vec<Section>,
    hand_back: Option<StrandId>,
    holds: Vec<(StrandId, u32)>,
    /// Strands whose holds another strand took over (see [`InputGate::hand_holds`]).
    heirs: BTreeMap<StrandId, StrandId>,
    waiters: VecDeque<(StrandId, Waker)>,
}

/// `blockConcurrencyWhile()` nesting limit (io-context.h L51).
pub const MAX_CRITICAL_SECTION_DEPTH: usize = 64;

impl InputGate {
    /// A gate; `enforced = false` is the tester's switch: everything enters, and what
    /// would have been blocked is reported instead.
    pub fn new(enforced: bool) -> Self {
        InputGate {
            enforced,
            sections: Vec::new(),
            hand_back: None,
            holds: Vec::new(),
            heirs: BTreeMap::new(),
            waiters: VecDeque::new(),
        }
    }

    /// What keeps `strand` out, ignoring enforcement.
    pub fn blocker(&self, strand: StrandId) -> Option<Blocker> {
        if let Some(h) = self.hand_back {
            return (h != strand).then_some(Blocker::HandBack(h));
        }
        if let Some(cs) = self.active_section() {
            return (cs != strand).then_some(Blocker::CriticalSection(cs));
        }
        if let Some((other, _)) = self.holds.iter().find(|(s, _)| *s != strand) {
            return Some(Blocker::Storage(*other));
        }
        if !self.holds.is_empty() {
            // The holder's own continuation goes ahead of the queue (it owns the lock).
            return None;
        }
        match self.waiters.front() {
            Some((first, _)) if *first != strand => Some(Blocker::Queue(*first)),
            _ => None,
        }
    }

    /// A strand that is ready asks to start a turn.
    pub fn try_enter(&mut self, strand: StrandId, waker: &Waker) -> Entry {
        let blocker = self.blocker(strand);
        if self.enforced {
            if let Some(b) = blocker {
                match self.waiters.iter_mut().find(|(s, _)| *s == strand) {
                    Some(slot) => slot.1.clone_from(waker),
                    None => self.waiters.push_back((strand, waker.clone())),
                }
                return Entry::Wait(b);
            }
        }
        self.admitted(strand);
        // With enforcement off the queue stays empty; only holds and sections can object.
        let overridden = blocker.filter(|b| !matches!(b, Blocker::Queue(_)));
        Entry::Enter { overridden }
    }

    fn admitted(&mut self, strand: StrandId) {
        if let Some(pos) = self.waiters.iter().position(|(s, _)| *s == strand) {
            self.waiters.remove(pos);
        }
        if self.hand_back == Some(strand) {
            self.hand_back = None;
        }
    }

    /// Wakes the first waiter if the gate would now let it in.
    pub fn wake_next(&self) {
        if let Some((first, waker)) = self.waiters.front() {
            if self.blocker(*first).is_none() {
                waker.wake_by_ref();
            }
        }
    }

    /// A strand finished or was dropped: it no longer waits, holds or is handed back to.
    pub fn forget(&mut self, strand: StrandId) {
        self.waiters.retain(|(s, _)| *s != strand);
        self.holds.retain(|(s, _)| *s != strand);
        if self.hand_back == Some(strand) {
            self.hand_back = None;
        }
        self.sections.retain(|c| c.strand != strand);
        self.wake_next();
    }

    /// The section whose work may run: start at the earliest-opened outermost section and
    /// descend into the earliest-opened section nested in it, and so on. So nested
    /// sections run before their parent resumes, and sections opened by the same caller
    /// run one after another, in the order opened (T03).
    fn active_section(&self) -> Option<StrandId> {
        let is_section = |s: StrandId| self.sections.iter().any(|c| c.strand == s);
        let mut current = self.sections.iter().find(|c| c.parent.is_none_or(|p| !is_section(p)))?;
        while let Some(child) = self.sections.iter().find(|c| c.parent == Some(current.strand)) {
            current = child;
        }
        Some(current.strand)
    }

    /// Opens a critical section run by `strand`, called from `parent`; `false` when the
    /// nesting limit is reached (nothing is opened then).
    pub fn open_section(&mut self, strand: StrandId, parent: Option<StrandId>) -> bool {
        if self.sections.len() >= MAX_CRITICAL_SECTION_DEPTH {
            return false;
        }
        self.sections.push(Section { strand, parent });
        true
    }

    /// Closes `strand`'s critical section after success; its caller goes next if it waits.
    pub fn close_section(&mut self, strand: StrandId, parent_waiting: bool) {
        if let Some(pos) = self.sections.iter().position(|c| c.strand == strand) {
            let section = self.sections.remove(pos);
            if parent_waiting {
                self.hand_back = section.parent;
            }
        }
        self.wake_next();
    }

    /// Current critical-section depth.
    pub fn depth(&self) -> usize {
        self.sections.len()
    }

    /// The strand that owns the holds taken by `strand` now.
    fn heir(&self, mut strand: StrandId) -> StrandId {
        while let Some(&next) = self.heirs.get(&strand) {
            strand = next;
        }
        strand
    }

    /// Whether storage operations of `strand` (or of the strand that took them over) hold
    /// the gate.
    pub fn holds(&self, strand: StrandId) -> bool {
        let owner = self.heir(strand);
        self.holds.iter().any(|(s, _)| *s == owner)
    }

    /// `to` takes over the holds of `from`, now and for those `from` takes later: the
    /// storage operations a constructor or a critical section left in flight are delivered
    /// by another strand, which the gate must let in while they keep everyone else out.
    pub fn hand_holds(&mut self, from: StrandId, to: StrandId) {
        let (from, to) = (self.heir(from), self.heir(to));
        if from == to {
            return;
        }
        if let Some(pos) = self.holds.iter().position(|(s, _)| *s == from) {
            let (_, n) = self.holds.remove(pos);
            match self.holds.iter_mut().find(|(s, _)| *s == to) {
                Some(h) => h.1 += n,
                None => self.holds.push((to, n)),
            }
        }
        self.heirs.insert(from, to);
    }

    /// Whether another strand took over the holds of `strand`.
    pub fn handed(&self, strand: StrandId) -> bool {
        self.heirs.contains_key(&strand)
    }

    /// A storage operation of `strand` holds the gate until [`InputGate::release`].
    pub fn hold(&mut self, strand: StrandId) {
        let strand = self.heir(strand);
        match self.holds.iter_mut().find(|(s, _)| *s == strand) {
            Some(h) => h.1 += 1,
            None => self.holds.push((strand, 1)),
        }
    }

    /// Releases one hold of `strand`.
    pub fn release(&mut self, strand: StrandId) {
        let strand = self.heir(strand);
        if let Some(pos) = self.holds.iter().position(|(s, _)| *s == strand) {
            self.holds[pos].1 -= 1;
            if self.holds[pos].1 == 0 {
                self.holds.remove(pos);
            }
        }
        self.wake_next();
    }

    /// Everything dropped at once (crash): wakers are returned so their strands notice.
    pub fn reset(&mut self) -> Vec<Waker> {
        self.sections.clear();
        self.holds.clear();
        self.heirs.clear();
        self.hand_back = None;
        self.waiters.drain(..).map(|(_, w)| w).collect()
    }

    /// Number of strands queued at the gate.
    pub fn queued(&self) -> usize {
        self.waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn storage_hold_blocks_others_and_queue_is_fifo() {
        let mut g = InputGate::new(true);
        let (_, w) = waker();
        g.hold(1);
        assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::Storage(1)));
        assert_eq!(g.try_enter(3, &w), Entry::Wait(Blocker::Storage(1)));
        assert_eq!(g.try_enter(1, &w), Entry::Enter { overridden: None });
        g.release(1);
        assert_eq!(g.try_enter(3, &w), Entry::Wait(Blocker::Queue(2)));
        assert_eq!(g.try_enter(2, &w), Entry::Enter { overridden: None });
        assert_eq!(g.try_enter(3, &w), Entry::Enter { overridden: None });
    }

    #[test]
    fn release_wakes_only_the_first_waiter() {
        let mut g = InputGate::new(true);
        let (c2, w2) = waker();
        let (c3, w3) = waker();
        g.hold(1);
        g.try_enter(2, &w2);
        g.try_enter(3, &w3);
        g.release(1);
        assert_eq!(c2.0.load(Ordering::SeqCst), 1);
        assert_eq!(c3.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn critical_sections_nest_and_hand_back_to_the_caller() {
        let mut g = InputGate::new(true);
        let (_, w) = waker();
        assert!(g.open_section(10, Some(1)));
        assert_eq!(g.try_enter(1, &w), Entry::Wait(Blocker::CriticalSection(10)));
        assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::CriticalSection(10)));
        assert!(g.open_section(11, Some(10)));
        assert_eq!(g.try_enter(10, &w), Entry::Wait(Blocker::CriticalSection(11)));
        assert!(matches!(g.try_enter(11, &w), Entry::Enter { .. }));
        g.close_section(11, true);
        assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::HandBack(10)));
        assert!(matches!(g.try_enter(10, &w), Entry::Enter { .. }));
        g.close_section(10, true);
        // Strand 1 was queued first, but the hand-back puts the caller ahead of strand 2.
        assert!(matches!(g.try_enter(1, &w), Entry::Enter { .. }));
        assert!(matches!(g.try_enter(2, &w), Entry::Enter { .. }));
    }

    #[test]
    fn holds_handed_to_another_strand_admit_it_and_follow_their_release() {
        let mut g = InputGate::new(true);
        let (_, w) = waker();
        g.hold(100);
        g.hand_holds(100, 7);
        assert!(g.holds(100) && g.holds(7));
        assert_eq!(g.try_enter(2, &w), Entry::Wait(Blocker::Storage(7)));
        assert_eq!(g.try_enter(7, &w), Entry::Enter { overridden: None });
        // The operation still names the strand that started it when it ends.
        g.release(100);
        assert!(!g.holds(7));
        assert_eq!(g.try_enter(2, &w), Entry::Enter { overridden: None });
    }

    #[test]
    fn nesting_is_limited_to_64() {
        let mut g = InputGate::new(true);
        for s in 0..64 {
            assert!(g.open_section(s, None));
        }
        assert!(!g.open_section(64, None));
    }

    #[test]
    fn unenforced_gate_admits_and_reports() {
        let mut g = InputGate::new(false);
        let (_, w) = waker();
        g.hold(1);
        assert_eq!(g.try_enter(2, &w), Entry::Enter { overridden: Some(Blocker::Storage(1)) });
        assert_eq!(g.queued(), 0);
    }
}
