//! The Initialization pattern: the constructor loads the counter inside
//! `blockConcurrencyWhile`, and `increment` bumps the in-memory value and writes it
//! without awaiting the write (the output gate holds the reply until it is durable).
//!
//! ```ts
//! constructor(ctx, env) {
//!   super(ctx, env);
//!   ctx.blockConcurrencyWhile(async () => { this.value = (await ctx.storage.get("value")) || 0; });
//! }
//! async increment() { this.value++; this.ctx.storage.put("value", this.value); return this.value; }
//! ```

use dosim_sim::{DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::rc::Rc;

/// Calls a counter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterCall {
    /// Add one and return the new value.
    Increment,
}

/// The Initialization pattern's counter.
pub struct Counter {
    state: State,
    value: Rc<Cell<u64>>,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for Counter {
    type Request = CounterCall;
    type Response = u64;

    fn new(state: State, _env: Env) -> Self {
        let value = Rc::new(Cell::new(0));
        let (slot, storage) = (value.clone(), state.storage().clone());
        // Not awaited: the critical section itself keeps every event out until it is done.
        state.block_concurrency_while(async move {
            slot.set(storage.get::<u64>("value").await?.unwrap_or(0));
            Ok(())
        });
        Counter { state, value }
    }

    async fn call(&self, request: CounterCall) -> Result<u64> {
        match request {
            CounterCall::Increment => {
                self.value.set(self.value.get() + 1);
                // Not awaited, on purpose: the output gate protects the reply.
                self.state.storage().put("value", &self.value.get());
                Ok(self.value.get())
            }
        }
    }
}
