//! A fuzz run says what went wrong even when no checker fails: methods whose every call
//! threw a language or runtime error (with a clear warning when a class's calls all die
//! with a `ReferenceError`), and alarms abandoned after their retries, each with the first
//! error text; `run --json` and the text outcome carry alarm errors.

use std::path::PathBuf;
use std::process::{Command, Output};

const MODULE: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Broken extends DurableObject {
  async hello() { return notDefinedAnywhere.greeting; }
  async bye() { return notDefinedEither(); }
}
export class Mixed extends DurableObject {
  async fine() { return 1; }
  async typo() { return this.nothing.deeper; }
  async own() { throw new Error("the object's own refusal"); }
}
export class Alarmed extends DurableObject {
  async arm() { await this.ctx.storage.setAlarm(Date.now() + 10); return 1; }
  async alarm() { throw new Error("the batch service is down"); }
}
"#;

fn module() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dosim-what-went-wrong-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("classes.js");
    std::fs::write(&file, MODULE).unwrap();
    file
}

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_class_whose_calls_all_die_with_a_reference_error_gets_a_warning() {
    let m = module();
    let m = m.to_str().unwrap();
    let o = dosim(&[
        "fuzz",
        "--module",
        m,
        "--class",
        "Broken",
        "--method",
        "hello",
        "--method",
        "bye",
        "--seeds",
        "20",
        "--no-save",
    ]);
    let out = stdout(&o);
    assert!(out.contains("WARNING: every call to OBJECT died with a ReferenceError"), "{out}");
    assert!(
        out.contains("what went wrong: OBJECT.hello: all ")
            && out.contains("threw a ReferenceError; first: notDefinedAnywhere"),
        "{out}"
    );
    assert!(out.contains("what went wrong: OBJECT.bye: all "), "{out}");
    // The same in --json's summary line.
    let o = dosim(&[
        "fuzz",
        "--module",
        m,
        "--class",
        "Broken",
        "--method",
        "hello",
        "--seeds",
        "5",
        "--no-save",
        "--json",
    ]);
    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let notes = last["scenarios"][0]["what_went_wrong"].as_array().expect("notes in the summary").clone();
    assert!(notes.iter().any(|n| n.as_str().unwrap().starts_with("WARNING")), "{last}");
}

#[test]
fn only_methods_that_always_fail_with_language_errors_are_listed() {
    let m = module();
    let o = dosim(&[
        "fuzz",
        "--module",
        m.to_str().unwrap(),
        "--class",
        "Mixed",
        "--method",
        "fine",
        "--method",
        "typo",
        "--method",
        "own",
        "--seeds",
        "20",
        "--no-save",
    ]);
    let out = stdout(&o);
    assert!(out.contains("what went wrong: OBJECT.typo: all ") && out.contains("threw a TypeError"), "{out}");
    assert!(!out.contains("OBJECT.own"), "the object's own errors are its business:\n{out}");
    assert!(!out.contains("OBJECT.fine") && !out.contains("WARNING"), "{out}");
}

#[test]
fn abandoned_alarms_are_reported_with_their_error() {
    let m = module();
    let m = m.to_str().unwrap();
    let common = ["--module", m, "--class", "Alarmed", "--method", "arm", "--faults", "off"];
    let o = dosim(&[&["fuzz", "--seeds", "4", "--no-save"][..], &common[..]].concat());
    let out = stdout(&o);
    assert!(
        out.contains("what went wrong: an alarm was abandoned after its retries in 4 of 4 runs; first: OBJECT:object:")
            && out.contains("the batch service is down"),
        "{out}"
    );
    let o = dosim(&[&["run", "calls", "--seed", "0", "--json"][..], &common[..]].concat());
    let run: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    let errors = run["alarm_errors"].as_array().expect("alarm_errors in --json");
    // Each `arm` call sets the alarm anew (its retries start again); the last one is
    // abandoned: its first attempt and six retries failed, in order.
    let last: Vec<&str> = errors.iter().rev().take(7).rev().filter_map(|e| e.as_str()).collect();
    for (retry, e) in last.iter().enumerate() {
        assert!(e.contains(&format!("retry {retry}: failed")), "the first attempt and six retries failed: {run}");
    }
    assert!(errors[0].as_str().unwrap().contains("failed: the batch service is down"), "{run}");
    let o = dosim(&[&["run", "calls", "--seed", "0", "--trace"][..], &common[..]].concat());
    assert!(stdout(&o).contains("alarm error: OBJECT:object: at "), "{}", stdout(&o));
}
