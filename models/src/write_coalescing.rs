//! Write Coalescing: `updateMetrics` records each action with un-awaited puts around an
//! awaited get, trusting the writes of one event to commit together; `batchUpdate` wraps
//! its inserts in SQL `BEGIN`/`COMMIT`. Ported faithful and fixed, both in one object.
//!
//! The original, formatted (methods only; the reference shows no class around them):
//!
//! ```ts
//! async updateMetrics(userId: string, actions: Action[]) {
//!   // All writes coalesce - no await needed
//!   for (const action of actions) {
//!     this.ctx.storage.put(`user:${userId}:lastAction`, action.type);
//!     this.ctx.storage.put(`user:${userId}:count`, await this.ctx.storage.get(`user:${userId}:count`) + 1);
//!   }
//!   // Output gate ensures all writes confirm before response
//!   return new Response("OK");
//! }
//!
//! // Atomic batch with SQL
//! async batchUpdate(items: Item[]) {
//!   this.sql.exec('BEGIN');
//!   for (const item of items) {
//!     this.sql.exec('INSERT OR REPLACE INTO items VALUES (?, ?)', item.id, item.value);
//!   }
//!   this.sql.exec('COMMIT');
//! }
//! ```
//!
//! The class around them is the smallest that runs them: its constructor assigns
//! `this.sql = ctx.storage.sql` (as the Schema Migration pattern does; without it
//! `batchUpdate` would throw a `TypeError` first) and creates no table, as the reference
//! creates none.
//!
//! What is wrong:
//! - The coalescing claim holds on the SQLite back-end (a `get` there completes at once, so
//!   the loop is one turn and one atomic batch), but the first `get` of a count returns
//!   `undefined`, and `undefined + 1` is `NaN`: the count is `NaN` from the first action on,
//!   and `NaN + 1` keeps it there.
//! - `BEGIN` through `sql.exec` is refused ("To execute a transaction, please use the
//!   state.storage.transaction() or state.storage.transactionSync() APIs …"), so every
//!   `batchUpdate` fails before writing anything (and `items` does not exist either).
//!
//! The fix ([`FixedMetrics`]): a missing count reads as 0 (`?? 0`); `batchUpdate` runs its
//! inserts inside `transactionSync`, which the runtime does allow, into an `items` table
//! the constructor creates: a failing insert undoes the batch's earlier ones.

use crate::js::JsNumber;
use dosim_sim::{async_trait, DurableObject, Env, Result, Sql, State};
use serde::{Deserialize, Serialize};

/// One action of `updateMetrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// `action.type`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One item of `batchUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `item.id`.
    pub id: String,
    /// `item.value`.
    pub value: String,
}

/// Calls the metrics object understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsCall {
    /// `updateMetrics(userId, actions)`: answers `"OK"`.
    UpdateMetrics {
        /// `userId`.
        user_id: String,
        /// `actions`.
        actions: Vec<Action>,
    },
    /// `batchUpdate(items)`: answers nothing (`undefined`, `null` in the history).
    BatchUpdate {
        /// `items`.
        items: Vec<Item>,
    },
}

fn last_action_key(user: &str) -> String {
    format!("user:{user}:lastAction")
}

fn count_key(user: &str) -> String {
    format!("user:{user}:count")
}

/// The original methods, in the smallest class that runs them.
pub struct Metrics {
    state: State,
    sql: Sql,
}

#[async_trait(?Send)]
impl DurableObject for Metrics {
    type Request = MetricsCall;
    type Response = Option<String>;

    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        Metrics { state, sql }
    }

    async fn call(&self, request: MetricsCall) -> Result<Option<String>> {
        let storage = self.state.storage();
        match request {
            MetricsCall::UpdateMetrics { user_id, actions } => {
                for action in actions {
                    // Not awaited, as in the original (the output gate covers the reply).
                    storage.put(&last_action_key(&user_id), &action.kind);
                    // A key never written reads as `undefined`.
                    let count = storage.get::<JsNumber>(&count_key(&user_id)).await?.unwrap_or(JsNumber::Undefined);
                    storage.put(&count_key(&user_id), &count.plus_one());
                }
                Ok(Some("OK".into()))
            }
            MetricsCall::BatchUpdate { items } => {
                self.sql.exec("BEGIN", &[])?;
                for item in items {
                    self.sql
                        .exec("INSERT OR REPLACE INTO items VALUES (?, ?)", &[item.id.into(), item.value.into()])?;
                }
                self.sql.exec("COMMIT", &[])?;
                Ok(None)
            }
        }
    }
}

/// The fixed port of both methods.
pub struct FixedMetrics {
    state: State,
    sql: Sql,
}

#[async_trait(?Send)]
impl DurableObject for FixedMetrics {
    type Request = MetricsCall;
    type Response = Option<String>;

    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Changed: the table `batchUpdate` writes to exists.
        let _ = sql.exec("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, value TEXT)", &[]);
        FixedMetrics { state, sql }
    }

    async fn call(&self, request: MetricsCall) -> Result<Option<String>> {
        let storage = self.state.storage();
        match request {
            MetricsCall::UpdateMetrics { user_id, actions } => {
                for action in actions {
                    storage.put(&last_action_key(&user_id), &action.kind);
                    // Changed: `(await get(count)) ?? 0`, so the first action counts 1.
                    let count = storage.get::<JsNumber>(&count_key(&user_id)).await?.unwrap_or(JsNumber::Number(0.0));
                    storage.put(&count_key(&user_id), &count.plus_one());
                }
                Ok(Some("OK".into()))
            }
            MetricsCall::BatchUpdate { items } => {
                // Changed: `transactionSync` instead of SQL BEGIN/COMMIT, which the runtime
                // refuses; a failing insert rolls back the batch's earlier ones.
                storage.transaction_sync(|| {
                    for item in items {
                        self.sql
                            .exec("INSERT OR REPLACE INTO items VALUES (?, ?)", &[item.id.into(), item.value.into()])?;
                    }
                    Ok(())
                })?;
                Ok(None)
            }
        }
    }
}
