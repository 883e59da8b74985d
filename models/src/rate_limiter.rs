//! The Rate Limiting pattern: a sliding-window log in SQL. Each admitted request leaves a
//! row `(key, timestamp)`; a check drops the rows that left the window, counts the rest,
//! and admits the request if the count is under the limit.
//!
//! ```ts
//! export class RateLimiter extends DurableObject {
//!   async checkLimit(key: string, limit: number, window: number): Promise<boolean> {
//!     const now = Date.now();
//!     this.sql.exec('DELETE FROM requests WHERE key = ? AND timestamp < ?', key, now - window);
//!     const count = this.sql.exec('SELECT COUNT(*) as count FROM requests WHERE key = ?', key).one().count;
//!     if (count >= limit) return false;
//!     this.sql.exec('INSERT INTO requests (key, timestamp) VALUES (?, ?)', key, now);
//!     return true;
//!   }
//! }
//! ```
//!
//! What is wrong: the class never assigns `this.sql`, so every call throws
//! `TypeError: Cannot read properties of undefined (reading 'exec')`: no request is ever
//! admitted. Had it been assigned, the `requests` table is never created (`no such table`).
//! And `timestamp < now - window` keeps a request exactly `window` ms old, so the window is
//! `window + 1` ms wide and a request due to be admitted at its edge is refused.
//!
//! The fix ([`RateLimiterFixed`]) assigns `this.sql` in a constructor that also creates
//! the table, and drops rows with `timestamp <= now - window`.

use crate::js::constructor_threw;
use dosim_sim::{DurableObject, Env, Error, Result, Sql, SqlValue, State};
use serde::{Deserialize, Serialize};

/// Calls of the rate limiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimiterCall {
    /// `checkLimit(key, limit, window)`: `window` in ms.
    CheckLimit { key: String, limit: u64, window: u64 },
}

/// The answer: the original's boolean, plus the `Date.now()` the check used. The time is
/// instrumentation for the checker (the original returns only the boolean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub allowed: bool,
    pub now: u64,
}

/// Which comparison drops old rows.
#[derive(Clone, Copy)]
enum Expiry {
    /// `timestamp < now - window` (the original).
    Before,
    /// `timestamp <= now - window` (the fix).
    AtOrBefore,
}

/// `checkLimit`, statement for statement. JavaScript binds every number as a REAL and
/// reads `COUNT(*)` back as a number; the arithmetic is on doubles, as there.
fn check_limit(state: &State, sql: &Sql, key: &str, limit: u64, window: u64, expiry: Expiry) -> Result<Decision> {
    let now = state.now().as_millis();
    let cutoff = now as f64 - window as f64;
    let delete = match expiry {
        Expiry::Before => "DELETE FROM requests WHERE key = ? AND timestamp < ?",
        Expiry::AtOrBefore => "DELETE FROM requests WHERE key = ? AND timestamp <= ?",
    };
    sql.exec(delete, &[SqlValue::from(key), SqlValue::Real(cutoff)])?;
    let row = sql.exec("SELECT COUNT(*) as count FROM requests WHERE key = ?", &[SqlValue::from(key)])?.one()?;
    let count = row.get("count").and_then(SqlValue::as_f64).unwrap_or(f64::NAN);
    if count >= limit as f64 {
        return Ok(Decision { allowed: false, now });
    }
    sql.exec(
        "INSERT INTO requests (key, timestamp) VALUES (?, ?)",
        &[SqlValue::from(key), SqlValue::Real(now as f64)],
    )?;
    Ok(Decision { allowed: true, now })
}

/// The Rate Limiting pattern as written.
pub struct RateLimiter {
    state: State,
    /// `this.sql`: the class never assigns it, so it is `undefined`.
    sql: Option<Sql>,
}

impl RateLimiter {
    /// Reading `this.sql.exec` when `this.sql` is `undefined` throws this `TypeError`.
    fn sql(&self) -> Result<&Sql> {
        self.sql.as_ref().ok_or_else(|| Error::usage("Cannot read properties of undefined (reading 'exec')"))
    }
}

#[async_trait::async_trait(?Send)]
impl DurableObject for RateLimiter {
    type Request = RateLimiterCall;
    type Response = Decision;

    fn new(state: State, _env: Env) -> Self {
        // No constructor in the original: nothing assigns `this.sql`.
        RateLimiter { state, sql: None }
    }

    async fn call(&self, request: RateLimiterCall) -> Result<Decision> {
        let RateLimiterCall::CheckLimit { key, limit, window } = request;
        check_limit(&self.state, self.sql()?, &key, limit, window, Expiry::Before)
    }
}

/// The Rate Limiting pattern, fixed.
pub struct RateLimiterFixed {
    state: State,
    sql: Sql,
    /// What the constructor threw, if it did (it rethrows on every call).
    threw: Option<Error>,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for RateLimiterFixed {
    type Request = RateLimiterCall;
    type Response = Decision;

    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let threw = sql
            .exec("CREATE TABLE IF NOT EXISTS requests (key TEXT NOT NULL, timestamp REAL NOT NULL)", &[])
            .and_then(|_| sql.exec("CREATE INDEX IF NOT EXISTS requests_by_key ON requests (key, timestamp)", &[]))
            .err();
        RateLimiterFixed { state, sql, threw }
    }

    async fn call(&self, request: RateLimiterCall) -> Result<Decision> {
        if let Some(e) = &self.threw {
            return Err(constructor_threw(&self.state, e));
        }
        let RateLimiterCall::CheckLimit { key, limit, window } = request;
        check_limit(&self.state, &self.sql, &key, limit, window, Expiry::AtOrBefore)
    }
}
