//! Storage back-ends end to end: a read-modify-write that awaits only storage is
//! race-free on both back-ends, one with a timer between the read and the write loses
//! updates on both, and a hard flush failure lets nothing that depended on it out.

use dosim::scenarios::{self, check, Verdict};
use dosim::sim::{
    async_trait, run, Backend, DurableObject, Env, FaultPlan, FaultPolicy, Result, SimConfig, State, World,
};

const SEEDS: u64 = 2_000;

#[test]
fn read_modify_write_awaiting_only_storage_is_race_free_on_both_back_ends() {
    for name in ["safe-counter", "safe-counter-kv"] {
        let s = scenarios::find(name).unwrap();
        for seed in 0..SEEDS {
            let o = check(s, SimConfig::new(seed));
            assert_eq!(o.verdict(), Verdict::Pass, "{name} seed {seed}: {:?}", o.violations);
        }
    }
}

#[test]
fn a_sleep_between_get_and_put_loses_updates_on_both_back_ends() {
    for name in ["racy-counter", "racy-counter-kv"] {
        let s = scenarios::find(name).unwrap();
        let lost = (0..50)
            .map(|seed| check(s, SimConfig::new(seed)))
            .any(|o| o.violations.iter().any(|v| v.message.contains("lost update")));
        assert!(lost, "{name}: no lost update in 50 seeds");
    }
}

/// Writes its argument under its own key without awaiting the write, then answers.
struct Writer {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Writer {
    type Request = String;
    type Response = String;
    fn new(state: State, _env: Env) -> Self {
        Writer { state }
    }
    async fn call(&self, key: String) -> Result<String> {
        self.state.storage().put(&key, &"written");
        Ok(key)
    }
}

#[test]
fn a_hard_flush_failure_fails_every_pending_reply_and_leaks_nothing() {
    let plan = FaultPlan { flush_hard_failure: 1000, ..FaultPlan::NONE };
    for seed in 0..30 {
        let r = run(SimConfig::new(seed).faults(FaultPolicy::Fixed(plan)), |world: World| async move {
            let ns = world.namespace_with::<Writer>("WRITER", Backend::Kv);
            let stub = ns.get(&ns.id_from_name("w"));
            let tasks: Vec<_> = (0..4)
                .map(|c| {
                    let (client, stub) = (world.client(c), stub.clone());
                    world.spawn(async move { client.call(&stub, format!("k{c}")).await })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        });
        assert_eq!(r.history.len(), 4);
        for op in &r.history {
            let e = op.error().unwrap_or_else(|| panic!("seed {seed}: {:?} was acknowledged", op.completion));
            assert!(e.durable_object_reset, "seed {seed}: {e:?}");
            assert!(e.message.contains("Internal error in Durable Object storage write"), "{e:?}");
        }
        assert!(r.durable_value("WRITER:w", "k0").is_none() && r.durable.values().all(|m| m.is_empty()));
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn flush_failures_that_are_transient_are_retried_and_lose_nothing() {
    let plan = FaultPlan { flush_transient_failure: 500, ..FaultPlan::NONE };
    let mut retried = false;
    for seed in 0..20 {
        let r = run(SimConfig::new(seed).faults(FaultPolicy::Fixed(plan)), |world: World| async move {
            let ns = world.namespace_with::<Writer>("WRITER", Backend::Kv);
            let stub = ns.get(&ns.id_from_name("w"));
            let _ = world.client(0).call(&stub, "k".to_owned()).await;
        });
        retried |= r.trace_text().contains("failed (transient)");
        match r.history[0].ok_value() {
            Some(_) => assert_eq!(r.durable_value("WRITER:w", "k"), Some(&serde_json::json!("written"))),
            None => assert!(r.history[0].error().unwrap().durable_object_reset, "only a 5th failure resets"),
        }
    }
    assert!(retried);
}
