//! `examples/rust-counter` as its user meets it, end to end: a copy of the crate outside
//! this repository, depending on dosim by path as an outside crate does by git, runs
//! `cargo test` (passes), `cargo test --features planted-bug` (fails, naming the seed and
//! the replay command, and saving a regression file), the printed replay command (one
//! seed, with its trace), the failing command again (the saved case fails first), and
//! `cargo test` without the bug (the saved case replays and passes). It builds into this
//! workspace's target folder, whose compiled dependencies it shares.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The example crate, copied into a fresh folder with its dosim dependency pointing here.
fn copy_example(to: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let from = repo.join("examples/rust-counter");
    for rel in ["Cargo.lock", ".cargo/config.toml", "src/lib.rs", "tests/tickets.rs"] {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), &dest).unwrap_or_else(|e| panic!("copy {rel}: {e}"));
    }
    let manifest = std::fs::read_to_string(from.join("Cargo.toml")).unwrap();
    let dep = r#"dosim = { path = "../.." }"#;
    assert!(manifest.contains(dep), "the example depends on dosim by path: {dep}");
    let here = format!("dosim = {{ path = {:?} }}", repo.display().to_string());
    std::fs::write(to.join("Cargo.toml"), manifest.replace(dep, &here)).unwrap();
}

/// Runs `sh -c line` in `dir`; (exit success, stdout and stderr).
fn sh(dir: &Path, line: &str) -> (bool, String) {
    let target: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", line]).current_dir(dir).env("CARGO_TARGET_DIR", target).env("RUST_BACKTRACE", "0");
    for var in ["DOSIM_SEED", "DOSIM_SEEDS", "DOSIM_TIME", "DOSIM_BASE_SEED", "DOSIM_SHRINK", "RUSTFLAGS"] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("sh runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_example_crate_passes_fails_with_its_planted_bug_and_replays() {
    if Command::new(cargo()).arg("--version").output().is_err() {
        eprintln!("skipped: cargo is not available");
        return;
    }
    let dir = std::env::temp_dir().join(format!("dosim-user-crate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_example(&dir);
    let cargo = cargo();

    let (ok, out) = sh(&dir, &format!("{cargo} test"));
    assert!(ok && out.contains("test every_ticket_is_handed_out_once ... ok"), "{out}");

    let (ok, out) = sh(&dir, &format!("{cargo} test --features planted-bug"));
    assert!(!ok, "the planted bug is found: {out}");
    let seed = out
        .split("failed on seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no seed in: {out}"));
    let replay = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: "))
        .unwrap_or_else(|| panic!("no replay command in: {out}"))
        .to_owned();
    assert_eq!(
        replay,
        format!(
            "DOSIM_SEED={seed} cargo test -p rust-counter --features planted-bug --test tickets \
             -- --exact every_ticket_is_handed_out_once"
        )
    );
    let saved = dir.join("dosim-regressions/tickets.every_ticket_is_handed_out_once.json");
    assert!(saved.exists(), "{out}");

    // The printed command, as a user pastes it: one seed, its trace, the same failure.
    let (ok, out) = sh(&dir, &replay.replacen("cargo", &cargo, 1));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("dosim: seed {seed}: FAIL: [invariant]")), "{out}");
    assert!(out.contains("invoke #0"), "the trace is printed: {out}");
    assert!(out.contains("1 passed") || out.contains("1 failed"), "exactly the one test ran: {out}");

    // The next run replays the saved case first.
    let (ok, out) = sh(&dir, &format!("{cargo} test --features planted-bug"));
    assert!(!ok && out.contains("still fails saved case 1"), "{out}");

    // Without the bug the saved case passes, and so does the test.
    let (ok, out) = sh(&dir, &format!("{cargo} test"));
    assert!(ok && out.contains("test every_ticket_is_handed_out_once ... ok"), "{out}");
    assert!(saved.exists(), "a saved case is kept as a regression test");
    let _ = std::fs::remove_dir_all(&dir);
}
