//! Durable Object implementations that dosim drives. Each module ports one pattern;
//! nothing here knows about scenarios or checkers.
//!
//! | module              | object                      | pattern                                                  |
//! |---------------------|-----------------------------|----------------------------------------------------------|
//! | [`counter`]         | `Counter`                   | Initialization: load in `block_concurrency_while`, un-awaited put |
//! | [`safe_counter`]    | `SafeCounter`               | Safe counter: get then put, awaited or not (input gate)   |
//! | [`racy_counter`]    | `RacyCounter`               | A lost update on purpose: get, sleep, put                 |
//! | [`schema_migration`]| `SchemaMigration`, `…Fixed` | Schema Migration: versioned `CREATE`/`ALTER` in the constructor |
//! | [`in_memory_cache`] | `UserCache`                 | In-Memory Caching: a `Map` in front of storage            |
//! | [`rate_limiter`]    | `RateLimiter`, `…Fixed`     | Rate Limiting: a sliding-window log in SQL                |
//! | [`optimized_write`] | `OptimizedWrite`            | Safe Counter / Optimized Write as written (`undefined + 1`) |
//! | [`js`]              |                             | JavaScript values and behaviours the faithful ports need  |
//! | [`bank`]            | `Bank`                      | Transfers in `transaction()`, rollbacks, counted deletes (KV) |
//! | [`flaky_alarm`]     | `FlakyAlarm`                | An alarm handler that fails a chosen number of times      |
//! | [`script`]          | `Script`                    | Runs a storage program (differential runs against workerd) |
//! | [`batch_processing`]| `BatchProcessor`, `FixedBatchProcessor` | Batch Processing with Alarms: a 5 s alarm inserts the queued items |
//! | [`parent_child`]    | `Workspace` + `Document`, `Fixed…` | Parent-Child Coordination: a parent creates and lists child objects |
//! | [`write_coalescing`]| `Metrics`, `FixedMetrics`   | Write Coalescing: `updateMetrics`, `batchUpdate`         |
//! | [`cleanup`]         | `Cleanup`                   | Cleanup: `deleteAlarm()`, then `deleteAll()` (right as written) |

pub mod bank;
pub mod counter;
pub mod flaky_alarm;
pub mod in_memory_cache;
pub mod js;
pub mod optimized_write;
pub mod racy_counter;
pub mod rate_limiter;
pub mod safe_counter;
pub mod schema_migration;
pub mod script;

// patterns B
pub mod batch_processing;
pub mod cleanup;
pub mod parent_child;
pub mod write_coalescing;

pub use bank::Bank;
pub use counter::Counter;
pub use flaky_alarm::FlakyAlarm;
pub use in_memory_cache::UserCache;
pub use optimized_write::OptimizedWrite;
pub use racy_counter::RacyCounter;
pub use rate_limiter::{RateLimiter, RateLimiterFixed};
pub use safe_counter::SafeCounter;
pub use schema_migration::{SchemaMigration, SchemaMigrationFixed};
pub use script::Script;
