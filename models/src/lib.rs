//! Durable Object implementations that dosim drives. Each module ports one pattern;
//! nothing here knows about scenarios or checkers.
//!
//! | module           | object         | pattern                                                  |
//! |------------------|----------------|----------------------------------------------------------|
//! | [`counter`]      | `Counter`      | Initialization: load in `block_concurrency_while`, un-awaited put |
//! | [`safe_counter`] | `SafeCounter`  | Safe counter: get then put, awaited or not (input gate)   |
//! | [`racy_counter`] | `RacyCounter`  | A lost update on purpose: get, sleep, put                 |
//! | [`script`]       | `Script`       | Runs a storage program (differential runs against workerd) |

pub mod counter;
pub mod racy_counter;
pub mod safe_counter;
pub mod script;

pub use counter::Counter;
pub use racy_counter::RacyCounter;
pub use safe_counter::SafeCounter;
pub use script::Script;
