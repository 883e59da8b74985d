//! Batch Processing with Alarms: `addItem` queues an item and arms a 5 s alarm, whose
//! handler inserts the queued batch into `processed_items`. Ported three ways: faithful,
//! patched (its runtime errors fixed, its design kept) and fixed.
//!
//! The original, formatted:
//!
//! ```ts
//! export class BatchProcessor extends DurableObject {
//!   pending: string[] = [];
//!
//!   async addItem(item: string) {
//!     this.pending.push(item);
//!     if (!await this.ctx.storage.getAlarm()) await this.ctx.storage.setAlarm(Date.now() + 5000);
//!   }
//!
//!   async alarm() {
//!     const items = [...this.pending];
//!     this.pending = [];
//!     this.sql.exec(
//!       `INSERT INTO processed_items (item, timestamp) VALUES ${items.map(() => "(?, ?)").join(", ")}`,
//!       ...items.flatMap(item => [item, Date.now()]),
//!     );
//!   }
//! }
//! ```
//!
//! What is wrong:
//! - `this.sql` is never assigned, so every alarm throws `TypeError: Cannot read properties
//!   of undefined (reading 'exec')`, after `this.pending = []` has already dropped the
//!   batch. The runtime retries the alarm (with nothing left to insert) and abandons it
//!   after 6 retries: no acknowledged item is ever processed. Nothing creates
//!   `processed_items` either (`no such table` comes next).
//! - With both patched ([`Patched`]), the design still loses items: `pending` lives only in
//!   memory, so an item acknowledged before a crash, reset or eviction is gone when the
//!   alarm runs on the fresh instance; and that alarm, with an empty batch, builds
//!   `VALUES ` with nothing after it, a syntax error. A batch of more than 50 items would
//!   exceed the 100 bound parameters, and is dropped from memory before the insert fails.
//!
//! The fix ([`FixedBatchProcessor`]): `addItem` inserts the item into a `pending` table (the
//! output gate holds the acknowledgement until it is durable, together with the alarm);
//! the alarm moves every pending row to `processed_items` with `INSERT … SELECT` and
//! `DELETE` in one `transactionSync`, so a crash keeps both statements or neither: every
//! acknowledged item is processed exactly once, whatever the batch size, and an empty
//! batch inserts nothing.

use crate::js::{undefined_property, Faithful, Port};
use dosim_sim::{async_trait, AlarmInfo, DurableObject, Env, Result, Sql, SqlValue, State};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::marker::PhantomData;

/// How long `addItem` waits before the batch is processed.
pub const BATCH_DELAY_MS: u64 = 5000;

/// Calls a batch processor understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchCall {
    /// `addItem(item)`.
    AddItem(String),
}

/// The original `BatchProcessor` (`P` = [`Faithful`]), or the original with `this.sql`
/// assigned and `processed_items` created (`P` = [`Patched`](crate::js::Patched)).
pub struct BatchProcessor<P: Port = Faithful> {
    state: State,
    /// `this.sql`: the original never assigns it, so it is `undefined`.
    sql: Option<Sql>,
    /// `pending: string[] = []`: memory only, gone with the instance.
    pending: RefCell<Vec<String>>,
    _port: PhantomData<P>,
}

impl<P: Port> BatchProcessor<P> {
    /// `this.sql.exec`: a `TypeError` while `this.sql` is `undefined`.
    fn sql(&self) -> Result<&Sql> {
        self.sql.as_ref().ok_or_else(|| undefined_property("exec"))
    }
}

#[async_trait(?Send)]
impl<P: Port> DurableObject for BatchProcessor<P> {
    type Request = BatchCall;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        let sql = P::PATCHED.then(|| {
            let sql = state.storage().sql();
            // Patch: the table the alarm writes to. It cannot fail on a live instance.
            let _ = sql.exec("CREATE TABLE IF NOT EXISTS processed_items (item TEXT, timestamp INTEGER)", &[]);
            sql
        });
        BatchProcessor { state, sql, pending: RefCell::default(), _port: PhantomData }
    }

    async fn call(&self, request: BatchCall) -> Result<()> {
        let BatchCall::AddItem(item) = request;
        self.pending.borrow_mut().push(item);
        let storage = self.state.storage();
        // `!await getAlarm()`: no alarm is `null` (an alarm time is never 0).
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(self.state.now().as_millis() + BATCH_DELAY_MS).await?;
        }
        Ok(())
    }

    async fn alarm(&self, _info: AlarmInfo) -> Result<()> {
        let items = std::mem::take(&mut *self.pending.borrow_mut());
        // JavaScript evaluates the callee `this.sql.exec` before the arguments, so with
        // `this.sql` undefined the TypeError is thrown here, with the batch already dropped.
        let sql = self.sql()?;
        let query =
            format!("INSERT INTO processed_items (item, timestamp) VALUES {}", vec!["(?, ?)"; items.len()].join(", "));
        // `Date.now()` is a number, and numbers are bound as REAL.
        let now = self.state.now().as_millis() as f64;
        let bindings: Vec<SqlValue> =
            items.iter().flat_map(|item| [SqlValue::from(item.as_str()), SqlValue::Real(now)]).collect();
        sql.exec(&query, &bindings)?;
        Ok(())
    }
}

/// The fixed port: pending items are stored, and the alarm moves them atomically.
pub struct FixedBatchProcessor {
    state: State,
    sql: Sql,
}

#[async_trait(?Send)]
impl DurableObject for FixedBatchProcessor {
    type Request = BatchCall;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        // Changed: `this.sql` is assigned, and both tables exist before any call uses them.
        let sql = state.storage().sql();
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS processed_items (item TEXT NOT NULL, timestamp INTEGER NOT NULL)",
            &[],
        );
        FixedBatchProcessor { state, sql }
    }

    async fn call(&self, request: BatchCall) -> Result<()> {
        let BatchCall::AddItem(item) = request;
        // Changed: the item is stored, not kept in memory. It joins the batch of the alarm
        // write below, and the reply waits until both are durable.
        self.sql.exec("INSERT INTO pending (item) VALUES (?)", &[item.into()])?;
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(self.state.now().as_millis() + BATCH_DELAY_MS).await?;
        }
        Ok(())
    }

    async fn alarm(&self, _info: AlarmInfo) -> Result<()> {
        let now = SqlValue::Real(self.state.now().as_millis() as f64);
        // Changed: one statement moves the whole batch (no bound-parameter limit, nothing
        // to build when it is empty), and the delete commits with it or not at all, so a
        // retried alarm finds only what an earlier attempt did not process.
        self.state.storage().transaction_sync(|| {
            self.sql.exec(
                "INSERT INTO processed_items (item, timestamp) SELECT item, ? FROM pending ORDER BY seq",
                &[now],
            )?;
            self.sql.exec("DELETE FROM pending", &[])?;
            Ok(())
        })
    }
}
