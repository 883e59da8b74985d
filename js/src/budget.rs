//! What a JavaScript engine may spend: steps per turn and per run (counted through the
//! engine's interrupt handler, so the same seed stops at the same step) and bytes of
//! memory (counted by the engine's allocator). An overrun interrupts the code at once;
//! the instance whose code ran reports it, and its isolate is condemned (see `Instance::enter`).

use dosim_sim::budget::{Budgets, JS_STEPS_PER_CHECK};
use rquickjs::allocator::{Allocator, RustAllocator};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

thread_local! {
    /// Set while the engine running on this thread is out of budget: the microtask loop
    /// stops too (each check interrupts one job, and a chain of jobs could outrun that).
    static INTERRUPTED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the engine running on this thread ran out of budget.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.with(Cell::get)
}

/// A JavaScript engine whose steps and memory count against `budgets`: its allocator is
/// metered, and its interrupt handler asks the meter. Returns the engine and its meter.
pub(crate) fn metered_runtime(
    budgets: &Budgets,
    run: Rc<RunSteps>,
    abandon: Arc<AtomicBool>,
) -> rquickjs::Result<(rquickjs::Runtime, Rc<Meter>)> {
    let memory = Memory::new(budgets.js_memory_bytes);
    let meter = Rc::new(Meter::new(budgets, run, abandon, memory.clone()));
    let runtime = rquickjs::Runtime::new_with_alloc(Metered(memory))?;
    let checking = meter.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || checking.check())));
    Ok((runtime, meter))
}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overrun {
    /// Steps in one turn (`js-turn-steps`).
    Turn,
    /// Steps in the whole run (`js-run-steps`).
    Run,
    /// Bytes of the engine (`js-memory`).
    Memory,
    /// The watchdog asked the run to end.
    Watchdog,
}

/// Steps the run's engines took together (a world extension).
#[derive(Default)]
pub(crate) struct RunSteps(pub(crate) Cell<u64>);

/// One engine's meter: its steps in the current turn, the run's total, its memory.
pub(crate) struct Meter {
    turn: Cell<u64>,
    turn_limit: u64,
    run: Rc<RunSteps>,
    run_limit: u64,
    abandon: Arc<AtomicBool>,
    memory: Rc<Memory>,
    over: Cell<Option<Overrun>>,
    reported: Cell<bool>,
}

impl Meter {
    pub(crate) fn new(budgets: &Budgets, run: Rc<RunSteps>, abandon: Arc<AtomicBool>, memory: Rc<Memory>) -> Meter {
        Meter {
            turn: Cell::new(0),
            turn_limit: budgets.js_turn_steps.div_ceil(JS_STEPS_PER_CHECK),
            run,
            run_limit: budgets.js_run_steps.div_ceil(JS_STEPS_PER_CHECK),
            abandon,
            memory,
            over: Cell::new(None),
            reported: Cell::new(false),
        }
    }

    /// The engine's interrupt check (every [`JS_STEPS_PER_CHECK`] steps): `true` stops
    /// the code with an uncatchable error. Once a budget ran out, every later check says
    /// so too, until the isolate is gone.
    pub(crate) fn check(&self) -> bool {
        if self.over.get().is_some() {
            return true;
        }
        let turn = self.turn.get() + 1;
        self.turn.set(turn);
        let run = self.run.0.get() + 1;
        self.run.0.set(run);
        let over = if self.memory.refused.get() {
            Some(Overrun::Memory)
        } else if self.abandon.load(Ordering::Relaxed) {
            Some(Overrun::Watchdog)
        } else if run > self.run_limit {
            Some(Overrun::Run)
        } else if turn > self.turn_limit {
            Some(Overrun::Turn)
        } else {
            None
        };
        self.over.set(over);
        INTERRUPTED.with(|i| i.set(over.is_some()));
        over.is_some()
    }

    /// A new turn begins (unless a budget already ran out).
    pub(crate) fn new_turn(&self) {
        if self.over.get().is_none() {
            self.turn.set(0);
        }
        INTERRUPTED.with(|i| i.set(self.over.get().is_some() || self.memory.refused.get()));
    }

    /// The budget that ran out, the first time it is asked (memory as soon as an
    /// allocation was refused): each overrun is reported once.
    pub(crate) fn take_overrun(&self) -> Option<Overrun> {
        if self.memory.refused.get() && self.over.get().is_none() {
            self.over.set(Some(Overrun::Memory));
        }
        match self.over.get() {
            Some(o) if !self.reported.replace(true) => Some(o),
            _ => None,
        }
    }
}

/// An engine's memory: bytes in use and the limit; `refused` once an allocation failed.
pub(crate) struct Memory {
    used: Cell<usize>,
    limit: usize,
    refused: Cell<bool>,
}

impl Memory {
    pub(crate) fn new(limit: u64) -> Rc<Memory> {
        Rc::new(Memory {
            used: Cell::new(0),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            refused: Cell::new(false),
        })
    }

    fn admit(&self, more: usize, less: usize) -> bool {
        let next = self.used.get().saturating_sub(less).saturating_add(more);
        if next > self.limit {
            // The engine's code stops at its next check, and so do its microtasks.
            self.refused.set(true);
            INTERRUPTED.with(|i| i.set(true));
            return false;
        }
        true
    }
}

/// The engine's allocator: Rust's, with every block's size counted against the limit.
/// Sizes are the requested ones (rounded), so the count is the same in every process.
pub(crate) struct Metered(pub(crate) Rc<Memory>);

// SAFETY: every block comes from `RustAllocator` and goes back to it; sizes are read from
// its own header (`usable_size`).
unsafe impl Allocator for Metered {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.admit(size, 0) {
            return std::ptr::null_mut();
        }
        let p = RustAllocator.alloc(size);
        if !p.is_null() {
            // SAFETY: just allocated by RustAllocator.
            self.0.used.set(self.0.used.get() + unsafe { RustAllocator::usable_size(p) });
        }
        p
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else { return std::ptr::null_mut() };
        if !self.0.admit(total, 0) {
            return std::ptr::null_mut();
        }
        let p = RustAllocator.calloc(count, size);
        if !p.is_null() {
            // SAFETY: just allocated by RustAllocator.
            self.0.used.set(self.0.used.get() + unsafe { RustAllocator::usable_size(p) });
        }
        p
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: `ptr` came from this allocator, i.e. from RustAllocator.
        let size = unsafe { RustAllocator::usable_size(ptr) };
        self.0.used.set(self.0.used.get().saturating_sub(size));
        // SAFETY: as above.
        unsafe { RustAllocator.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: a non-null `ptr` came from RustAllocator.
        let old = if ptr.is_null() { 0 } else { unsafe { RustAllocator::usable_size(ptr) } };
        if !self.0.admit(new_size, old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let p = unsafe { RustAllocator.realloc(ptr, new_size) };
        if !p.is_null() {
            // SAFETY: just (re)allocated by RustAllocator.
            let new = unsafe { RustAllocator::usable_size(p) };
            self.0.used.set(self.0.used.get().saturating_sub(old) + new);
        }
        p
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller passes a block of this allocator.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
