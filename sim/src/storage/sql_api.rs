//! `ctx.storage.sql`: SQL statements on the object's own database, in the same implicit
//! transaction (and output gate) as its KV writes. The statement machinery (authorizer,
//! limits, cursor) is in `sql`; this ties it to the object: the first writing statement
//! opens the batch, and a critical error resets the object (SEMANTICS.md §5.4, §2.4).

use super::sql::{exec, Cursor, SqlFailure, SqlValue};
use super::{Storage, Store};
use crate::error::{Error, Result};
use std::cell::Cell;

/// The SQL handle of one object instance (SQLite back-end only).
#[derive(Clone)]
pub struct Sql {
    storage: Storage,
}

fn not_sql() -> Error {
    Error::app("Durable Object is not backed by SQL.")
}

/// SQLite calls the progress handler every this many virtual machine steps.
const SQL_STEPS_PER_CHECK: u64 = 100_000;

impl Storage {
    /// `ctx.storage.sql`.
    pub fn sql(&self) -> Sql {
        Sql { storage: self.clone() }
    }
}

impl Sql {
    /// `sql.exec(query, ...bindings)`: runs every statement now (writes included) and
    /// returns the cursor of the last one. Errors are thrown at once, as in workerd.
    pub fn exec(&self, query: &str, bindings: &[SqlValue]) -> Result<Cursor> {
        let core = self.storage.core()?;
        let began = Cell::new(false);
        let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wrote = Cell::new(false);
        let result = {
            let store = core.store.borrow();
            let Store::Sqlite(s) = &*store else { return Err(not_sql()) };
            let (conn, guard) = s.sql_parts();
            // A runaway statement (an endless recursive CTE) is interrupted, deterministically:
            // SQLite counts virtual machine steps.
            let checks = core.world.config().budgets.sql_statement_steps.div_ceil(SQL_STEPS_PER_CHECK);
            let flag = interrupted.clone();
            let mut seen = 0u64;
            conn.progress_handler(
                SQL_STEPS_PER_CHECK as i32,
                Some(move || {
                    seen += 1;
                    let over = seen > checks;
                    if over {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    over
                }),
            );
            let mut before_write = || -> Result<()> {
                if s.open_batch().is_none() && !began.get() {
                    conn.prepare_cached("BEGIN")?.execute([])?;
                    began.set(true);
                }
                wrote.set(true);
                Ok(())
            };
            let result = exec(conn, guard, query, bindings, &mut before_write);
            conn.progress_handler(0, None::<fn() -> bool>);
            result
        };
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            let steps = core.world.config().budgets.sql_statement_steps;
            core.world.overran(format!(
                "{}: a SQL statement ran more than {steps} steps and was interrupted (budget sql-steps)",
                core.label
            ));
        }
        if began.get() {
            let no = match &mut *core.store.borrow_mut() {
                Store::Sqlite(s) => s.adopt_implicit(),
                Store::Kv(_) => unreachable!(),
            };
            core.spawn_commit(no);
        }
        if wrote.get() {
            if let Store::Sqlite(s) = &mut *core.store.borrow_mut() {
                s.touch_user_sql();
            }
            // SQL writes are always confirmed (SEMANTICS.md §2.2).
            core.note_write(true);
        }
        match result {
            Ok(cursor) => Ok(cursor),
            Err(SqlFailure::Error(e)) => Err(e),
            Err(SqlFailure::Critical(e)) => {
                core.reset(&format!("critical SQL error: {}", e.message), Error::reset(e.message.clone()));
                Err(e)
            }
        }
    }

    /// `sql.databaseSize`: bytes in use.
    pub fn database_size(&self) -> Result<u64> {
        let core = self.storage.core()?;
        let store = core.store.borrow();
        let Store::Sqlite(s) = &*store else { return Err(not_sql()) };
        super::sql::database_size(s.sql_parts().0)
    }
}
