//! An object's randomness is drawn per instance: a restarted object (after a crash or
//! hibernation) never replays its predecessor's `crypto.randomUUID()`,
//! `crypto.getRandomValues()`, `Math.random()` or `State::entropy_seed`, and the same
//! seed still gives the same run, trace line for trace line.

use dosim::sim::{async_trait, run, DurableObject, Env, FaultPolicy, Result, SimConfig, State, World};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::Duration;

const IDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/modules/random_ids.ts");

fn dosim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dosim")).args(args).output().expect("run dosim")
}

fn ids_args<'a>(command: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = command.to_vec();
    args.extend(["--module", IDS, "--class", "Ids", "--method", "uuid", "--method", "bytes"]);
    args.extend(["--method", "float"]);
    args.extend(rest);
    args
}

#[test]
fn records_keyed_by_random_ids_never_meet_an_id_twice_across_restarts() {
    let o = dosim(&ids_args(&["fuzz"], &["--seeds", "300", "--no-save", "--check-determinism"]));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("0 failing"), "{out}");
    // The seeds restarted the object often: a repeat had every chance to show.
    let rebuilt = out.lines().find(|l| l.contains("instance rebuilt after a crash")).expect("no restarts line");
    let count: u64 = rebuilt.split_whitespace().next().unwrap().parse().unwrap();
    assert!(count > 300, "only {count} restarts in 300 seeds:\n{out}");
}

#[test]
fn the_same_seed_draws_the_same_ids_and_trace() {
    let json = |seed: &str| {
        let o = dosim(&ids_args(&["run", "calls"], &["--seed", seed, "--json"]));
        serde_json::from_slice::<Value>(&o.stdout).expect("run --json prints JSON")
    };
    // A seed whose object restarts, so later instances' draws are in the trace too.
    let seed = (0..50)
        .map(|s| s.to_string())
        .find(|s| json(s)["stats"]["crashes"].as_u64() > Some(1))
        .expect("no seed with two crashes in 50");
    let (a, b) = (json(&seed), json(&seed));
    assert_eq!(a["trace_hash"], b["trace_hash"], "seed {seed} replayed differently");
    assert_eq!(a["verdict"], "pass", "{a}");
    assert_ne!(a["trace_hash"], json("1000")["trace_hash"]);
}

/// Answers its instance's entropy seed.
struct Dice {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Dice {
    type Request = ();
    type Response = u64;
    fn new(state: State, _: Env) -> Self {
        Dice { state }
    }
    async fn call(&self, (): ()) -> Result<u64> {
        Ok(self.state.entropy_seed())
    }
}

/// Entropy seeds of: two calls to one instance, one after a crash, one after hibernation.
fn entropy(seed: u64) -> Vec<u64> {
    let seeds = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seeds.clone();
    let r = run(SimConfig::new(seed).faults(FaultPolicy::Off), move |world: World| async move {
        let ns = world.namespace::<Dice>("D");
        let call = || async { world.client(0).call(&ns.get(&ns.id_from_name("d")), ()).await.unwrap() };
        let mut draws = vec![call().await, call().await];
        world.crash("D:d", "test");
        draws.push(call().await);
        world.sleep(Duration::from_secs(15)).await;
        draws.push(call().await);
        *out.lock().unwrap() = draws;
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.trace_text().contains("hibernated after 10 s idle"), "{}", r.trace_text());
    let draws = std::mem::take(&mut *seeds.lock().unwrap());
    draws
}

#[test]
fn a_rust_objects_entropy_seed_is_per_instance_and_the_seeds() {
    let draws = entropy(7);
    assert_eq!(draws[0], draws[1], "one instance keeps its seed");
    assert_ne!(draws[1], draws[2], "the instance after a crash got its predecessor's seed");
    assert_ne!(draws[2], draws[3], "the instance after hibernation got its predecessor's seed");
    assert_ne!(draws[1], draws[3]);
    assert_eq!(entropy(7), draws, "the same seed, the same seeds");
    assert_ne!(entropy(8)[0], draws[0], "another run seed, another stream");
}
