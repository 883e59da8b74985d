//! The harness's own random decisions and the fault plan. Every draw (latency, crash
//! points, fault rates) comes from a ChaCha stream seeded from the run seed, apart from
//! madsim's task-order draws, so a seed fixes both; the plan is drawn per seed, swarm
//! style: which faults are on, and how often, varies from seed to seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The harness's decision stream for one run.
pub struct Decisions {
    rng: ChaCha8Rng,
    draws: u64,
}

impl Decisions {
    /// A stream for `seed`; `stream` separates independent streams of the same seed.
    pub fn new(seed: u64, stream: u64) -> Self {
        Decisions { rng: ChaCha8Rng::seed_from_u64(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15)), draws: 0 }
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        if per_mille == 0 {
            return false;
        }
        self.draws += 1;
        self.rng.gen_range(0..1000) < per_mille
    }

    /// A uniform draw from `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        self.draws += 1;
        if lo >= hi {
            lo
        } else {
            self.rng.gen_range(lo..=hi)
        }
    }

    /// A uniform index below `n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        self.draws += 1;
        self.rng.gen_range(0..n)
    }

    /// 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.draws += 1;
        self.rng.gen()
    }

    /// How many draws were made (a cheap fingerprint of the run's decisions).
    pub fn draws(&self) -> u64 {
        self.draws
    }
}

/// Which faults a run injects and how often. Rates are per mille.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FaultPlan {
    /// Crashes at drawn times during the workload (hits idle objects and handlers
    /// suspended at an await alike).
    pub timed_crashes: u32,
    /// Chance that an object crashes each time one of its handlers suspends at an await.
    pub crash_at_await: u32,
    /// Chance that an object crashes after a batch of writes and before its commit.
    pub crash_before_commit: u32,
    /// Storage round trips (KV back-end) take this many times longer (1 = normal).
    pub storage_slowdown: u64,
    /// Chance that a storage read (KV back-end) fails; only that read fails.
    pub read_failure: u32,
    /// Chance that a flush attempt (KV back-end) fails transiently and is retried.
    pub flush_transient_failure: u32,
    /// Chance that a flush (KV back-end) fails for good: the object resets.
    pub flush_hard_failure: u32,
    /// Chance that a commit (SQLite back-end) fails: the object resets.
    pub commit_failure: u32,
    /// Chance that a call is refused before it reaches the object (the caller sees the
    /// connection lost and cannot tell it never ran).
    #[serde(default)]
    pub call_refused: u32,
    /// Chance that the target object is reset while a call runs.
    #[serde(default)]
    pub call_reset: u32,
    /// Chance that a call runs but its reply is lost (connection lost, `retryable`).
    #[serde(default)]
    pub reply_lost: u32,
    /// The chaos phase lasts at least this long (simulated ms from the start): faults go
    /// on after the workload ends, alarm runs included, until then. 0: until it ends.
    #[serde(default)]
    pub horizon_ms: u64,
    /// Storage outages over the run (each `outage_ms` long): every commit and flush fails
    /// (the object resets) and every KV read fails.
    #[serde(default)]
    pub storage_outages: u32,
    /// Outages of calls between objects: a stub call made from inside an object is refused.
    #[serde(default)]
    pub call_outages: u32,
    /// Outages of outbound `fetch` (a hook: [`crate::World::in_outage`] with [`Outage::Fetch`]).
    #[serde(default)]
    pub fetch_outages: u32,
    /// How long each outage lasts.
    #[serde(default)]
    pub outage_ms: u64,
    /// Alarms fire late, by a delay drawn per firing up to this (half of them on time).
    #[serde(default)]
    pub alarm_late_ms: u64,
    /// Chance that the object is reset while an alarm handler runs (within its first 30 ms).
    #[serde(default)]
    pub alarm_reset: u32,
}

/// What an outage takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Outage {
    /// Durable storage: commits, flushes and KV reads fail.
    Storage,
    /// Calls from one object to another are refused before delivery.
    Calls,
    /// Outbound `fetch` from objects fails (for the host that simulates it).
    Fetch,
}

impl Outage {
    /// Its name in traces.
    pub fn name(self) -> &'static str {
        match self {
            Outage::Storage => "storage",
            Outage::Calls => "calls",
            Outage::Fetch => "fetch",
        }
    }
}

/// One outage of a run: what, from when, until when (simulated ms, end excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageWindow {
    pub kind: Outage,
    pub from_ms: u64,
    pub until_ms: u64,
}

/// Decision stream of the horizon, outage and late-alarm draws of the swarm plan (their
/// own, so that the draws of the older fault kinds stayed as they were).
pub const HORIZON_STREAM: u64 = 0x484f_5249_5a4e;
/// Decision stream of the outage windows (their start times).
pub const OUTAGE_STREAM: u64 = 0x4f55_5441_4745;
/// Decision stream of the alarm faults (late deliveries, resets while a handler runs).
pub const ALARM_STREAM: u64 = 0x4c41_5445_414c;

impl FaultPlan {
    /// No faults at all.
    pub const NONE: FaultPlan = FaultPlan {
        timed_crashes: 0,
        crash_at_await: 0,
        crash_before_commit: 0,
        storage_slowdown: 1,
        read_failure: 0,
        flush_transient_failure: 0,
        flush_hard_failure: 0,
        commit_failure: 0,
        call_refused: 0,
        call_reset: 0,
        reply_lost: 0,
        horizon_ms: 0,
        storage_outages: 0,
        call_outages: 0,
        fetch_outages: 0,
        outage_ms: 0,
        alarm_late_ms: 0,
        alarm_reset: 0,
    };

    /// Draws a plan for `seed`, swarm style: each fault is on for about half the seeds,
    /// at a rate drawn from a small ladder.
    pub fn swarm(seed: u64) -> FaultPlan {
        let mut d = Decisions::new(seed, 0x5157_4152_4d00);
        let rate = |d: &mut Decisions| {
            if d.chance(500) {
                [5, 20, 50, 150][d.index(4)]
            } else {
                0
            }
        };
        let crash_at_await = rate(&mut d);
        let crash_before_commit = rate(&mut d);
        let timed_crashes = if d.chance(500) { d.between(1, 4) as u32 } else { 0 };
        // Storage faults are drawn after the crash faults, so adding them kept the crash
        // part of every seed's plan as it was.
        let storage_slowdown = if d.chance(250) { 10 } else { 1 };
        let rare = |d: &mut Decisions| if d.chance(300) { [2, 10, 30][d.index(3)] } else { 0 };
        let read_failure = rate(&mut d);
        let flush_transient_failure = rate(&mut d);
        let flush_hard_failure = rare(&mut d);
        let commit_failure = rare(&mut d);
        let call_refused = rare(&mut d);
        let call_reset = rare(&mut d);
        let reply_lost = rare(&mut d);
        // One seed in ten runs clean: a fault-free run is a plan worth exploring too.
        if d.chance(100) {
            return FaultPlan::NONE;
        }
        let mut h = Decisions::new(seed, HORIZON_STREAM);
        // Half the seeds keep the chaos phase to the workload; the rest hold it on for a
        // span from seconds to hours, so alarms set far ahead run under faults.
        let horizon_ms = if h.chance(500) { 0 } else { [10_000, 120_000, 1_200_000, 7_200_000][h.index(4)] };
        // (The hold after the workload ends early once enough alarm attempts ran in it, so a
        // long horizon costs little for objects with frequent periodic alarms.)
        let outages = |h: &mut Decisions| if h.chance(200) { h.between(1, 2) as u32 } else { 0 };
        let storage_outages = outages(&mut h);
        let call_outages = outages(&mut h);
        let fetch_outages = outages(&mut h);
        // From a blip to five minutes: longer than the alarm retry schedule (2 s ... 64 s).
        let outage_ms = [500, 5_000, 60_000, 300_000][h.index(4)];
        let any_outage = storage_outages + call_outages + fetch_outages > 0;
        let alarm_late_ms = if h.chance(300) { [50, 2_000, 30_000, 300_000][h.index(4)] } else { 0 };
        let alarm_reset = if h.chance(300) { [50, 200, 500][h.index(3)] } else { 0 };
        FaultPlan {
            alarm_reset,
            horizon_ms,
            storage_outages,
            call_outages,
            fetch_outages,
            outage_ms: if any_outage { outage_ms } else { 0 },
            alarm_late_ms,
            timed_crashes,
            crash_at_await,
            crash_before_commit,
            storage_slowdown,
            read_failure,
            flush_transient_failure,
            flush_hard_failure,
            commit_failure,
            call_refused,
            call_reset,
            reply_lost,
        }
    }

    /// Whether the plan injects anything.
    pub fn is_quiet(&self) -> bool {
        *self == FaultPlan::NONE
    }
}

impl FaultPlan {
    /// One switch per kind of fault, each turning that kind off (timed crashes first),
    /// for shrinkers that try a run without each kind in turn.
    pub const SWITCHES: [fn(&mut FaultPlan); 17] = [
        |p| p.timed_crashes = 0,
        |p| p.crash_at_await = 0,
        |p| p.crash_before_commit = 0,
        |p| p.commit_failure = 0,
        |p| p.read_failure = 0,
        |p| p.flush_transient_failure = 0,
        |p| p.flush_hard_failure = 0,
        |p| p.storage_slowdown = 1,
        |p| p.call_refused = 0,
        |p| p.call_reset = 0,
        |p| p.reply_lost = 0,
        |p| p.horizon_ms = 0,
        |p| p.storage_outages = 0,
        |p| p.call_outages = 0,
        |p| p.fetch_outages = 0,
        |p| p.alarm_late_ms = 0,
        |p| p.alarm_reset = 0,
    ];

    /// The outage windows of a run of `seed`: each outage starts at a time drawn inside
    /// the horizon (or `window_ms`, when that is longer) and lasts `outage_ms`.
    pub fn outage_windows(&self, seed: u64, window_ms: u64) -> Vec<OutageWindow> {
        let mut d = Decisions::new(seed, OUTAGE_STREAM);
        let span = self.horizon_ms.max(window_ms).max(1);
        let mut all = Vec::new();
        for (kind, n) in [
            (Outage::Storage, self.storage_outages),
            (Outage::Calls, self.call_outages),
            (Outage::Fetch, self.fetch_outages),
        ] {
            for _ in 0..n {
                let from_ms = d.between(1, span);
                all.push(OutageWindow { kind, from_ms, until_ms: from_ms + self.outage_ms });
            }
        }
        all.sort_by_key(|w| (w.from_ms, w.kind));
        all
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_quiet() {
            return f.write_str("none");
        }
        write!(
            f,
            "timed-crashes={} crash-at-await={}‰ crash-before-commit={}‰",
            self.timed_crashes, self.crash_at_await, self.crash_before_commit
        )?;
        let storage = [
            ("read-failure", self.read_failure),
            ("flush-transient", self.flush_transient_failure),
            ("flush-hard", self.flush_hard_failure),
            ("commit-failure", self.commit_failure),
            ("call-refused", self.call_refused),
            ("call-reset", self.call_reset),
            ("reply-lost", self.reply_lost),
            ("alarm-reset", self.alarm_reset),
        ];
        for (name, rate) in storage.iter().filter(|(_, r)| *r > 0) {
            write!(f, " {name}={rate}‰")?;
        }
        if self.storage_slowdown > 1 {
            write!(f, " slow-storage=x{}", self.storage_slowdown)?;
        }
        if self.horizon_ms > 0 {
            write!(f, " horizon={}", crate::time::SimTime(self.horizon_ms))?;
        }
        let outages = [("storage", self.storage_outages), ("calls", self.call_outages), ("fetch", self.fetch_outages)];
        for (name, n) in outages.iter().filter(|(_, n)| *n > 0) {
            write!(f, " {name}-outages={n}x{}", crate::time::SimTime(self.outage_ms))?;
        }
        if self.alarm_late_ms > 0 {
            write!(f, " alarms-late<={}", crate::time::SimTime(self.alarm_late_ms))?;
        }
        Ok(())
    }
}

/// Where a run's fault plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FaultPolicy {
    /// Drawn from the seed (the default).
    #[default]
    Swarm,
    /// No faults.
    Off,
    /// Exactly this plan, whatever the seed.
    Fixed(FaultPlan),
}

impl FaultPolicy {
    /// The plan this policy gives for `seed`.
    pub fn plan(self, seed: u64) -> FaultPlan {
        match self {
            FaultPolicy::Swarm => FaultPlan::swarm(seed),
            FaultPolicy::Off => FaultPlan::NONE,
            FaultPolicy::Fixed(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_plans_vary_and_repeat() {
        let plans: Vec<_> = (0..64).map(FaultPlan::swarm).collect();
        assert_eq!(plans, (0..64).map(FaultPlan::swarm).collect::<Vec<_>>());
        assert!(plans.iter().any(|p| p.is_quiet()));
        assert!(plans.iter().any(|p| p.crash_before_commit > 0));
        assert!(plans.iter().any(|p| p.timed_crashes > 0));
    }

    #[test]
    fn swarm_plans_draw_horizons_outages_and_late_alarms() {
        let plans: Vec<_> = (0..256).map(FaultPlan::swarm).collect();
        assert!(plans.iter().any(|p| p.horizon_ms == 7_200_000));
        assert!(plans.iter().any(|p| p.call_outages > 0 && p.outage_ms == 300_000));
        assert!(plans.iter().any(|p| p.storage_outages > 0));
        assert!(plans.iter().any(|p| p.alarm_late_ms > 0 && p.alarm_reset > 0));
        // No outage drawn, no span: the faults line says nothing of outages.
        assert!(plans.iter().all(|p| (p.storage_outages + p.call_outages + p.fetch_outages > 0) == (p.outage_ms > 0)));
        // The older kinds drew from their own stream before and still do: a plan without the
        // new kinds is what it was.
        let old_part = |p: &FaultPlan| (p.timed_crashes, p.crash_at_await, p.crash_before_commit, p.reply_lost);
        let mut d = Decisions::new(3, 0x5157_4152_4d00);
        let crash_at_await = if d.chance(500) { [5, 20, 50, 150][d.index(4)] } else { 0 };
        assert!(FaultPlan::swarm(3).is_quiet() || old_part(&FaultPlan::swarm(3)).1 == crash_at_await);
    }

    #[test]
    fn outage_windows_fall_inside_the_horizon_and_last_their_span() {
        let plan =
            FaultPlan { horizon_ms: 60_000, call_outages: 2, storage_outages: 1, outage_ms: 5_000, ..FaultPlan::NONE };
        let w = plan.outage_windows(7, 50);
        assert_eq!(w, plan.outage_windows(7, 50));
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|o| (1..=60_000).contains(&o.from_ms) && o.until_ms == o.from_ms + 5_000));
        assert_eq!(w.iter().filter(|o| o.kind == Outage::Calls).count(), 2);
        assert!(FaultPlan::NONE.outage_windows(7, 50).is_empty());
    }

    #[test]
    fn decisions_repeat_for_a_seed() {
        let a: Vec<u64> = {
            let mut d = Decisions::new(9, 1);
            (0..8).map(|_| d.bits()).collect()
        };
        let b: Vec<u64> = {
            let mut d = Decisions::new(9, 1);
            (0..8).map(|_| d.bits()).collect()
        };
        let c: Vec<u64> = {
            let mut d = Decisions::new(9, 2);
            (0..8).map(|_| d.bits()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
