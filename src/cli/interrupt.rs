//! Interruption of `dosim fuzz`: the first SIGINT or SIGTERM only raises a flag that the
//! fuzz loop polls (it stops starting runs, lets the ones in flight finish and reports);
//! a second signal ends the process at once with status 130.

use std::sync::atomic::{AtomicU32, Ordering};

/// How many SIGINT/SIGTERM arrived since [`install`].
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

#[cfg(unix)]
extern "C" fn on_signal(_signal: libc::c_int) {
    // Only async-signal-safe work here: a lock-free atomic and `_exit`.
    if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: `_exit` is async-signal-safe; nothing is flushed or unwound, on purpose.
        unsafe { libc::_exit(EXIT_INTERRUPTED) }
    }
}

/// Routes SIGINT and SIGTERM to the flag; an error says why not (then signals keep
/// their default action: the process ends at once).
#[cfg(unix)]
pub fn install() -> Result<(), String> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed `sigaction` is a valid value to fill in; the handler only
        // touches an atomic and calls `_exit`; SA_RESTART keeps other threads' blocking
        // calls (writes, waits) from failing with EINTR.
        let failed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut()) != 0
        };
        if failed {
            return Err(format!("cannot handle signal {signal}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Elsewhere signals keep their default action.
#[cfg(not(unix))]
pub fn install() -> Result<(), String> {
    Ok(())
}

/// Whether a SIGINT or SIGTERM arrived.
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
