//! The Safe Counter / Optimized Write pattern: read, then write the successor, trusting
//! the input gate to keep other events out while only storage is awaited.
//!
//! ```ts
//! async getUniqueNumber() { let val = await this.ctx.storage.get("counter");
//!   await this.ctx.storage.put("counter", val + 1); return val; }
//! async increment() { let val = await this.ctx.storage.get("counter");
//!   this.ctx.storage.put("counter", val + 1); return new Response(String(val)); }
//! ```
//!
//! One change from the reference text: a missing counter reads as 0 (`|| 0`). The
//! original adds 1 to `undefined` and stores `NaN`; [`crate::optimized_write`] is that
//! faithful port, and this model is its fix (scenario `optimized-write-fixed`).

use dosim_sim::{DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};

/// Calls a safe counter understands. Both return the value before the increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SafeCounterCall {
    /// Read, `await put(val + 1)`, return the old value.
    GetUniqueNumber,
    /// Read, `put(val + 1)` without awaiting it, return the old value.
    Increment,
}

/// The Safe Counter pattern.
pub struct SafeCounter {
    state: State,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for SafeCounter {
    type Request = SafeCounterCall;
    type Response = u64;

    fn new(state: State, _env: Env) -> Self {
        SafeCounter { state }
    }

    async fn call(&self, request: SafeCounterCall) -> Result<u64> {
        let storage = self.state.storage();
        let val = storage.get::<u64>("counter").await?.unwrap_or(0);
        match request {
            SafeCounterCall::GetUniqueNumber => storage.put("counter", &(val + 1)).await?,
            SafeCounterCall::Increment => {
                storage.put("counter", &(val + 1));
            }
        }
        Ok(val)
    }
}
