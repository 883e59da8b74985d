//! The `dosim` command.

fn main() {
    // Like any Unix filter: when the reader goes away (`dosim run ... | head`), stop
    // quietly instead of failing to print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Objects live in UTC, as on workerd: the JS host's Date already is, and this keeps
    // the host's zone out of everything else that asks the C library (SQLite's
    // 'localtime'). Set before any thread starts, and before anything reads it.
    std::env::set_var("TZ", "UTC");
    std::process::exit(dosim::cli::main());
}
