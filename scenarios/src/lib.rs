//! Scenarios: a model, the workloads that drive it, and the invariants that judge the
//! history they leave, stated from the user's point of view. The runtime's own checkers
//! (gates, coalescing, panics, liveness) run on every scenario; a scenario adds what only
//! it knows. Workloads are values (see [`workload`]), so failures shrink and replay.
//!
//! | module         | owns                                                            |
//! |----------------|-----------------------------------------------------------------|
//! | [`workload`]   | workloads as values: generation from a seed, timeline, driving  |
//! | [`outcome`]    | running a scenario: verdict, summary, the `check_*` entry points |
//! | [`shrink`]     | from a failing workload to a minimal one that fails the same way |
//! | [`regression`] | regression files: save, load, replay                             |
//! | [`counters`]   | `counter`, `safe-counter`, `racy-counter` (+ `-kv`, `-js` variants) |
//! | [`alarm_retry`] | `alarm-retry`: alarm retries, backoff, abandonment              |
//! | [`bank`]        | `bank`: transactions that roll back, money conserved (KV)       |
//! | [`schema_migration`] | `schema-migration`, `schema-migration-fixed`              |
//! | [`in_memory_cache`]  | `in-memory-cache`, `in-memory-cache-kv`                   |
//! | [`rate_limiter`]     | `rate-limiter`, `rate-limiter-fixed`                      |
//! | [`initialization`]   | `initialization`                                          |
//! | [`optimized_write`]  | `optimized-write`, `optimized-write-fixed`                |
//! | [`batch_processing`] | `batch-processing` (+ `-patched`, `-fixed`, `-js`)        |
//! | [`parent_child`]     | `parent-child` (+ `-patched`, `-fixed`, `-js`)            |
//! | [`write_coalescing`] | `write-coalescing` (+ `-fixed`, `-js`)                    |
//! | [`cleanup`]          | `cleanup` (+ `-js`), right as written: negative controls  |
//! | [`evidence`]         | driving with retries, and the causes violations cite      |
//! | [`user`]             | `calls`: the generic workload on a user's own JS/TS module  |
//! | [`network`]          | `calls`: WebSocket clients, responders to outbound `fetch`  |
//! | [`js_port`]          | `*-js`: the reference TypeScript, judged like its Rust port |

pub mod alarm_retry;
pub mod bank;
mod clients;
pub mod counters;
pub mod in_memory_cache;
pub mod initialization;
pub mod js_port;
pub mod network;
pub mod optimized_write;
pub mod outcome;
pub mod rate_limiter;
pub mod regression;
pub mod schema_migration;
pub mod shrink;
pub mod user;
pub mod workload;

// patterns B
pub mod batch_processing;
pub mod cleanup;
pub mod evidence;
pub mod http;
pub mod parent_child;
pub mod project;
pub mod write_coalescing;

use dosim_sim::{RunReport, Violation, World};
use proptest::strategy::BoxedStrategy;

pub use outcome::{check, check_seeds, check_workload, Outcome, Summary, Verdict};
pub use workload::{Call, Driving, Shape, Workload};

/// `name`, `about` and `expect` of a scenario struct that keeps them in fields of those
/// names (most built-in scenarios are one struct with several statics).
#[macro_export]
macro_rules! meta_from_fields {
    () => {
        fn name(&self) -> &'static str {
            self.name
        }

        fn about(&self) -> &'static str {
            self.about
        }

        fn expect(&self) -> $crate::Expect {
            self.expect
        }
    };
}

/// What a scenario's model is expected to do under the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The model is right: every seed must pass.
    Pass,
    /// The model has a known defect: the harness must find it within a budget of seeds.
    Defect,
}

/// A model, its workloads, and the invariants that judge it.
pub trait Scenario: Sync {
    /// Name on the command line.
    fn name(&self) -> &'static str;
    /// One line for `dosim list`.
    fn about(&self) -> &'static str;
    /// Whether the model is right or carries a known defect (a negative control).
    fn expect(&self) -> Expect {
        Expect::Pass
    }
    /// How big generated workloads get.
    fn shape(&self) -> Shape {
        Shape::default()
    }
    /// The requests a client may send (JSON of the model's request type).
    fn requests(&self) -> BoxedStrategy<serde_json::Value>;
    /// Whether `request` fits the model (for workloads read from files).
    fn accepts(&self, request: &serde_json::Value) -> Result<(), String>;
    /// Runs the workload's clients inside the simulation.
    fn drive(&self, world: World, workload: Workload) -> Driving;
    /// Judges a finished run; returns what it found wrong.
    fn check(&self, report: &RunReport) -> Vec<Violation>;
}

/// Every built-in scenario, in the order `dosim list` shows them.
pub fn all() -> &'static [&'static dyn Scenario] {
    static ALL: &[&dyn Scenario] = &[
        &counters::COUNTER,
        &counters::SAFE_COUNTER,
        &counters::RACY_COUNTER,
        &counters::SAFE_COUNTER_KV,
        &counters::RACY_COUNTER_KV,
        &counters::SAFE_COUNTER_JS,
        &counters::SAFE_COUNTER_KV_JS,
        &counters::RACY_COUNTER_JS,
        &counters::RACY_COUNTER_KV_JS,
        &alarm_retry::ALARM_RETRY,
        &bank::BANK,
        // patterns A
        &schema_migration::SCHEMA_MIGRATION,
        &schema_migration::SCHEMA_MIGRATION_FIXED,
        &schema_migration::SCHEMA_MIGRATION_JS,
        &in_memory_cache::IN_MEMORY_CACHE,
        &in_memory_cache::IN_MEMORY_CACHE_KV,
        &in_memory_cache::IN_MEMORY_CACHE_JS,
        &in_memory_cache::IN_MEMORY_CACHE_KV_JS,
        &rate_limiter::RATE_LIMITER,
        &rate_limiter::RATE_LIMITER_FIXED,
        &rate_limiter::RATE_LIMITER_JS,
        &initialization::INITIALIZATION,
        &initialization::INITIALIZATION_JS,
        &optimized_write::OPTIMIZED_WRITE,
        &optimized_write::OPTIMIZED_WRITE_FIXED,
        &optimized_write::OPTIMIZED_WRITE_JS,
        // patterns B
        &batch_processing::BATCH_PROCESSING,
        &batch_processing::BATCH_PROCESSING_PATCHED,
        &batch_processing::BATCH_PROCESSING_FIXED,
        &batch_processing::BATCH_PROCESSING_JS,
        &parent_child::PARENT_CHILD,
        &parent_child::PARENT_CHILD_PATCHED,
        &parent_child::PARENT_CHILD_FIXED,
        &parent_child::PARENT_CHILD_JS,
        &write_coalescing::WRITE_COALESCING,
        &write_coalescing::WRITE_COALESCING_FIXED,
        &write_coalescing::WRITE_COALESCING_JS,
        &cleanup::CLEANUP,
        &cleanup::CLEANUP_JS,
    ];
    ALL
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    all().iter().copied().find(|s| s.name() == name)
}
