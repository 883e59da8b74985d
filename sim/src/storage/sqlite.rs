//! One object's SQLite database (rusqlite, bundled, in memory): the KV API lives in the
//! hidden table `_cf_KV`; writes run at once inside an implicit transaction (a *batch*)
//! that the commit task closes on a later turn. Also keeps the committed KV state as the
//! write log says it should be (the shadow) so the checkers can compare after a crash.

use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

/// Writes of one implicit transaction, in order. `None` is a delete.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub no: u64,
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Key range and order of a `list()`, already compiled (see `ListOptions`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Range {
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
    pub reverse: bool,
    pub limit: Option<u64>,
}

pub(crate) struct SqliteStore {
    conn: Connection,
    open: Option<Batch>,
    next_batch: u64,
    shadow: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl SqliteStore {
    /// A fresh database whose `random()` and `randomblob()` draw from `seed`.
    pub fn open(seed: u64) -> Result<SqliteStore> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE TABLE _cf_KV (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID;",
        )?;
        seed_random(&conn, seed)?;
        Ok(SqliteStore {
            conn,
            open: None,
            next_batch: 1,
            shadow: BTreeMap::new(),
        })
    }

    /// Number of the open batch, if a write is waiting for its commit.
    pub fn open_batch(&self) -> Option<u64> {
        self.open.as_ref().map(|b| b.no)
    }

    /// Starts the implicit transaction if none is open; returns its number if it is new.
    fn begin(&mut self) -> Result<Option<u64>> {
        if self.open.is_some() {
            return Ok(None);
        }
        self.conn.execute_batch("BEGIN")?;
        let no = self.next_batch;
        self.next_batch += 1;
        self.open = Some(Batch {
            no,
            writes: Vec::new(),
        });
        Ok(Some(no))
    }

    fn log(&mut self, key: &[u8], value: Option<&[u8]>) {
        if let Some(b) = self.open.as_mut() {
            b.writes.push((key.to_vec(), value.map(<[u8]>::to_vec)));
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT value FROM _cf_KV WHERE key = ?1")?;
        Ok(st.query_row(params![key], |r| r.get(0)).optional()?)
    }

    pub fn list(&self, range: &Range) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let order = if range.reverse { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT key, value FROM _cf_KV WHERE (?1 IS NULL OR key >= ?1) AND (?2 IS NULL OR key < ?2) \
             ORDER BY key {order} LIMIT ?3"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let limit = range.limit.map_or(-1, |l| l as i64);
        let rows = st.query_map(params![range.start, range.end, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes every entry or none (a savepoint inside the implicit transaction, T44).
    /// Returns the number of a batch this write opened.
    pub fn put_all(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Option<u64>> {
        let new = self.begin()?;
        self.conn.execute_batch("SAVEPOINT _cf_put")?;
        let res = (|| -> Result<()> {
            let mut st = self
                .conn
                .prepare_cached("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?1, ?2)")?;
            for (k, v) in entries {
                st.execute(params![k, v])?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                self.conn.execute_batch("RELEASE _cf_put")?;
                for (k, v) in entries {
                    self.log(k, Some(v));
                }
                Ok(new)
            }
            Err(e) => {
                self.conn
                    .execute_batch("ROLLBACK TO _cf_put; RELEASE _cf_put")?;
                Err(e)
            }
        }
    }

    /// Deletes the keys; returns how many existed and the number of a batch it opened.
    pub fn delete_all_of(&mut self, keys: &[Vec<u8>]) -> Result<(usize, Option<u64>)> {
        let new = self.begin()?;
        let mut n = 0;
        {
            let mut st = self
                .conn
                .prepare_cached("DELETE FROM _cf_KV WHERE key = ?1")?;
            for k in keys {
                n += st.execute(params![k])?;
            }
        }
        for k in keys {
            self.log(k, None);
        }
        Ok((n, new))
    }

    /// Commits the open batch; the shadow follows the write log.
    pub fn commit(&mut self) -> Result<Option<Batch>> {
        let Some(batch) = self.open.take() else {
            return Ok(None);
        };
        self.conn.execute_batch("COMMIT")?;
        for (k, v) in &batch.writes {
            match v {
                Some(v) => self.shadow.insert(k.clone(), v.clone()),
                None => self.shadow.remove(k),
            };
        }
        Ok(Some(batch))
    }

    /// Rolls the open batch back (crash): its writes are lost.
    pub fn rollback(&mut self) -> Option<Batch> {
        let batch = self.open.take()?;
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            // Rolling back an open in-memory transaction cannot fail short of a SQLite bug;
            // say so loudly rather than carry on over a half-state.
            panic!("dosim: SQLite ROLLBACK failed: {e}");
        }
        Some(batch)
    }

    /// The whole KV table as SQLite has it (committed state when no batch is open).
    pub fn kv_rows(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        Ok(self.list(&Range::default())?.into_iter().collect())
    }

    /// The committed KV state the write log implies.
    pub fn shadow(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.shadow
    }
}

/// Process-wide state that would otherwise be initialized inside the first run of a
/// process, and there draw from madsim's seeded randomness (shifting that run alone):
/// SQLite's PRNG, seeded from the OS on first use (a journal nonce on the first write),
/// and ahash's process seed, drawn when rusqlite builds its first statement cache. Both
/// are settled here, once, outside any run; SQLite's PRNG with a fixed seed.
pub(crate) fn prime_process() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        const SQLITE_TESTCTRL_PRNG_SEED: std::os::raw::c_int = 28;
        // SAFETY: PRNG_SEED takes (int seed, sqlite3 *db); a null db is allowed.
        unsafe {
            rusqlite::ffi::sqlite3_test_control(
                SQLITE_TESTCTRL_PRNG_SEED,
                0x5eed as std::os::raw::c_int,
                std::ptr::null_mut::<rusqlite::ffi::sqlite3>(),
            );
        }
        if let Ok(conn) = Connection::open_in_memory() {
            let _ = conn.prepare_cached("SELECT 1");
        }
    });
}

/// SQLite's PRNG is process-global (so parallel runs would share it) and seeded from the
/// OS; `random()` and `randomblob()` are replaced per connection by a stream of the run.
fn seed_random(conn: &Connection, seed: u64) -> rusqlite::Result<()> {
    use rand::{RngCore, SeedableRng};
    use rusqlite::functions::FunctionFlags;
    use std::sync::{Arc, Mutex};
    // rusqlite wants `Send` closures; the lock is never contended (one run, one thread).
    let rng = Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)));
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    let r = rng.clone();
    conn.create_scalar_function("random", 0, flags, move |_| {
        Ok(r.lock().map_or(0, |mut g| g.next_u64() as i64))
    })?;
    conn.create_scalar_function("randomblob", 1, flags, move |ctx| {
        let n = ctx.get::<i64>(0).unwrap_or(1).clamp(1, 1 << 20) as usize;
        let mut b = vec![0u8; n];
        if let Ok(mut g) = rng.lock() {
            g.fill_bytes(&mut b);
        }
        Ok(b)
    })
}

/// Turns a stored value back into JSON for reports.
pub(crate) fn decode_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

pub(crate) fn key_text(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

impl Error {
    pub(crate) fn stale_storage() -> Error {
        Error::storage("Durable Object storage is no longer accessible.")
    }
}
