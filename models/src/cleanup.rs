//! Cleanup: `deleteAlarm()` then `deleteAll()`, both awaited. Right as written, and kept
//! as a negative control; a variant without `deleteAlarm()` shows what the first call buys.
//!
//! The original, formatted (a method only; the class around it here stores data and arms
//! alarms so there is something to clean up):
//!
//! ```ts
//! async cleanup() {
//!   await this.ctx.storage.deleteAlarm(); // Separate from deleteAll
//!   await this.ctx.storage.deleteAll();
//! }
//! ```
//!
//! Why it is right (SEMANTICS.md §3.1, §4.6, §6.1): on the SQLite back-end both calls
//! complete at once, so the awaits do not end the turn and both writes land in one
//! implicit transaction. A crash keeps both or neither, and the reply waits until they
//! are durable. Once acknowledged, nothing written before the cleanup is left, and the
//! alarm is gone whether or not `deleteAll()` deletes it too (compatibility flag
//! `delete_all_deletes_alarm`, on from compatibility date 2026-02-24 and so by default,
//! [`SimConfig`]'s `compatibility`): `deleteAlarm()` covers objects on older compatibility dates.
//! An alarm already running is not cancelled, as the runtime never cancels one; a retry
//! it would have had finds no alarm and does not run.
//!
//! [`CleanupDeleteAllOnly`] drops the `deleteAlarm()` call: right under the flag, wrong
//! without it (the alarm survives the cleanup and fires afterwards).
//!
//! [`SimConfig`]: dosim_sim::SimConfig

use dosim_sim::{async_trait, AlarmInfo, DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};

/// Calls the cleanup object understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupCall {
    /// Store `value` under `key`.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Set the alarm `in_ms` from now; answers the alarm time it set.
    Arm {
        /// Delay in ms.
        in_ms: u64,
    },
    /// `cleanup()`.
    Cleanup,
}

/// An object with the Cleanup method; `DELETE_ALARM` = it calls `deleteAlarm()` first, as
/// the original does.
pub struct Cleaner<const DELETE_ALARM: bool> {
    state: State,
}

/// The Cleanup pattern as written.
pub type Cleanup = Cleaner<true>;

/// The Cleanup pattern without its `deleteAlarm()` (relies on `deleteAll()` alone).
pub type CleanupDeleteAllOnly = Cleaner<false>;

#[async_trait(?Send)]
impl<const DELETE_ALARM: bool> DurableObject for Cleaner<DELETE_ALARM> {
    type Request = CleanupCall;
    type Response = Option<u64>;

    fn new(state: State, _env: Env) -> Self {
        Cleaner { state }
    }

    async fn call(&self, request: CleanupCall) -> Result<Option<u64>> {
        let storage = self.state.storage();
        match request {
            CleanupCall::Put { key, value } => {
                storage.put(&key, &value).await?;
                Ok(None)
            }
            CleanupCall::Arm { in_ms } => {
                let at = self.state.now().as_millis() + in_ms;
                storage.set_alarm(at).await?;
                Ok(Some(at))
            }
            CleanupCall::Cleanup => {
                if DELETE_ALARM {
                    storage.delete_alarm().await?;
                }
                storage.delete_all().await?;
                Ok(None)
            }
        }
    }

    /// Does nothing: the runtime records every attempt, which is what the checker reads.
    async fn alarm(&self, _info: AlarmInfo) -> Result<()> {
        Ok(())
    }
}
