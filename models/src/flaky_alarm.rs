//! An object whose alarm handler fails a chosen number of times before it succeeds: it
//! exercises the runtime's alarm retries (backoff, jitter, counting, abandonment).

use dosim_sim::{AlarmInfo, DurableObject, Env, Error, Result, State};
use serde::{Deserialize, Serialize};

/// Calls a flaky alarm understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlakyAlarmCall {
    /// Set the alarm `in_ms` from now; its handler fails the first `fail` attempts.
    Arm {
        /// Attempts that fail before one succeeds.
        fail: u32,
        /// Delay of the alarm.
        in_ms: u64,
    },
}

/// Fails its alarm handler on purpose.
pub struct FlakyAlarm {
    state: State,
}

#[dosim_sim::async_trait(?Send)]
impl DurableObject for FlakyAlarm {
    type Request = FlakyAlarmCall;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        FlakyAlarm { state }
    }

    async fn call(&self, request: FlakyAlarmCall) -> Result<()> {
        let FlakyAlarmCall::Arm { fail, in_ms } = request;
        let s = self.state.storage();
        s.put("fail", &fail);
        s.set_alarm(self.state.now().as_millis() + in_ms).await
    }

    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        let s = self.state.storage();
        let attempts: u32 = s.get("attempts").await?.unwrap_or(0);
        s.put("attempts", &(attempts + 1)).await?;
        let fail: u32 = s.get("fail").await?.unwrap_or(0);
        if info.retry_count < fail {
            return Err(Error::app(format!("failing on purpose ({} of {fail})", info.retry_count + 1)));
        }
        Ok(())
    }
}
