//! One object's SQLite database (rusqlite, bundled, in memory): the KV API lives in the
//! hidden table `_cf_KV`; writes run at once inside an implicit transaction (a *batch*)
//! that the commit task closes on a later turn, or inside an explicit transaction
//! (`transaction()`, savepoints). Also keeps the committed state as the write log says it
//! should be (the shadow, plus a digest of the SQL tables) for the checkers.

use crate::error::{Error, Result};
use crate::trace::Fnv64;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::ffi::CStr;

/// One logged write of a batch.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// `delete_all()`: everything before it is gone.
    Clear,
    /// The alarm set (or deleted, `None`).
    Alarm(Option<u64>),
}

/// Writes of one transaction, in order.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub no: u64,
    pub writes: Vec<Write>,
    /// Opened by `transaction()` rather than implicitly.
    pub explicit: bool,
    /// Some SQL (not KV) statement wrote in it.
    pub sql_touched: bool,
    /// The object's own SQL statements wrote in it.
    pub user_sql: bool,
}

impl Batch {
    /// Keys written, for trace lines (SQL statements show as one `(sql)` entry).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .writes
            .iter()
            .map(|w| match w {
                Write::Put(k, _) | Write::Delete(k) => key_text(k),
                Write::Clear => "(delete_all)".to_owned(),
                Write::Alarm(Some(t)) => format!("(alarm {t}ms)"),
                Write::Alarm(None) => "(alarm deleted)".to_owned(),
            })
            .collect();
        if self.user_sql {
            keys.push("(sql)".to_owned());
        }
        keys
    }

    /// The alarm this batch leaves behind, if it changes it.
    pub fn alarm_change(&self) -> Option<Option<u64>> {
        self.writes.iter().rev().find_map(|w| match w {
            Write::Alarm(a) => Some(*a),
            _ => None,
        })
    }
}

/// Key range and order of a `list()`, already compiled (see `ListOptions`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Range {
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
    pub reverse: bool,
    pub limit: Option<u64>,
}

/// A savepoint of an open transaction, and where the write log stood when it began.
#[derive(Debug)]
struct Savepoint {
    name: String,
    log_len: usize,
}

/// The runtime's KV table and its table of object metadata (the alarm, key 0), with
/// workerd's names.
const KV_TABLE: &CStr = c"_cf_KV";
const METADATA_TABLE: &CStr = c"_cf_METADATA";

/// The digest of a fresh database's (empty) tables, the same for every store.
static FRESH_DIGEST: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

pub(crate) struct SqliteStore {
    conn: Connection,
    guard: super::sql::SqlGuard,
    open: Option<Batch>,
    next_batch: u64,
    savepoints: Vec<Savepoint>,
    /// `transactionSync()` levels whose savepoint a `deleteAll()` inside them took away:
    /// ending each fails, as in workerd (program txn-sync-delete-all).
    lost_savepoints: usize,
    shadow: BTreeMap<Vec<u8>, Vec<u8>>,
    sql_digest: u64,
    /// The alarm the write log says is durable.
    committed_alarm: Option<u64>,
    /// Whether object code has reached the connection (`ctx.storage.sql`): until it does
    /// there are no tables of its own, and the checks need not read them.
    user_sql: std::cell::Cell<bool>,
}

impl SqliteStore {
    /// A fresh database whose `random()` and `randomblob()` draw from `seed`.
    pub fn open(seed: u64) -> Result<SqliteStore> {
        // The runtime's own tables are created when first written, as workerd does: `_cf_KV`
        // at the first KV write, `_cf_METADATA` (the alarm) at the first setAlarm; until then
        // they are not in `sqlite_master` nor in `databaseSize` (program
        // sql-internal-tables-and-size).
        let conn = Connection::open_in_memory()?;
        // An empty in-memory database has no page yet; workerd's starts with its first page
        // written, so a fresh object's databaseSize is 4096. Writing the header makes it
        // (setting the version it already has still writes the header page).
        conn.execute_batch("PRAGMA user_version = 0")?;
        seed_random(&conn, seed)?;
        let guard = super::sql::SqlGuard::install(&conn)?;
        let mut store = SqliteStore {
            guard,
            conn,
            open: None,
            next_batch: 1,
            savepoints: Vec::new(),
            lost_savepoints: 0,
            shadow: BTreeMap::new(),
            sql_digest: 0,
            committed_alarm: None,
            user_sql: std::cell::Cell::new(false),
        };
        // Every fresh database has the same (empty) tables: digest them once per process.
        store.sql_digest = *FRESH_DIGEST.get_or_init(|| store.digest_tables_now().unwrap_or(0));
        Ok(store)
    }

    /// The digest of a fresh database's tables (set by the first `open`).
    fn fresh_digest(&self) -> u64 {
        FRESH_DIGEST.get().copied().unwrap_or(0)
    }

    /// The connection and the authorizer's guard, for the object's own SQL.
    pub fn sql_parts(&self) -> (&Connection, &super::sql::SqlGuard) {
        self.user_sql.set(true);
        (&self.conn, &self.guard)
    }

    /// Registers the implicit transaction that user SQL began (its `BEGIN` ran inside
    /// `exec`, just before the first writing statement); returns its number.
    pub fn adopt_implicit(&mut self) -> u64 {
        let no = self.next_batch;
        self.next_batch += 1;
        self.open = Some(Batch { no, sql_touched: true, ..Default::default() });
        no
    }

    /// Number of the open batch, if a write is waiting for its commit.
    pub fn open_batch(&self) -> Option<u64> {
        self.open.as_ref().map(|b| b.no)
    }

    /// Whether an explicit transaction (`transaction()`) is open.
    pub fn in_explicit(&self) -> bool {
        self.open.as_ref().is_some_and(|b| b.explicit)
    }

    /// Current savepoint depth.
    pub fn depth(&self) -> usize {
        self.savepoints.len()
    }

    /// Starts the implicit transaction if none is open; returns its number if it is new
    /// (its commit must then be scheduled).
    pub fn begin(&mut self) -> Result<Option<u64>> {
        if self.open.is_some() {
            return Ok(None);
        }
        control(&self.conn, "BEGIN")?;
        let no = self.next_batch;
        self.next_batch += 1;
        self.open = Some(Batch { no, ..Default::default() });
        Ok(Some(no))
    }

    fn log(&mut self, w: Write) {
        if let Some(b) = self.open.as_mut() {
            b.writes.push(w);
        }
    }

    /// Marks the open batch as holding the object's own SQL writes.
    pub fn touch_user_sql(&mut self) {
        self.touch_sql();
        if let Some(b) = self.open.as_mut() {
            b.user_sql = true;
        }
    }

    /// Marks the open batch as holding SQL writes (the checkers then digest the tables).
    pub fn touch_sql(&mut self) {
        if let Some(b) = self.open.as_mut() {
            b.sql_touched = true;
        }
    }

    /// Whether the runtime's table `name` exists yet (it is created at its first write).
    /// Asked of SQLite's schema hash rather than by a query: every KV read and write asks,
    /// and a query on `sqlite_master` cost more than the read itself.
    fn has_table(&self, name: &'static CStr) -> bool {
        // SAFETY: the handle is this connection's, open for the call; the names are
        // NUL-terminated constants; a NULL column asks only whether the table exists, and
        // the out-parameters may be NULL.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_table_column_metadata(
                self.conn.handle(),
                c"main".as_ptr(),
                name.as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        rc == rusqlite::ffi::SQLITE_OK
    }

    /// Creates the runtime's table `name` inside the open transaction if it is missing.
    fn ensure_table(&self, name: &'static CStr, schema: &str) -> Result<()> {
        if !self.has_table(name) {
            self.conn.execute_batch(schema)?;
        }
        Ok(())
    }

    fn ensure_kv_table(&self) -> Result<()> {
        self.ensure_table(KV_TABLE, "CREATE TABLE _cf_KV (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID")
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.has_table(KV_TABLE) {
            return Ok(None);
        }
        let mut st = self.conn.prepare_cached("SELECT value FROM _cf_KV WHERE key = ?1")?;
        st.query_row(params![key], |r| r.get(0)).optional().map_err(sql_error)
    }

    pub fn list(&self, range: &Range) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if !self.has_table(KV_TABLE) {
            return Ok(Vec::new());
        }
        let sql = if range.reverse {
            "SELECT key, value FROM _cf_KV WHERE (?1 IS NULL OR key >= ?1) AND (?2 IS NULL OR key < ?2) \
             ORDER BY key DESC LIMIT ?3"
        } else {
            "SELECT key, value FROM _cf_KV WHERE (?1 IS NULL OR key >= ?1) AND (?2 IS NULL OR key < ?2) \
             ORDER BY key ASC LIMIT ?3"
        };
        let mut st = self.conn.prepare_cached(sql)?;
        let limit = range.limit.map_or(-1, |l| l as i64);
        let rows = st.query_map(params![range.start, range.end, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>().map_err(sql_error)
    }

    /// Writes every entry or none (a savepoint inside the transaction, T44).
    /// Returns the number of a batch this write opened.
    pub fn put_all(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Option<u64>> {
        let new = self.begin()?;
        self.ensure_kv_table()?;
        // One statement is atomic by itself: only a multi-entry put needs the savepoint.
        let savepoint = entries.len() > 1;
        if savepoint {
            control(&self.conn, "SAVEPOINT _cf_put")?;
        }
        let res = (|| -> rusqlite::Result<()> {
            let mut st = self.conn.prepare_cached("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?1, ?2)")?;
            for (k, v) in entries {
                st.execute(params![k, v])?;
            }
            Ok(())
        })();
        match res {
            Ok(()) => {
                if savepoint {
                    control(&self.conn, "RELEASE _cf_put")?;
                }
                for (k, v) in entries {
                    self.log(Write::Put(k.clone(), v.clone()));
                }
                Ok(new)
            }
            Err(e) => {
                if savepoint {
                    control(&self.conn, "ROLLBACK TO _cf_put")?;
                    control(&self.conn, "RELEASE _cf_put")?;
                }
                Err(sql_error(e))
            }
        }
    }

    /// Deletes the keys; returns how many existed and the number of a batch it opened.
    pub fn delete_all_of(&mut self, keys: &[Vec<u8>]) -> Result<(usize, Option<u64>)> {
        let new = self.begin()?;
        let mut n = 0;
        if self.has_table(KV_TABLE) {
            let mut st = self.conn.prepare_cached("DELETE FROM _cf_KV WHERE key = ?1")?;
            for k in keys {
                n += st.execute(params![k])?;
            }
        }
        for k in keys {
            self.log(Write::Delete(k.clone()));
        }
        Ok((n, new))
    }

    /// `deleteAll()`: the whole database is emptied (every SQL table, view, index and
    /// trigger, and the KV table) inside the current batch, so it is atomic.
    pub fn reset_database(&mut self, delete_alarm: bool) -> Result<Option<u64>> {
        let new = self.begin()?;
        let objects: Vec<(String, String)> = {
            let mut st = self.conn.prepare(
                "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND type IN ('table', 'view') ORDER BY type DESC, name",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (kind, name) in objects {
            let quoted = name.replace('"', "\"\"");
            let verb = if kind == "view" { "VIEW" } else { "TABLE" };
            self.conn.execute_batch(&format!("DROP {verb} IF EXISTS \"{quoted}\""))?;
        }
        if self.has_table(KV_TABLE) {
            self.conn.execute_batch("DELETE FROM _cf_KV")?;
        }
        self.log(Write::Clear);
        if delete_alarm {
            self.write_alarm(None)?;
        }
        self.touch_sql();
        Ok(new)
    }

    /// The alarm as this connection sees it (uncommitted writes included).
    pub fn alarm(&self) -> Result<Option<u64>> {
        if !self.has_table(METADATA_TABLE) {
            return Ok(None);
        }
        let mut st = self.conn.prepare_cached("SELECT value FROM _cf_METADATA WHERE key = 0")?;
        let t: Option<i64> = st.query_row([], |r| r.get(0)).optional()?;
        Ok(t.map(|t| t as u64))
    }

    /// Sets (or deletes) the alarm inside the open batch.
    pub fn set_alarm(&mut self, time: Option<u64>) -> Result<Option<u64>> {
        let new = self.begin()?;
        self.write_alarm(time)?;
        Ok(new)
    }

    fn write_alarm(&mut self, time: Option<u64>) -> Result<()> {
        match time {
            Some(t) => {
                self.ensure_table(METADATA_TABLE, "CREATE TABLE _cf_METADATA (key INTEGER PRIMARY KEY, value)")?;
                self.conn
                    .prepare_cached("INSERT OR REPLACE INTO _cf_METADATA (key, value) VALUES (0, ?1)")?
                    .execute(params![t as i64])?
            }
            None if self.has_table(METADATA_TABLE) => {
                self.conn.prepare_cached("DELETE FROM _cf_METADATA")?.execute([])?
            }
            None => 0,
        };
        // The write log carries it; the crash check compares it apart from the SQL digest.
        self.log(Write::Alarm(time));
        Ok(())
    }

    /// Opens an explicit transaction level (`transaction()`); the root level opens the
    /// batch itself. The caller has committed any open implicit batch first.
    pub fn begin_explicit(&mut self) -> Result<Option<u64>> {
        let depth = self.savepoints.len();
        let name = format!("_cf_savepoint_{depth}");
        let opened = if self.open.is_none() {
            let no = self.next_batch;
            self.next_batch += 1;
            self.open = Some(Batch { no, explicit: true, ..Default::default() });
            Some(no)
        } else {
            None
        };
        self.savepoint(name)?;
        Ok(opened)
    }

    /// Whether only `transactionSync()` levels are open (no `transaction()`).
    pub fn only_sync_savepoints(&self) -> bool {
        !self.savepoints.is_empty() && !self.in_explicit()
    }

    /// `deleteAll()` inside `transactionSync()`: workerd resets the database under the
    /// open savepoints, so they are gone (what they wrote stays in the batch, about to be
    /// wiped) and ending each of them later fails.
    pub fn lose_sync_savepoints(&mut self) -> Result<()> {
        while let Some(sp) = self.savepoints.pop() {
            self.conn.execute_batch(&format!("RELEASE {}", sp.name))?;
            self.lost_savepoints += 1;
        }
        Ok(())
    }

    /// `transactionSync()` level: a savepoint inside the implicit batch.
    pub fn begin_sync(&mut self) -> Result<Option<u64>> {
        let opened = self.begin()?;
        let name = format!("_cf_sync_savepoint_{}", self.savepoints.len());
        self.savepoint(name)?;
        Ok(opened)
    }

    fn savepoint(&mut self, name: String) -> Result<()> {
        self.conn.execute_batch(&format!("SAVEPOINT {name}"))?;
        let log_len = self.open.as_ref().map_or(0, |b| b.writes.len());
        self.savepoints.push(Savepoint { name, log_len });
        Ok(())
    }

    /// Ends the innermost savepoint, keeping (`commit`) or undoing its writes. When an
    /// explicit root ends, its batch is returned (committed, or rolled back if not kept).
    pub fn end_savepoint(&mut self, commit: bool) -> Result<Option<(Batch, bool)>> {
        if self.savepoints.is_empty() && self.lost_savepoints > 0 {
            // workerd: SQLite's `no such savepoint`, which reaches JavaScript as an
            // internal error (its reference id differs every time).
            self.lost_savepoints -= 1;
            return Err(Error::app(format!("internal error; reference = {:024x}", self.next_batch)));
        }
        let Some(sp) = self.savepoints.pop() else { return Ok(None) };
        if commit {
            self.conn.execute_batch(&format!("RELEASE {}", sp.name))?;
        } else {
            self.conn.execute_batch(&format!("ROLLBACK TO {0}; RELEASE {0}", sp.name))?;
            if let Some(b) = self.open.as_mut() {
                b.writes.truncate(sp.log_len);
            }
        }
        let explicit_root = self.savepoints.is_empty() && self.in_explicit();
        if !explicit_root {
            return Ok(None);
        }
        // Releasing the outermost savepoint committed (or ended) the transaction.
        let batch = self.open.take().expect("explicit batch");
        if commit {
            self.absorb(&batch)?;
        }
        Ok(Some((batch, commit)))
    }

    /// Commits the open implicit batch; the shadow follows the write log.
    pub fn commit(&mut self) -> Result<Option<Batch>> {
        match &self.open {
            Some(b) if !b.explicit && self.savepoints.is_empty() => {}
            _ => return Ok(None),
        }
        control(&self.conn, "COMMIT").map_err(sql_error)?;
        let batch = self.open.take().expect("checked above");
        self.absorb(&batch)?;
        Ok(Some(batch))
    }

    fn absorb(&mut self, batch: &Batch) -> Result<()> {
        for w in &batch.writes {
            match w {
                Write::Put(k, v) => {
                    self.shadow.insert(k.clone(), v.clone());
                }
                Write::Delete(k) => {
                    self.shadow.remove(k);
                }
                Write::Clear => self.shadow.clear(),
                Write::Alarm(a) => self.committed_alarm = *a,
            }
        }
        if batch.sql_touched {
            self.sql_digest = self.digest_sql_tables()?;
        }
        Ok(())
    }

    /// Rolls the open batch back (crash): its writes are lost.
    pub fn rollback(&mut self) -> Option<Batch> {
        let batch = self.open.take()?;
        self.savepoints.clear();
        if self.conn.is_autocommit() {
            // A critical SQL error already made SQLite roll the transaction back.
            return Some(batch);
        }
        if let Err(e) = control(&self.conn, "ROLLBACK") {
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

    /// The alarm as of the last commit.
    pub fn committed_alarm(&self) -> Option<u64> {
        self.committed_alarm
    }

    /// Digest of the SQL tables as of the last commit that touched them.
    pub fn committed_sql_digest(&self) -> u64 {
        self.sql_digest
    }

    /// Every user table (not the runtime's `_cf_` ones) with its rows as JSON objects, in
    /// rowid order: the SQL half of the durable state a scenario judges.
    pub fn dump_tables(&self) -> Result<BTreeMap<String, Vec<serde_json::Value>>> {
        if !self.user_sql.get() {
            return Ok(BTreeMap::new());
        }
        let names: Vec<String> = {
            let mut st = self.conn.prepare_cached(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = BTreeMap::new();
        for name in names {
            let quoted = name.replace('"', "\"\"");
            let mut st = self.conn.prepare(&format!("SELECT * FROM \"{quoted}\""))?;
            let columns: Vec<String> = st.column_names().iter().map(|c| (*c).to_owned()).collect();
            let mut rows = st.query([])?;
            let mut list = Vec::new();
            while let Some(row) = rows.next()? {
                let mut obj = serde_json::Map::new();
                for (i, c) in columns.iter().enumerate() {
                    let v = match row.get::<_, rusqlite::types::Value>(i)? {
                        rusqlite::types::Value::Null => serde_json::Value::Null,
                        rusqlite::types::Value::Integer(n) => n.into(),
                        rusqlite::types::Value::Real(x) => x.into(),
                        rusqlite::types::Value::Text(t) => t.into(),
                        rusqlite::types::Value::Blob(b) => b.into(),
                    };
                    obj.insert(c.clone(), v);
                }
                list.push(serde_json::Value::Object(obj));
            }
            out.insert(name, list);
        }
        Ok(out)
    }

    /// Digest of every SQL table's schema and rows, as SQLite has them now: the object's
    /// own, not the runtime's `_cf_` tables (the KV table is checked against the shadow,
    /// the alarm against [`Self::committed_alarm`]). Statements come from the cache: this
    /// runs after every commit that wrote SQL.
    pub fn digest_sql_tables(&self) -> Result<u64> {
        if !self.user_sql.get() {
            // Nothing but the runtime has used the connection: the tables are a fresh
            // database's (digested once, in `open`).
            return Ok(self.fresh_digest());
        }
        self.digest_tables_now()
    }

    /// [`Self::digest_sql_tables`], read from SQLite whoever used the connection.
    fn digest_tables_now(&self) -> Result<u64> {
        let mut h = Fnv64::default();
        let tables: Vec<(String, String)> = {
            let mut st = self.conn.prepare_cached(
                "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (name, sql) in &tables {
            h.write(sql.as_bytes());
            if !sql.starts_with("CREATE TABLE") {
                continue;
            }
            let quoted = name.replace('"', "\"\"");
            let mut st = self.conn.prepare_cached(&format!("SELECT * FROM \"{quoted}\" ORDER BY 1"))?;
            let n = st.column_count();
            let mut rows = st.query([])?;
            while let Some(row) = rows.next()? {
                for i in 0..n {
                    digest_value(&mut h, row.get_ref(i)?);
                }
            }
        }
        Ok(h.finish())
    }
}

/// Feeds one SQL value to a digest: its type, then its bytes (lengths first, so that no two
/// different rows feed the same bytes).
fn digest_value(h: &mut Fnv64, v: rusqlite::types::ValueRef<'_>) {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => h.write(&[0]),
        ValueRef::Integer(n) => {
            h.write(&[1]);
            h.write(&n.to_le_bytes());
        }
        ValueRef::Real(x) => {
            h.write(&[2]);
            h.write(&x.to_bits().to_le_bytes());
        }
        ValueRef::Text(b) | ValueRef::Blob(b) => {
            h.write(&[if matches!(v, ValueRef::Text(_)) { 3 } else { 4 }]);
            h.write(&(b.len() as u64).to_le_bytes());
            h.write(b);
        }
    }
}

/// Runs a transaction-control statement through the statement cache (parsed once per
/// connection, not on every batch).
fn control(conn: &Connection, sql: &'static str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// A SQLite error in workerd's words: SQLite's message, then the code's name.
pub(crate) fn sql_error(e: rusqlite::Error) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            Error::storage(format!("{text}: {}", code_name(f.extended_code & 0xff)))
        }
        _ => Error::storage(e.to_string()),
    }
}

/// The primary result code's name, as SQLite's headers spell it.
pub(crate) fn code_name(code: i32) -> &'static str {
    const NAMES: [&str; 29] = [
        "SQLITE_OK",
        "SQLITE_ERROR",
        "SQLITE_INTERNAL",
        "SQLITE_PERM",
        "SQLITE_ABORT",
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_NOMEM",
        "SQLITE_READONLY",
        "SQLITE_INTERRUPT",
        "SQLITE_IOERR",
        "SQLITE_CORRUPT",
        "SQLITE_NOTFOUND",
        "SQLITE_FULL",
        "SQLITE_CANTOPEN",
        "SQLITE_PROTOCOL",
        "SQLITE_EMPTY",
        "SQLITE_SCHEMA",
        "SQLITE_TOOBIG",
        "SQLITE_CONSTRAINT",
        "SQLITE_MISMATCH",
        "SQLITE_MISUSE",
        "SQLITE_NOLFS",
        "SQLITE_AUTH",
        "SQLITE_FORMAT",
        "SQLITE_RANGE",
        "SQLITE_NOTADB",
        "SQLITE_NOTICE",
        "SQLITE_WARNING",
    ];
    NAMES.get(code as usize).copied().unwrap_or("SQLITE_UNKNOWN")
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
    conn.create_scalar_function("random", 0, flags, move |_| Ok(r.lock().map_or(0, |mut g| g.next_u64() as i64)))?;
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
    /// What a stale instance gets when it touches storage (SEMANTICS.md §9, T34).
    pub(crate) fn stale_storage() -> Error {
        Error::storage("Durable Object storage is no longer accessible.")
    }
}
