//! The Safe Counter / Optimized Write pattern exactly as the reference document writes it:
//! read the counter, write the successor (awaited, or not), answer the old value. The
//! input gate makes it race-free; the arithmetic is JavaScript's.
//!
//! ```ts
//! // Input gate blocks other requests
//! async getUniqueNumber(): Promise<number> {
//!   let val = await this.ctx.storage.get("counter");
//!   await this.ctx.storage.put("counter", val + 1);
//!   return val;
//! }
//! // No await on write - output gate delays response until write confirms
//! async increment(): Promise<Response> {
//!   let val = await this.ctx.storage.get("counter");
//!   this.ctx.storage.put("counter", val + 1);
//!   return new Response(String(val));
//! }
//! ```
//!
//! What is wrong: nothing initialises the counter. The first call reads `undefined`, hands
//! it out, and stores `undefined + 1`, which is `NaN`; every later call reads `NaN`, hands
//! it out and stores `NaN + 1`, still `NaN`. No caller ever gets a number.
//!
//! The fix is [`crate::SafeCounter`]: `(await get("counter")) || 0`, so a missing counter
//! reads as 0.

use crate::js::JsNumber;
use crate::safe_counter::SafeCounterCall;
use dosim_sim::{DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};

/// What a call answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptimizedWriteReply {
    /// `getUniqueNumber()`: `val` itself (`undefined` is JSON `null`, `NaN` is `"NaN"`).
    Number(JsNumber),
    /// `increment()`: `new Response(String(val))`, as its body text.
    Response { body: String },
}

/// The pattern as written.
pub struct OptimizedWrite {
    state: State,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for OptimizedWrite {
    type Request = SafeCounterCall;
    type Response = OptimizedWriteReply;

    fn new(state: State, _env: Env) -> Self {
        OptimizedWrite { state }
    }

    async fn call(&self, request: SafeCounterCall) -> Result<OptimizedWriteReply> {
        let storage = self.state.storage();
        // A missing key reads as `undefined`; nothing turns it into 0.
        let val = storage.get::<JsNumber>("counter").await?.unwrap_or(JsNumber::Undefined);
        match request {
            SafeCounterCall::GetUniqueNumber => {
                storage.put("counter", &val.plus_one()).await?;
                Ok(OptimizedWriteReply::Number(val))
            }
            SafeCounterCall::Increment => {
                // Not awaited, as in the original: the output gate holds the reply.
                storage.put("counter", &val.plus_one());
                Ok(OptimizedWriteReply::Response { body: val.to_js_string() })
            }
        }
    }
}
