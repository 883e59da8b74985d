//! A ticket counter as a Durable Object: every `Take` gets a number nobody else got,
//! and the numbers handed out survive crashes. `tests/tickets.rs` runs it under dosim;
//! the `planted-bug` feature adds an await on a timer between the read and the write,
//! which opens the input gate and lets two takes read the same number.

use dosim::sim::{async_trait, DurableObject, Env, Result, RunReport, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Take the next ticket: its number.
    Take,
    /// How many tickets were taken.
    Peek,
}

/// The object: all its state is in storage.
pub struct TicketCounter {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for TicketCounter {
    type Request = Call;
    type Response = u64;

    fn new(state: State, _env: Env) -> Self {
        TicketCounter { state }
    }

    async fn call(&self, call: Call) -> Result<u64> {
        let storage = self.state.storage();
        // A storage read keeps the input gate closed: no other call runs meanwhile.
        let next = storage.get::<u64>("next").await?.unwrap_or(0);
        match call {
            Call::Peek => Ok(next),
            Call::Take => {
                #[cfg(feature = "planted-bug")]
                {
                    // "Tell the audit log first": a timer is not storage, so the gate
                    // opens here and another take reads the same `next`.
                    self.state.sleep(std::time::Duration::from_millis(2)).await;
                }
                // Not awaited: the output gate holds the reply until the write is durable.
                storage.put("next", &(next + 1));
                Ok(next)
            }
        }
    }
}

/// The binding the tests use, and how the report labels the one counter they call.
pub const BINDING: &str = "TICKETS";
/// The counter's name (`id_from_name`).
pub const NAME: &str = "front-desk";

/// The invariant, from the callers' side: no ticket is handed out twice, every ticket
/// handed out is below the stored count (it survived), and the stored count is not more
/// than the takes attempted.
pub fn tickets_are_unique(report: &RunReport) -> Vec<String> {
    let label = format!("{BINDING}:{NAME}");
    let mut found = Vec::new();
    let takes: Vec<_> = report.history.iter().filter(|op| op.object == label && op.request == "Take").collect();
    let stored = report.durable_value(&label, "next").and_then(|v| v.as_u64()).unwrap_or(0);
    let mut holders: BTreeMap<u64, usize> = BTreeMap::new();
    for op in &takes {
        let Some(ticket) = op.ok_value().and_then(|v| v.as_u64()) else { continue };
        if let Some(first) = holders.insert(ticket, op.index) {
            found.push(format!("ticket {ticket} was handed to take #{first} and to take #{}", op.index));
        }
        if ticket >= stored {
            found.push(format!("take #{} got ticket {ticket}, but the stored count is {stored}: lost", op.index));
        }
    }
    if stored > takes.len() as u64 {
        found.push(format!("the stored count is {stored}, more than the {} takes attempted", takes.len()));
    }
    found
}
