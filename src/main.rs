//! The `dosim` command.

fn main() {
    // Like any Unix filter: when the reader goes away (`dosim run ... | head`), stop
    // quietly instead of failing to print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(dosim::cli::main());
}
