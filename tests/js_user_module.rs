//! Pointing dosim at your own module: `dosim fuzz --module FILE --class NAME --method ...`
//! finds the example's double booking through its `invariant` export, prints a replay
//! command that reproduces it exactly, and bad input is a clear message with exit 2.

use std::process::{Command, Output};

const SEATS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/js/seats.ts");

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Splits a printed command line into words, honouring single quotes.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[test]
fn the_invariant_hook_finds_a_double_booking_and_the_replay_reproduces_it() {
    let methods = ["--method", "book(int 1..4, key)", "--method", "release(int 1..4)"];
    let mut args = vec!["fuzz", "--module", SEATS, "--class", "Seats", "--seeds", "100", "--no-save"];
    args.extend(methods);
    let fuzz = dosim(&args);
    assert_eq!(fuzz.status.code(), Some(1), "the double booking must be found:\n{}{}", stdout(&fuzz), stderr(&fuzz));
    let out = stdout(&fuzz);
    let first = out.lines().find_map(|l| l.trim().strip_prefix("first failure: ")).expect("no failure printed");
    assert!(first.contains("[invariant]") && first.contains("booked by"), "{first}");
    let replay = out.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("no replay printed");
    let mut words = shell_words(replay);
    assert_eq!(words.remove(0), "dosim");
    words.retain(|w| w != "--trace");
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (a, b) = (dosim(&words), dosim(&words));
    assert_eq!(a.status.code(), Some(1), "{}{}", stdout(&a), stderr(&a));
    let violation = first.split_once(": ").map(|(_, v)| v).unwrap_or(first);
    assert!(stdout(&a).contains(violation), "replay lost the failure {violation:?}:\n{}", stdout(&a));
    let hash = |o: &Output| stdout(o).lines().find_map(|l| l.split("trace_hash ").nth(1).map(str::to_owned));
    assert_eq!(hash(&a), hash(&b));
    assert!(hash(&a).is_some());
}

#[test]
fn without_an_invariant_only_the_runtime_checkers_judge() {
    // The same object, judged without its hook: nothing the runtime checks is broken.
    let dir = std::env::temp_dir().join(format!("dosim-user-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(SEATS).unwrap().replace("export function invariant", "function invariant");
    let file = dir.join("seats.ts");
    std::fs::write(&file, text).unwrap();
    let o = dosim(&[
        "fuzz",
        "--module",
        file.to_str().unwrap(),
        "--class",
        "Seats",
        "--method",
        "book(int 1..2, key)",
        "--seeds",
        "60",
        "--no-save",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("60 runs"), "{}", stdout(&o));
}

#[test]
fn bad_modules_and_specs_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("dosim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.ts");
    std::fs::write(&broken, "export class A extends DurableObject { m( { }").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "calls", "--seed", "1", "--module", SEATS, "--class", "Nope", "--method", "book"],
            "exports no class \"Nope\"",
        ),
        (
            vec!["run", "calls", "--seed", "1", "--module", SEATS, "--class", "Seats", "--method", "fly"],
            "has no method \"fly\"",
        ),
        (
            vec!["run", "calls", "--seed", "1", "--module", SEATS, "--class", "Seats", "--method", "book(int 9..1)"],
            "expected int A..B",
        ),
        (vec!["run", "calls", "--seed", "1", "--module", SEATS, "--class", "Seats"], "say which methods"),
        (
            vec!["run", "calls", "--seed", "1", "--module", "/nonexistent/x.ts", "--class", "A", "--method", "m"],
            "cannot read",
        ),
        (
            vec!["run", "calls", "--seed", "1", "--module", broken.to_str().unwrap(), "--class", "A", "--method", "m"],
            "broken.ts",
        ),
        (vec!["run", "calls", "--seed", "1"], "needs --module"),
        (vec!["run", "counter", "--seed", "1", "--module", SEATS, "--class", "Seats"], "generic workload"),
    ];
    for (args, expected) in cases {
        let o = dosim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&o));
    }
}

const TWO_CLASSES: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Front extends DurableObject {
  async add(n: number) {
    const back = this.env.BACK.get(this.env.BACK.idFromName("one"));
    const total = await back.add(n);
    if (total > this.env.LIMIT) throw new Error(`over the limit: ${total}`);
    return total;
  }
}
export class Back extends DurableObject {
  async add(n: number) {
    const t = ((await this.ctx.storage.get("t")) ?? 0) + n;
    await this.ctx.storage.put("t", t);
    return t;
  }
}
// Every call must be answered with a total.
export function invariant(run) {
  return run.history.filter((c) => c.ok === false).map((c) => `#${c.index} failed: ${c.error}`);
}
"#;

#[test]
fn other_classes_and_env_values_reach_the_object_and_a_saved_failure_replays_from_its_file() {
    let dir = std::env::temp_dir().join(format!("dosim-two-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.ts");
    std::fs::write(&file, TWO_CLASSES).unwrap();
    let module = file.to_str().unwrap();
    let common =
        ["--faults", "off", "--module", module, "--class", "Front", "--method", "add(int 1..3)", "--bind", "BACK=Back"];
    // A high limit: every call goes through Back and back, and is answered.
    let mut ok = vec!["fuzz", "--seeds", "40", "--no-save", "--env", "LIMIT=1000"];
    ok.extend(common);
    let o = dosim(&ok);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("40 runs"), "{}", stdout(&o));
    // A low one: Front refuses once Back's total passes it, and the invariant says so.
    let saves = dir.join("regressions");
    let mut low = vec!["fuzz", "--seeds", "5", "--env", "LIMIT=2", "--save", saves.to_str().unwrap()];
    low.extend(common);
    let o = dosim(&low);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("over the limit"), "{}", stdout(&o));
    let saved = std::fs::read_dir(&saves)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"));
    let saved = saved.expect("fuzz saved the shrunk failure");
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("\"BACK=Back\"") && text.contains("LIMIT=2"), "{text}");
    // The file replays on its own, without any flag, to the same failure.
    let r = dosim(&["replay", saved.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(1), "{}{}", stdout(&r), stderr(&r));
    assert!(stdout(&r).contains("over the limit"), "{}", stdout(&r));
}
