//! The Schema Migration pattern: the constructor reads a schema version, runs the
//! migrations the database has not seen yet, and records the new version. Two methods
//! that use the schema (`add_user`, `get_user`) are the workload's, not the pattern's.
//!
//! ```ts
//! export class MyDurableObject extends DurableObject {
//!   constructor(ctx: DurableObjectState, env: Env) {
//!     super(ctx, env);
//!     this.sql = ctx.storage.sql;
//!     // Use SQLite's built-in user_version pragma
//!     const ver = this.sql.exec("PRAGMA user_version").one()?.user_version || 0;
//!     if (ver === 0) {
//!       this.sql.exec(`CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)`);
//!       this.sql.exec("PRAGMA user_version = 1");
//!     }
//!     if (ver === 1) {
//!       this.sql.exec(`ALTER TABLE users ADD COLUMN email TEXT`);
//!       this.sql.exec("PRAGMA user_version = 2");
//!     }
//!   }
//! }
//! ```
//!
//! What is wrong: workerd's authorizer does not allow `PRAGMA user_version` (SEMANTICS.md
//! §5.3), so the first statement throws `not authorized` and the constructor with it, on
//! every start: the object never serves a request. Behind that hides a second defect: `ver`
//! is read once, so a fresh database gets version 1 (no `email` column) and only the next
//! start adds the column.
//!
//! The fix ([`SchemaMigrationFixed`]) keeps the version in a table of its own, lets each
//! migration advance `ver` so a fresh database runs them all, and runs them in
//! `transactionSync`, so a migration and its version are committed together or not at all.

use crate::js::constructor_threw;
use dosim_sim::{DurableObject, Env, Error, Result, Sql, SqlValue, State};
use serde::{Deserialize, Serialize};

/// Calls of the users object (the workload's own methods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsersCall {
    /// `INSERT INTO users (id, name, email) VALUES (?, ?, ?)`.
    AddUser { id: i64, name: String, email: String },
    /// `SELECT id, name, email FROM users WHERE id = ?`.
    GetUser { id: i64 },
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// What a call answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsersReply {
    /// The user was inserted.
    Added { id: i64 },
    /// The user read, or `null` if there is none.
    Found(Option<User>),
}

/// The original constructor, statement for statement.
fn migrate_as_written(sql: &Sql) -> Result<()> {
    // `.one()?.user_version || 0`: `one()` throws rather than return nothing; `|| 0` turns
    // every falsy value (0, null, NaN) into 0. Never reached on workerd: the pragma throws.
    let ver = sql.exec("PRAGMA user_version", &[])?.one()?.get("user_version").and_then(SqlValue::as_f64);
    let ver = ver.filter(|v| *v != 0.0 && !v.is_nan()).unwrap_or(0.0);
    if ver == 0.0 {
        sql.exec("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)", &[])?;
        sql.exec("PRAGMA user_version = 1", &[])?;
    }
    // `ver` is still the value read above: on a fresh database this branch is skipped.
    if ver == 1.0 {
        sql.exec("ALTER TABLE users ADD COLUMN email TEXT", &[])?;
        sql.exec("PRAGMA user_version = 2", &[])?;
    }
    Ok(())
}

/// The fixed migrations: the version lives in `schema_version`; each step advances `ver`.
fn migrate_fixed(state: &State, sql: &Sql) -> Result<()> {
    state.storage().transaction_sync(|| {
        sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", &[])?;
        let stored = sql.exec("SELECT version FROM schema_version", &[])?.next();
        let from = stored.and_then(|row| row.get("version").and_then(SqlValue::as_i64)).unwrap_or(0);
        let mut ver = from;
        if ver < 1 {
            sql.exec("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)", &[])?;
            ver = 1;
        }
        if ver < 2 {
            sql.exec("ALTER TABLE users ADD COLUMN email TEXT", &[])?;
            ver = 2;
        }
        if ver != from {
            sql.exec("DELETE FROM schema_version", &[])?;
            sql.exec("INSERT INTO schema_version (version) VALUES (?)", &[SqlValue::Integer(ver)])?;
        }
        Ok(())
    })
}

/// The two methods, the same in both ports. JavaScript binds every number as a REAL; an
/// integral REAL stored into `INTEGER PRIMARY KEY` becomes the integer, as in workerd.
fn serve(sql: &Sql, request: UsersCall) -> Result<UsersReply> {
    match request {
        UsersCall::AddUser { id, name, email } => {
            let binds = [SqlValue::Real(id as f64), SqlValue::Text(name), SqlValue::Text(email)];
            sql.exec("INSERT INTO users (id, name, email) VALUES (?, ?, ?)", &binds)?;
            Ok(UsersReply::Added { id })
        }
        UsersCall::GetUser { id } => {
            let mut rows = sql.exec("SELECT id, name, email FROM users WHERE id = ?", &[SqlValue::Real(id as f64)])?;
            let user = rows.next().map(|row| User {
                id: row.get("id").and_then(SqlValue::as_i64).unwrap_or(id),
                name: row.get("name").and_then(SqlValue::as_str).map(str::to_owned),
                email: row.get("email").and_then(SqlValue::as_str).map(str::to_owned),
            });
            Ok(UsersReply::Found(user))
        }
    }
}

/// The Schema Migration pattern as written (`MyDurableObject`).
pub struct SchemaMigration {
    state: State,
    sql: Sql,
    /// What the constructor threw, if it did.
    threw: Option<Error>,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for SchemaMigration {
    type Request = UsersCall;
    type Response = UsersReply;

    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let threw = migrate_as_written(&sql).err();
        SchemaMigration { state, sql, threw }
    }

    async fn call(&self, request: UsersCall) -> Result<UsersReply> {
        if let Some(e) = &self.threw {
            return Err(constructor_threw(&self.state, e));
        }
        serve(&self.sql, request)
    }
}

/// The Schema Migration pattern, fixed.
pub struct SchemaMigrationFixed {
    state: State,
    sql: Sql,
    threw: Option<Error>,
}

#[async_trait::async_trait(?Send)]
impl DurableObject for SchemaMigrationFixed {
    type Request = UsersCall;
    type Response = UsersReply;

    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let threw = migrate_fixed(&state, &sql).err();
        SchemaMigrationFixed { state, sql, threw }
    }

    async fn call(&self, request: UsersCall) -> Result<UsersReply> {
        if let Some(e) = &self.threw {
            return Err(constructor_threw(&self.state, e));
        }
        serve(&self.sql, request)
    }
}
