//! Interrupting `dosim fuzz`: a first SIGINT/SIGTERM stops it with the summary of the runs
//! made and the failures found saved; a second one ends it at once. Each test waits for
//! the run's first progress line (so the handler is in place), signals it, and gives it
//! at most 30 s to end: "does not hang", never a timing.

#![cfg(unix)]

use dosim::scenarios::workload::generate;
use dosim::sim::FaultPolicy;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A fuzz run, once it has printed a progress line.
struct Running {
    child: Child,
    /// The rest of its standard error, line by line.
    stderr: mpsc::Receiver<String>,
    /// Its whole standard output, read as it comes (a full pipe would stall the run).
    stdout: std::thread::JoinHandle<String>,
}

fn started(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dosim");
    let mut out = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("progress:") => return Running { child, stderr: rx, stdout },
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("no progress line within 60 s");
            }
        }
    }
}

fn signal(run: &Running, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(run.child.id() as libc::pid_t, sig) }, 0);
}

/// Waits at most `limit` for the run to end; its status, standard output and the rest of
/// its standard error.
fn ended_within(mut run: Running, limit: Duration) -> (ExitStatus, String, Vec<String>) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = run.child.kill();
            panic!("dosim fuzz did not end within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, run.stdout.join().unwrap(), run.stderr.iter().collect())
}

#[test]
fn a_first_sigint_prints_the_summary_so_far_and_exits_130() {
    let run = started(&["fuzz", "--scenario", "counter", "--time", "60s", "--no-save"]);
    signal(&run, libc::SIGINT);
    let (status, out, err) = ended_within(run, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{out}");
    let runs: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("interrupted after ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no interruption line:\n{out}"));
    assert!(runs > 0);
    assert!(out.contains(&format!("{runs} runs in")), "{out}");
    assert!(out.contains("counter") && out.contains("pass"), "{out}");
    assert!(out.contains("sometimes (interesting states reached"), "{out}");
    assert!(err.iter().any(|l| l.contains("interrupted: exit status 130")), "{err:?}");
}

#[test]
fn a_sigterm_saves_the_failures_found_unshrunk_and_exits_1() {
    let dir = std::env::temp_dir().join(format!("dosim-interrupt-{}", std::process::id()));
    let run =
        started(&["fuzz", "--scenario", "racy-counter", "--time", "60s", "--json", "--save", dir.to_str().unwrap()]);
    signal(&run, libc::SIGTERM);
    let (status, out, _) = ended_within(run, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "an unexpected failure outranks the interruption:\n{out}");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["failures"].as_u64().unwrap() > 0);
    let saved = summary["saved"][0].as_str().expect("the first failure was saved");
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    // Unshrunk: the first failing seed's whole workload, as fuzz ran it.
    let failing: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(file["seed"], failing["seed"]);
    let scenario = dosim::scenarios::find("racy-counter").unwrap();
    let seed = failing["seed"].as_u64().unwrap();
    let generated = generate(scenario, seed, FaultPolicy::Swarm).workload;
    assert_eq!(file["workload"], serde_json::to_value(&generated).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_second_signal_exits_at_once() {
    let run = started(&["fuzz", "--scenario", "racy-counter-kv-js", "--time", "60s", "--no-save"]);
    // Both at once: the first asks for a clean stop, the second must not wait for it.
    signal(&run, libc::SIGINT);
    signal(&run, libc::SIGTERM);
    let (status, out, err) = ended_within(run, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(!out.contains("runs in"), "the second signal still let the summary out:\n{out}");
    assert!(!err.iter().any(|l| l.starts_with("interrupted")), "{err:?}");
}
