//! The network on the command line: `--responder` answers an object's outbound fetch and
//! the fuzzer finds examples/js/webhook.ts's double delivery through `run.fetches`;
//! `--websocket`/`--send` clients drive examples/js/chat.ts across hibernation and crashes,
//! its invariant holds, and a room that keeps its peers in memory (lost on hibernation)
//! is caught; bad specs are clear errors.

use std::process::{Command, Output};

const WEBHOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/js/webhook.ts");
const CHAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/js/chat.ts");

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

fn out(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn chat_args<'a>(module: &'a str, seeds: &'a str) -> Vec<&'a str> {
    let mut args = vec!["fuzz", "--module", module, "--class", "Room", "--seeds", seeds, "--no-save"];
    args.extend(["--websocket", "/rooms/lobby?name={key}", "--send", r#"{"say": int 1..9}"#, "--send", "who"]);
    args
}

#[test]
fn the_fuzzer_finds_a_webhook_delivered_twice_and_the_replay_repeats_it() {
    let responder = format!("hooks.example.com={WEBHOOK}#Hooks");
    let args = ["fuzz", "--module", WEBHOOK, "--class", "Notifier", "--method", "order(key)"];
    let mut fuzz = args.to_vec();
    fuzz.extend(["--responder", &responder, "--seeds", "200", "--no-save"]);
    let o = dosim(&fuzz);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    let first = text.lines().find_map(|l| l.trim().strip_prefix("first failure: seed ")).expect("no failure");
    assert!(first.contains("reached the webhook 2 times"), "{first}");
    let seed = first.split(':').next().unwrap();
    let mut run = vec!["run", "calls", "--seed", seed];
    run.extend(&args[1..]);
    run.extend(["--responder", &responder, "--trace"]);
    let (a, b) = (dosim(&run), dosim(&run));
    assert_eq!(a.status.code(), Some(1), "{}", out(&a));
    assert_eq!(out(&a), out(&b).replace(wall(&out(&b)), wall(&out(&a))));
    assert!(out(&a).contains("fetch#0 POST https://hooks.example.com/orders leaves"), "{}", out(&a));
    assert!(out(&a).contains("network faults: "), "{}", out(&a));
}

/// The wall-time figure of a run's summary (the only part of it that may differ).
fn wall(text: &str) -> &str {
    text.split(" of wall time").next().and_then(|s| s.rsplit(" in ").next()).unwrap_or("")
}

#[test]
fn websocket_clients_drive_a_chat_room_across_hibernation_and_crashes() {
    let o = dosim(&chat_args(CHAT, "60"));
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let text = out(&o);
    let count = |point: &str| -> u64 {
        let line = text.lines().find(|l| l.ends_with(point)).unwrap_or_else(|| panic!("{point}?\n{text}"));
        line.split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(count("object hibernated after 10 s idle") > 0, "{text}");
    assert!(count("instance rebuilt after a crash") > 0, "{text}");
    let mut run = vec!["run", "calls", "--seed", "5", "--module", CHAT, "--class", "Room", "--trace"];
    run.extend(["--websocket", "/rooms/lobby?name={key}", "--send", "who"]);
    let trace = out(&dosim(&run));
    assert!(trace.contains(r#""received":"{\"here\":["#), "{trace}");
}

#[test]
fn a_room_that_keeps_its_peers_in_memory_loses_them_to_hibernation() {
    let dir = std::env::temp_dir().join(format!("dosim-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("forgetful_chat.ts");
    let text = std::fs::read_to_string(CHAT).unwrap();
    let accept = r#"this.ctx.acceptWebSocket(server, ["chat"]);"#;
    let broadcast = r#"for (const peer of this.ctx.getWebSockets("chat")) peer.send(line);"#;
    assert!(text.contains(accept) && text.contains(broadcast));
    let text = text
        .replace(accept, &format!("{accept} ((this as any).peers ??= []).push(server);"))
        .replace(broadcast, "for (const peer of ((this as any).peers ?? [])) peer.send(line);");
    std::fs::write(&file, text).unwrap();
    let o = dosim(&chat_args(file.to_str().unwrap(), "60"));
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("and never saw it"), "{}", out(&o));
}

#[test]
fn a_saved_webhook_failure_replays_from_its_file_anywhere() {
    let saves = std::env::temp_dir().join(format!("dosim-net-saves-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&saves);
    let responder = format!("hooks.example.com={WEBHOOK}#Hooks");
    let args =
        ["fuzz", "--module", WEBHOOK, "--class", "Notifier", "--method", "order(key)", "--responder", &responder];
    let mut fuzz = args.to_vec();
    fuzz.extend(["--seeds", "60", "--save", saves.to_str().unwrap()]);
    let o = dosim(&fuzz);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = out(&o);
    let saved = text.lines().find_map(|l| l.strip_prefix("saved: ")).expect("no saved file");
    let saved = saved.split_whitespace().next().unwrap();
    let file = std::fs::read_to_string(saved).unwrap();
    assert!(file.contains("\"hooks.example.com=../"), "the responder's module, relative to the file: {file}");
    // From another folder, the file alone replays the double delivery.
    let replay = Command::new(env!("CARGO_BIN_EXE_dosim"))
        .args(["replay", saved])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(1), "{}", out(&replay));
    assert!(out(&replay).contains("reached the webhook 2 times"), "{}", out(&replay));
    let _ = std::fs::remove_dir_all(saves);
}

#[test]
fn bad_network_specs_are_clear_errors() {
    let base = ["run", "calls", "--seed", "1", "--module", CHAT, "--class", "Room"];
    for (extra, expected) in [
        (vec!["--websocket", "/ws"], "needs at least one --send"),
        (vec!["--send", "hi"], "--send needs --websocket"),
        (vec!["--websocket", "ws", "--send", "hi"], "a path, starting with '/'"),
        (vec!["--websocket", "/ws", "--send", r#"{"a": nope}"#], "not JSON"),
        (vec!["--websocket", "/ws", "--send", "n={int 9..1}"], "expected int A..B"),
        (vec!["--websocket", "/ws", "--send", "hi", "--responder", "nohost"], "expected HOST=FILE"),
        (vec!["--websocket", "/ws", "--send", "hi", "--responder", &format!("h={CHAT}#Nope")], "exports no \"Nope\""),
    ] {
        let mut args = base.to_vec();
        args.extend(extra.iter().copied());
        let o = dosim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", out(&o));
        assert!(out(&o).contains(expected), "{args:?}: expected {expected:?} in {}", out(&o));
    }
}
