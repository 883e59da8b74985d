//! Where runs execute. By default every run gets a fresh OS thread ([`crate::run`]); a
//! *run host* (a long-lived thread dosim's own pools start, see [`spawn_host`]) runs them
//! on itself instead, which saves a thread's start and exit (a third of a short run's
//! cost on a 2-core machine: the exit's unmapping and the wake-up cost cross-CPU
//! interrupts).
//!
//! What a fresh thread gives a run and a reused one does not: std's `HashMap` keys, which
//! are per thread (madsim seeds them from the run seed when the thread is new), and any
//! other thread-local state. So only dosim's own pools host, and only dosim's own code
//! runs there: the built-in models and the JavaScript host, which keep order-bearing state
//! in `BTreeMap`s and insertion-ordered maps, never in a `HashMap`'s order (a user's Rust
//! objects run through `check_*` on their test's threads, which never host). That this
//! holds is checked, not assumed: `tests/run_hosts.rs` runs every built-in scenario hosted
//! and on fresh threads and compares traces, and `--check-determinism` (on in CI) repeats
//! its sample of seeds on a fresh thread. The watchdog of a hosted run is a shared thread
//! that raises the run's stop flag, at which built-in and JavaScript objects both stop.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Name of the threads runs execute on (the panic hook keeps them quiet).
pub(crate) const RUN_THREAD: &str = "dosim-run";

/// Stack of a run's thread: fixed (not `RUST_MIN_STACK`'s), and roomy enough for object
/// code that recurses, JavaScript engines included (the JS host limits its engines to a
/// fraction of it).
pub const RUN_THREAD_STACK: usize = 8 * 1024 * 1024;

/// Where runs execute, for [`crate::run`]'s callers that can host (`DOSIM_RUN_THREADS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunThreads {
    /// A run host runs its runs itself (the default).
    Reuse,
    /// Every run gets a fresh thread, as outside a host.
    Fresh,
}

impl RunThreads {
    /// `DOSIM_RUN_THREADS=fresh|reuse`; reuse when unset. Anything else is refused by the
    /// CLI before a run starts (see [`RunThreads::parse`]).
    pub fn from_env() -> RunThreads {
        std::env::var("DOSIM_RUN_THREADS").ok().and_then(|v| RunThreads::parse(&v).ok()).unwrap_or(RunThreads::Reuse)
    }

    pub fn parse(text: &str) -> Result<RunThreads, String> {
        match text {
            "reuse" => Ok(RunThreads::Reuse),
            "fresh" => Ok(RunThreads::Fresh),
            other => Err(format!("DOSIM_RUN_THREADS={other:?}: expected reuse or fresh")),
        }
    }
}

thread_local! {
    /// Set on a run host; cleared if a run on it ended in a panic (its thread-local state
    /// is then not trusted, and later runs take fresh threads).
    static HOST: Cell<bool> = const { Cell::new(false) };
}

/// Starts a run host: a thread with a run thread's name and stack, whose runs (through
/// `check` and [`crate::run::run_repeatable`]) execute on it.
pub fn spawn_host<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new().name(RUN_THREAD.into()).stack_size(RUN_THREAD_STACK).spawn_scoped(scope, move || {
        HOST.with(|h| h.set(RunThreads::from_env() == RunThreads::Reuse));
        f()
    })
}

/// Runs `f` on a new run host and returns what it returns (for one-off measurements).
pub fn on_host<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match spawn_host(s, f) {
        Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        Err(e) => panic!("dosim could not start a run host: {e}"),
    })
}

/// Whether a run may execute on this thread now.
pub(crate) fn hosting() -> bool {
    HOST.with(Cell::get)
}

/// This host's runs take fresh threads from now on (its thread-local state is suspect).
pub(crate) fn retire_host() {
    HOST.with(|h| h.set(false));
}

/// Runs `f` with this thread's runs on fresh threads (a determinism check compares a
/// hosted run with the fresh-thread run of the same seed).
pub fn on_fresh_threads<T>(f: impl FnOnce() -> T) -> T {
    let was = HOST.with(|h| h.replace(false));
    let out = f();
    HOST.with(|h| h.set(was));
    out
}

/// A hosted run under the shared watchdog; dropping it ends the watch.
pub(crate) struct Watched {
    id: Option<u64>,
}

struct Watch {
    deadline: Instant,
    stop: Arc<AtomicBool>,
}

fn watches() -> &'static Mutex<BTreeMap<u64, Watch>> {
    static WATCHES: OnceLock<Mutex<BTreeMap<u64, Watch>>> = OnceLock::new();
    WATCHES.get_or_init(|| {
        // One thread for every hosted run of the process; it looks four times a second,
        // so a run's start and end cost a lock, not a wake-up.
        let spawned = std::thread::Builder::new().name("dosim-watchdog".into()).spawn(|| loop {
            std::thread::sleep(Duration::from_millis(250));
            // Wall-clock by design, outside every simulation: it only raises a run's stop
            // flag, and the finding that follows says it is not reproducible.
            let now = Instant::now();
            let map = watches().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for w in map.values().filter(|w| now >= w.deadline) {
                w.stop.store(true, Ordering::Relaxed);
            }
        });
        if let Err(e) = spawned {
            eprintln!("warning: dosim could not start its watchdog thread: {e}");
        }
        Mutex::new(BTreeMap::new())
    })
}

impl Watched {
    /// Raises `stop` once `limit` of wall-clock time has passed (never if zero).
    pub(crate) fn start(limit: Duration, stop: Arc<AtomicBool>) -> Watched {
        if limit.is_zero() {
            return Watched { id: None };
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // Wall-clock by design (see `watches`); nothing inside the run reads it.
        let deadline = Instant::now() + limit;
        watches().lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, Watch { deadline, stop });
        Watched { id: Some(id) }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            watches().lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        }
    }
}
