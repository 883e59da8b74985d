//! A counter with a lost update on purpose: it reads, waits on a timer, then writes. A
//! timer is not storage, so the input gate opens during the wait and two increments can
//! read the same value. The harness must find this.

use dosim_sim::{DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Calls a racy counter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RacyCounterCall {
    /// Read, sleep 2 ms, write the successor, return it.
    Increment,
}

/// Read, sleep, write.
pub struct RacyCounter {
    state: State,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for RacyCounter {
    type Request = RacyCounterCall;
    type Response = u64;

    fn new(state: State, _env: Env) -> Self {
        RacyCounter { state }
    }

    async fn call(&self, _request: RacyCounterCall) -> Result<u64> {
        let storage = self.state.storage();
        let val = storage.get::<u64>("value").await?.unwrap_or(0);
        self.state.sleep(Duration::from_millis(2)).await;
        storage.put("value", &(val + 1)).await?;
        Ok(val + 1)
    }
}
