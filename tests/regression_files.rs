//! Regression files as input from strangers and as output that must not be lost: names
//! that do not collide, atomic writes, a user module resolved against the file's folder
//! and announced before it runs, newer files refused, and nothing of a refused file
//! echoed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dosim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).current_dir(dir).args(args).output().expect("run dosim")
}

fn dosim(args: &[&str]) -> Output {
    dosim_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A module whose invariant fails every run that made a call.
const ALWAYS_FAILS: &str = r#"
import { DurableObject } from "cloudflare:workers";
export class Tally extends DurableObject {
  async add(n: number) {
    const t = ((await this.ctx.storage.get("t")) ?? 0) + n;
    await this.ctx.storage.put("t", t);
    return t;
  }
}
export function invariant(run) {
  return run.history.length > 0 ? ["every run fails"] : [];
}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dosim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dosim shrink calls --seed 3` of `module`'s class Tally, saved into `save`.
fn shrink_into(module: &Path, save: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "shrink",
        "calls",
        "--seed",
        "3",
        "--budget",
        "40",
        "--module",
        module.to_str().unwrap(),
        "--class",
        "Tally",
        "--method",
        "add(int 1..3)",
        "--save",
        save.to_str().unwrap(),
    ];
    args.extend(extra);
    dosim(&args)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    dosim::scenarios::regression::files_in(dir)
}

#[test]
fn two_modules_failing_on_the_same_seed_get_two_files() {
    let dir = scratch("two-modules");
    let (a, b) = (dir.join("alpha.ts"), dir.join("beta.mjs"));
    std::fs::write(&a, ALWAYS_FAILS).unwrap();
    std::fs::write(&b, ALWAYS_FAILS.replace(": number", "")).unwrap();
    let save = dir.join("regressions");
    for m in [&a, &b] {
        let o = shrink_into(m, &save, &[]);
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    }
    let o = shrink_into(&a, &save, &["--input-gate", "off", "--output-gate", "off"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let names: Vec<String> =
        json_files(&save).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(
        names,
        [
            "calls-alpha-Tally-input-gate-off-output-gate-off-seed-3.json",
            "calls-alpha-Tally-seed-3.json",
            "calls-beta-Tally-seed-3.json"
        ],
        "{names:?}"
    );
    // Saving the same failure again writes no second file; a different module of the same
    // name and class (in another folder) does not overwrite the first.
    let o = shrink_into(&a, &save, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_files(&save).len(), 3);
    let other = dir.join("elsewhere");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("alpha.ts"), ALWAYS_FAILS).unwrap();
    let o = shrink_into(&other.join("alpha.ts"), &save, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(save.join("calls-alpha-Tally-seed-3-2.json").is_file(), "{:?}", json_files(&save));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&save)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_module_path_is_relative_to_the_file_and_announced_before_it_runs() {
    let dir = scratch("relative");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let module = dir.join("src/tally.ts");
    std::fs::write(&module, ALWAYS_FAILS).unwrap();
    let o = shrink_into(&module, &dir.join("tests/regressions"), &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let file = dir.join("tests/regressions/calls-tally-Tally-seed-3.json");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["module"]["module"], "../../src/tally.ts");
    // The whole project moved elsewhere, replayed from yet another folder: the file still
    // finds its module, and says which code it is about to run.
    let moved = scratch("relative-moved");
    std::fs::rename(&dir, moved.join("project")).unwrap();
    let r = dosim_in(
        Path::new("/"),
        &["replay", &format!("{}/project/tests/regressions/calls-tally-Tally-seed-3.json", moved.display())],
    );
    assert_eq!(r.status.code(), Some(1), "{}{}", stdout(&r), stderr(&r));
    assert!(stdout(&r).contains("every run fails"), "{}", stdout(&r));
    let abs = std::fs::canonicalize(moved.join("project/src/tally.ts")).unwrap();
    let note = format!("runs the code of module {} (class Tally)", abs.display());
    assert!(stderr(&r).lines().next().is_some_and(|l| l.starts_with("note: ") && l.ends_with(&note)), "{}", stderr(&r));
    let _ = std::fs::remove_dir_all(moved);
}

#[test]
fn a_module_field_that_is_no_module_is_refused_without_running_it() {
    let dir = scratch("not-a-module");
    let module = dir.join("tally.ts");
    std::fs::write(&module, ALWAYS_FAILS).unwrap();
    let o = shrink_into(&module, &dir, &[]);
    assert_eq!(o.status.code(), Some(1));
    let good = std::fs::read_to_string(dir.join("calls-tally-Tally-seed-3.json")).unwrap();
    // A file that is not a JS/TS module, with a secret in it; a module that does not exist.
    std::fs::write(dir.join(".env"), "API_TOKEN=SECRET-env-contents\n").unwrap();
    let cases = [
        ("\"tally.ts\"", "\".env\"", "is not a .ts, .mts, .js or .mjs file"),
        ("\"tally.ts\"", "\"missing.ts\"", "does not exist"),
        ("\"tally.ts\"", "\".\"", "is not a .ts, .mts, .js or .mjs file"),
    ];
    for (from, to, message) in cases {
        assert!(good.contains(from), "{good}");
        let path = dir.join("edited.json");
        std::fs::write(&path, good.replace(from, to)).unwrap();
        let r = dosim(&["replay", path.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(2), "{to}: {}{}", stdout(&r), stderr(&r));
        assert!(stderr(&r).contains(message), "{to}: expected {message:?} in {}", stderr(&r));
        assert!(!stderr(&r).contains("note:") && !stderr(&r).contains("SECRET"), "{}", stderr(&r));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn files_from_a_newer_dosim_are_refused_unless_allowed() {
    let dir = scratch("newer");
    let good =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions/racy-counter-seed-1.json")).unwrap();
    let ours = env!("CARGO_PKG_VERSION");
    let with = |v: &str| {
        let path = dir.join(format!("v-{}.json", v.replace(['/', '+'], "_")));
        std::fs::write(
            &path,
            good.replace(&format!("\"dosim_version\": \"{ours}\""), &format!("\"dosim_version\": \"{v}\"")),
        )
        .unwrap();
        path
    };
    let (major, minor, patch) = {
        let n: Vec<u64> = ours.split('.').map(|p| p.parse().unwrap()).collect();
        (n[0], n[1], n[2])
    };
    for newer in
        [format!("{major}.{minor}.{}", patch + 1), format!("{major}.{}.0", minor + 10), format!("{}.0.0", major + 1)]
    {
        let path = with(&newer);
        let r = dosim(&["replay", path.to_str().unwrap()]);
        assert_eq!(r.status.code(), Some(2), "{newer}: {}", stderr(&r));
        assert!(stderr(&r).contains(&format!("written by dosim {newer}, newer than this dosim")), "{}", stderr(&r));
        assert_eq!(stderr(&r).trim_end().lines().count(), 1, "{}", stderr(&r));
        let r = dosim(&["replay", path.to_str().unwrap(), "--allow-newer", "--json"]);
        assert_eq!(r.status.code(), Some(1), "{newer} with --allow-newer: {}", stderr(&r));
    }
    // Older and equal versions replay; an earlier pre-release of ours too.
    for older in ["0.0.1", ours, &format!("{ours}-rc.1")] {
        let r = dosim(&["replay", with(older).to_str().unwrap(), "--json"]);
        assert_eq!(r.status.code(), Some(1), "{older}: {}", stderr(&r));
    }
    for junk in ["banana", "1.2", "01.x.3", ""] {
        let path = with(junk);
        for extra in [&[][..], &["--allow-newer"][..]] {
            let mut args = vec!["replay", path.to_str().unwrap()];
            args.extend(extra);
            let r = dosim(&args);
            assert_eq!(r.status.code(), Some(2), "{junk:?}: {}", stderr(&r));
            assert!(stderr(&r).contains("not a version number"), "{junk:?}: {}", stderr(&r));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nothing_from_a_refused_file_is_echoed() {
    const SECRET: &str = "SECRET-4f9a1c-token";
    let dir = scratch("secrets");
    let good =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions/racy-counter-seed-1.json")).unwrap();
    let secret = format!("\"{SECRET}\"");
    let cases: Vec<(&str, String)> = vec![
        ("a string seed", good.replace("\"seed\": 1", &format!("\"seed\": {secret}"))),
        ("an unknown scenario", good.replace("\"racy-counter\"", &secret)),
        ("a request that does not fit", good.replacen("\"increment\"", &secret, 1)),
        ("an unknown gate policy", good.replacen("\"Enforced\"", &secret, 1)),
        ("a string fault rate", good.replacen("\"crash_at_await\": 0", &format!("\"crash_at_await\": {secret}"), 1)),
        ("a version with a secret pre-release", good.replace("\"0.1.0\"", &format!("\"99.0.0-{SECRET}\""))),
        ("a secret version", good.replace("\"0.1.0\"", &secret)),
        (
            "a module field with a secret",
            good.replacen(
                "\"workload\"",
                &format!("\"module\": {{\"module\": \"{SECRET}.env\", \"class\": \"A\", \"methods\": [\"m\"], \"backend\": \"sqlite\"}}, \"workload\""),
                1,
            )
            .replace("\"racy-counter\"", "\"calls\""),
        ),
        ("truncated after a secret", format!("{{\"dosim_version\": \"0.1.0\", \"scenario\": {secret}, \"seed\"")),
        ("a secret key", good.replacen("\"seed\"", &secret, 1)),
        ("secret trailing text", format!("{good}\n{SECRET}")),
    ];
    for (what, text) in cases {
        let path = dir.join("strange.json");
        std::fs::write(&path, &text).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains(SECRET), "{what}: the case lost its secret");
        for args in [vec!["replay", path.to_str().unwrap()], vec!["replay", path.to_str().unwrap(), "--json"]] {
            let r = dosim(&args);
            assert_eq!(r.status.code(), Some(2), "{what}: {}{}", stdout(&r), stderr(&r));
            assert!(
                !stderr(&r).contains("SECRET") && !stdout(&r).contains("SECRET"),
                "{what} echoed:\n{}{}",
                stdout(&r),
                stderr(&r)
            );
            assert_eq!(stderr(&r).trim_end().lines().count(), 1, "{what}: {}", stderr(&r));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
