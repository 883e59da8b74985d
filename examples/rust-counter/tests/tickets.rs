//! The ticket counter under dosim: clients take tickets at once while the seed's faults
//! crash the object; `tickets_are_unique` judges every run.
//!
//! `cargo test` runs 100 seeds; `DOSIM_SEEDS=5000 cargo test` more; `DOSIM_SEED=N cargo
//! test` one seed with its trace. `cargo test --features planted-bug` fails.

use dosim::prelude::*;
use rust_counter::{tickets_are_unique, Call, TicketCounter, BINDING, NAME};
use std::time::Duration;

#[dosim::test(invariant = tickets_are_unique)]
async fn every_ticket_is_handed_out_once(world: World) {
    let tickets = world.namespace::<TicketCounter>(BINDING);
    let id = tickets.id_from_name(NAME);
    // The workload draws its shape from the seed: dosim shrinks these draws on a failure.
    let clients = world.draw(2..=4usize);
    let mut running = Vec::new();
    for c in 0..clients {
        let takes = world.draw(1..=5usize);
        let (w, tickets, id) = (world.clone(), tickets.clone(), id.clone());
        running.push(world.spawn(async move {
            for _ in 0..takes {
                w.sleep(Duration::from_millis(w.draw(0..=3u64))).await;
                let call = if w.draw(0..10u8) == 0 { Call::Peek } else { Call::Take };
                // A fresh stub per call: a stub that saw its object reset stays broken.
                // A failed call is in the history; the invariant knows what it means.
                let _ = w.client(c).call(&tickets.get(&id), call).await;
            }
        }));
    }
    for r in running {
        let _ = r.await;
    }
}
