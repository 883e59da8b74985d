//! The SQL API of a SQLite-backed object (`ctx.storage.sql`, SEMANTICS.md §5): `exec` with
//! its bindings and multi-statement rules, the cursor over its result, the authorizer and
//! limits that keep user SQL away from the runtime's tables, and `databaseSize`.
//!
//! Row counters. workerd reads `rowsRead`/`rowsWritten` from counters that a patched SQLite
//! keeps per statement; the bundled SQLite has none, so this module approximates them:
//! - `rows_read` = rows the statement has produced so far: the rows the cursor returned plus
//!   the one it pre-fetches, capped at the result's size (`min(returned + 1, total)`, T64).
//!   workerd counts b-tree rows visited instead, so it differs for filtered scans and
//!   aggregates (more there), constant `SELECT`s (0 there) and writes (rows scanned there).
//! - `rows_written` = rows inserted, updated or deleted by the statement, triggers included
//!   (`sqlite3_total_changes` across it). workerd also counts index entries and the schema
//!   rows that DDL writes, so it is higher for indexed tables and `CREATE`/`DROP`.
//!
//! Results are computed in full by `exec`, where workerd steps lazily: an error in a later row
//! fails `exec` here, and the cursor that would have returned the first rows never exists.

use crate::error::{Error, Result};
use rusqlite::config::DbConfig;
use rusqlite::ffi;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::Connection;
use std::collections::VecDeque;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

// ---------------------------------------------------------------------------------------
// Values, rows and the cursor

/// A value bound to or read from SQL.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The integer, if this is an INTEGER.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is an INTEGER or a REAL (JavaScript sees both as a number).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Integer(i) => Some(*i as f64),
            SqlValue::Real(x) => Some(*x),
            _ => None,
        }
    }

    /// The text, if this is TEXT.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, SqlValue::Null)
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl From<f64> for SqlValue {
    fn from(v: f64) -> Self {
        SqlValue::Real(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(v: Vec<u8>) -> Self {
        SqlValue::Blob(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A row: values by column; with duplicate column names the last one wins (SEMANTICS.md
/// §5.2), as in the object workerd builds. [`Row::values`] keeps them all.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl Row {
    pub fn get(&self, column: &str) -> Option<&SqlValue> {
        let i = self.columns.iter().rposition(|c| c == column)?;
        self.values.get(i)
    }

    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

const NO_RESULTS: &str = "Expected exactly one result from SQL query, but got no results.";
const MULTIPLE_RESULTS: &str = "Expected exactly one result from SQL query, but got multiple results.";

/// What `exec` returns: workerd's cursor over a result computed in full up front.
#[derive(Debug)]
pub struct Cursor {
    columns: Arc<[String]>,
    rows: VecDeque<Vec<SqlValue>>,
    total: u64,
    returned: u64,
    rows_written: u64,
}

impl Cursor {
    fn new(columns: Vec<String>, rows: VecDeque<Vec<SqlValue>>, rows_written: u64) -> Self {
        Cursor { columns: columns.into(), total: rows.len() as u64, rows, returned: 0, rows_written }
    }

    /// Result column names, duplicates included; empty for statements without result columns.
    pub fn column_names(&self) -> &[String] {
        &self.columns
    }

    /// See the module doc: one ahead of the rows returned, as workerd's pre-fetch makes it.
    pub fn rows_read(&self) -> u64 {
        (self.returned + 1).min(self.total)
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    pub fn next_row(&mut self) -> Option<Row> {
        let values = self.next_values()?;
        Some(Row { columns: Arc::clone(&self.columns), values })
    }

    /// The rows not yet returned.
    pub fn to_array(&mut self) -> Vec<Row> {
        self.by_ref().collect()
    }

    /// Rows as value arrays; shares the position with the cursor.
    pub fn raw(&mut self) -> impl Iterator<Item = Vec<SqlValue>> + '_ {
        std::iter::from_fn(move || self.next_values())
    }

    /// The next row, which must be the last; the cursor is done afterwards either way.
    pub fn one(&mut self) -> Result<Row> {
        let row = self.next_row().ok_or_else(|| Error::storage(NO_RESULTS))?;
        if !self.rows.is_empty() {
            // workerd ends the query here: the rest is never returned (nor counted as read).
            self.rows.clear();
            return Err(Error::storage(MULTIPLE_RESULTS));
        }
        Ok(row)
    }

    fn next_values(&mut self) -> Option<Vec<SqlValue>> {
        let values = self.rows.pop_front()?;
        self.returned += 1;
        Some(values)
    }
}

impl Iterator for Cursor {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        self.next_row()
    }
}

// ---------------------------------------------------------------------------------------
// The guard: limits, defensive mode and the authorizer

/// Guards shared with the authorizer. `trusted` lets the runtime's own statements (its
/// `_cf_KV` table, BEGIN/COMMIT/SAVEPOINT) through; user SQL runs untrusted.
#[derive(Clone, Default)]
pub(crate) struct SqlGuard {
    state: Arc<Mutex<GuardState>>,
}

/// What the authorizer knows about the statement being prepared. The flags are reset before
/// each prepare and read right after it, since SQLite reports only "denied".
#[derive(Default)]
struct GuardState {
    untrusted: bool,
    /// A BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE was refused: report workerd's advice.
    refused_transaction: bool,
    /// An ALTER TABLE passed: its new name, which SQLite does not tell, is checked after.
    altered_table: bool,
}

/// The limits of workerd's `setupSecurity` (SEMANTICS.md §5.3 for the length).
const LIMITS: [(Limit, c_int); 12] = [
    (Limit::SQLITE_LIMIT_LENGTH, 4 * 1024 * 1024),
    (Limit::SQLITE_LIMIT_SQL_LENGTH, 100_000),
    (Limit::SQLITE_LIMIT_COLUMN, 100),
    (Limit::SQLITE_LIMIT_EXPR_DEPTH, 100),
    (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 5),
    (Limit::SQLITE_LIMIT_VDBE_OP, 25_000),
    (Limit::SQLITE_LIMIT_FUNCTION_ARG, 127),
    (Limit::SQLITE_LIMIT_ATTACHED, 0),
    (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50),
    (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 100),
    (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 10),
    (Limit::SQLITE_LIMIT_WORKER_THREADS, 0),
];

impl SqlGuard {
    /// Sets limits, defensive mode and the authorizer on `conn`; trusted until `exec` runs.
    pub(crate) fn install(conn: &Connection) -> rusqlite::Result<SqlGuard> {
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        for (limit, value) in LIMITS {
            conn.set_limit(limit, value);
        }
        let guard = SqlGuard::default();
        let state = Arc::clone(&guard.state);
        conn.authorizer(Some(move |ctx: AuthContext<'_>| authorize(&state, &ctx)));
        Ok(guard)
    }

    fn lock(&self) -> MutexGuard<'_, GuardState> {
        lock(&self.state)
    }

    /// Runs user SQL (`true`) or the runtime's (`false`) until the returned scope drops.
    fn scope(&self, untrusted: bool) -> TrustScope<'_> {
        let previous = std::mem::replace(&mut self.lock().untrusted, untrusted);
        TrustScope { guard: self, previous }
    }

    fn before_prepare(&self) {
        let mut state = self.lock();
        state.refused_transaction = false;
        state.altered_table = false;
    }
}

/// Restores the trust level on drop, so an early return or a panic cannot leave it wrong.
struct TrustScope<'a> {
    guard: &'a SqlGuard,
    previous: bool,
}

impl Drop for TrustScope<'_> {
    fn drop(&mut self) {
        self.guard.lock().untrusted = self.previous;
    }
}

fn lock(state: &Mutex<GuardState>) -> MutexGuard<'_, GuardState> {
    // A panic while holding it cannot leave the flags half-written; keep going.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn authorize(state: &Mutex<GuardState>, ctx: &AuthContext<'_>) -> Authorization {
    let mut state = lock(state);
    match verdict(ctx, state.untrusted) {
        Verdict::Allow => {
            if state.untrusted && matches!(ctx.action, AuthAction::AlterTable { .. }) {
                state.altered_table = true;
            }
            Authorization::Allow
        }
        Verdict::Deny => Authorization::Deny,
        Verdict::Transaction => {
            state.refused_transaction = true;
            Authorization::Deny
        }
    }
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Allow,
    Deny,
    Transaction,
}

fn allow_if(ok: bool) -> Verdict {
    if ok {
        Verdict::Allow
    } else {
        Verdict::Deny
    }
}

/// workerd's `isAuthorized`: the database comes first, for trusted statements too (the
/// storage engine knows one file), then everything is allowed for the runtime.
fn verdict(ctx: &AuthContext<'_>, untrusted: bool) -> Verdict {
    match schema_of(ctx) {
        None | Some("main") => {}
        Some("temp") => return allow_if(temp_access_allowed(&ctx.action)),
        Some(_) => return Verdict::Deny,
    }
    if untrusted {
        user_verdict(&ctx.action)
    } else {
        Verdict::Allow
    }
}

/// SQLite passes ALTER TABLE's and DETACH's database as an argument of the action.
fn schema_of<'c>(ctx: &AuthContext<'c>) -> Option<&'c str> {
    match ctx.action {
        AuthAction::AlterTable { database_name, .. } | AuthAction::Detach { database_name } => Some(database_name),
        _ => ctx.database_name,
    }
}

fn temp_access_allowed(action: &AuthAction<'_>) -> bool {
    match *action {
        AuthAction::Read { table_name, .. } | AuthAction::Update { table_name, .. } => allowed_name(table_name),
        _ => false,
    }
}

fn user_verdict(action: &AuthAction<'_>) -> Verdict {
    use AuthAction::*;
    match *action {
        Transaction { .. } | Savepoint { .. } => Verdict::Transaction,
        Select | Recursive | Analyze { .. } => Verdict::Allow,
        CreateTable { table_name }
        | DropTable { table_name }
        | Insert { table_name }
        | Delete { table_name }
        | Read { table_name, .. }
        | Update { table_name, .. }
        | AlterTable { table_name, .. } => allow_if(allowed_name(table_name)),
        CreateView { view_name } | DropView { view_name } => allow_if(allowed_name(view_name)),
        Reindex { index_name } => allow_if(allowed_name(index_name)),
        CreateIndex { index_name, table_name } | DropIndex { index_name, table_name } => {
            allow_if(allowed_name(index_name) && allowed_name(table_name))
        }
        CreateTrigger { trigger_name, table_name } | DropTrigger { trigger_name, table_name } => {
            allow_if(allowed_name(trigger_name) && allowed_name(table_name))
        }
        Pragma { pragma_name, pragma_value } => allow_if(pragma_allowed(pragma_name, pragma_value)),
        Function { function_name } => allow_if(function_allowed(function_name)),
        CreateVtable { table_name, module_name } | DropVtable { table_name, module_name } => {
            allow_if(allowed_name(table_name) && VTABLE_MODULES.iter().any(|m| m.eq_ignore_ascii_case(module_name)))
        }
        // rusqlite reports `ANALYZE` of the whole database (no table argument) as unknown.
        Unknown { code, .. } => allow_if(code == ffi::SQLITE_ANALYZE),
        // ATTACH, DETACH, every TEMP object, COPY and actions newer than rusqlite knows.
        _ => Verdict::Deny,
    }
}

/// Names starting with `_cf_` (any case) belong to the runtime.
fn allowed_name(name: &str) -> bool {
    !name.as_bytes().get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"_cf_"))
}

const VTABLE_MODULES: [&str; 4] = ["fts5", "fts5vocab", "rtree", "rtree_i32"];

/// workerd's `ALLOWED_SQLITE_FUNCTIONS`, by group (no `sqlite_version`, `sqlite_source_id`,
/// `sqlite_compileoption_*`, `sqlite_offset`: they reveal build details).
const ALLOWED_FUNCTIONS: [&str; 8] = [
    // core
    "abs changes char coalesce concat concat_ws format glob hex ifnull iif instr \
     last_insert_rowid length like likelihood likely load_extension lower ltrim max_scalar \
     min_scalar nullif octet_length printf quote random randomblob replace round rtrim sign \
     soundex substr substring total_changes trim typeof unhex unicode unlikely upper zeroblob",
    // date and time
    "date time datetime julianday unixepoch strftime timediff current_date current_time \
     current_timestamp",
    // aggregate
    "avg count group_concat max min string_agg sum total",
    // window
    "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value \
     nth_value",
    // math
    "acos acosh asin asinh atan atan2 atanh ceil cos cosh degrees exp floor ln log log2 mod pi \
     pow radians sin sinh sqrt tan tanh trunc",
    // JSON
    "json json_array json_array_length json_extract -> ->> json_insert json_object json_patch \
     json_remove json_replace json_set json_type json_valid json_quote json_group_array \
     json_group_object json_each json_tree",
    // FTS5
    "match highlight bm25 snippet",
    // what ALTER TABLE runs internally
    "sqlite_rename_column sqlite_rename_table sqlite_rename_test sqlite_drop_column \
     sqlite_rename_quotefix",
];

fn function_allowed(name: &str) -> bool {
    ALLOWED_FUNCTIONS.iter().flat_map(|group| group.split_ascii_whitespace()).any(|f| f.eq_ignore_ascii_case(name))
}

/// The PRAGMA allowlist (SEMANTICS.md §5.3); `value` is the argument as SQLite passes it.
fn pragma_allowed(name: &str, value: Option<&str>) -> bool {
    match name.to_ascii_lowercase().as_str() {
        "table_list" => true,
        "data_version" | "page_size" => value.is_none(),
        "table_info" | "table_xinfo" | "foreign_key_list" | "index_info" | "index_list" | "index_xinfo" => {
            value.is_some_and(allowed_name)
        }
        // quick_check also takes a row limit; numbers never start with `_cf_`.
        "foreign_key_check" | "quick_check" => value.is_none_or(allowed_name),
        "optimize" => value.is_none_or(|v| parse_int32(v).is_some()),
        "case_sensitive_like"
        | "foreign_keys"
        | "defer_foreign_keys"
        | "ignore_check_constraints"
        | "legacy_alter_table"
        | "recursive_triggers"
        | "reverse_unordered_selects" => value.is_none_or(is_boolean),
        _ => false,
    }
}

/// workerd compares the (unquoted) value's prefix with each spelling, case-insensitively, so
/// `onion` passes as `on` (verified on workerd 1.20261117.1).
fn is_boolean(value: &str) -> bool {
    let bytes = value.as_bytes();
    let unquoted = match bytes {
        [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
        _ => bytes,
    };
    ["true", "false", "yes", "no", "on", "off", "1", "0"]
        .iter()
        .any(|word| unquoted.get(..word.len()).is_some_and(|p| p.eq_ignore_ascii_case(word.as_bytes())))
}

/// An `int32_t` as KJ parses it: optional sign, then decimal or `0x` hexadecimal digits.
fn parse_int32(text: &str) -> Option<i32> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (digits, radix) = match unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (unsigned, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// The new name in `ALTER TABLE [schema.]t RENAME TO new`, read from the statement's text:
/// stock SQLite tells the authorizer only the old name (workerd patches it to pass both).
fn rename_target(statement: &str) -> Option<String> {
    let mut tokens = Tokens(statement);
    let mut next = || tokens.next_token();
    if !next()?.is_keyword("ALTER") || !next()?.is_keyword("TABLE") {
        return None;
    }
    next()?; // the table, or its schema
    let mut token = next()?;
    if token == Token::Symbol('.') {
        next()?;
        token = next()?;
    }
    if !token.is_keyword("RENAME") || !next()?.is_keyword("TO") {
        return None; // another kind of ALTER TABLE, or RENAME COLUMN
    }
    match next()? {
        Token::Word(name) | Token::Quoted(name) => Some(name),
        Token::Symbol(_) => None,
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(char),
}

impl Token {
    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

/// Just enough of SQLite's tokenizer for `rename_target`: words, quoted names and strings,
/// comments, single-character symbols.
struct Tokens<'a>(&'a str);

impl Tokens<'_> {
    fn next_token(&mut self) -> Option<Token> {
        self.skip_space_and_comments();
        let c = self.0.chars().next()?;
        if is_word_char(c) {
            let end = self.0.find(|c| !is_word_char(c)).unwrap_or(self.0.len());
            let word = self.0[..end].to_owned();
            self.0 = &self.0[end..];
            return Some(Token::Word(word));
        }
        match c {
            '"' | '`' | '\'' => self.quoted(c, c),
            '[' => self.quoted('[', ']'),
            _ => {
                self.0 = &self.0[c.len_utf8()..];
                Some(Token::Symbol(c))
            }
        }
    }

    /// A quoted name or string; the closing quote doubled stands for itself.
    fn quoted(&mut self, open: char, close: char) -> Option<Token> {
        let mut text = String::new();
        let mut rest = &self.0[open.len_utf8()..];
        loop {
            let end = rest.find(close)?;
            text.push_str(&rest[..end]);
            rest = &rest[end + close.len_utf8()..];
            if open != '[' && rest.starts_with(close) {
                text.push(close);
                rest = &rest[close.len_utf8()..];
            } else {
                break;
            }
        }
        self.0 = rest;
        Some(Token::Quoted(text))
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            self.0 = self.0.trim_start();
            if let Some(rest) = self.0.strip_prefix("--") {
                self.0 = rest.find('\n').map_or("", |i| &rest[i..]);
            } else if let Some(rest) = self.0.strip_prefix("/*") {
                self.0 = rest.find("*/").map_or("", |i| &rest[i + 2..]);
            } else {
                return;
            }
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

// ---------------------------------------------------------------------------------------
// exec

const TRANSACTION_MESSAGE: &str = "To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.";
const NO_STATEMENT: &str = "SQL code did not contain a statement.";
const WRONG_BINDINGS: &str = "Wrong number of parameter bindings for SQL query.";
const MULTI_PARAMETERS: &str =
    "When executing multiple SQL statements in a single call, only the last statement can have parameters.";
const NOT_AUTHORIZED: &str = "not authorized: SQLITE_AUTH";

/// Why `exec` failed. A critical error (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM,
/// SQLITE_INTERRUPT) leaves the database in a state the runtime must not commit: it resets
/// the object (T62).
#[derive(Debug)]
pub(crate) enum SqlFailure {
    Error(Error),
    Critical(Error),
}

impl SqlFailure {
    fn error(message: &str) -> Self {
        SqlFailure::Error(Error::storage(message))
    }
}

/// `sql.exec(query, ...bindings)`: runs every statement of `query`, all but the last at once
/// with their results dropped, and returns the cursor of the last. `before_write` is called
/// once, before the first statement that writes, so the runtime can open its implicit
/// transaction first; it runs trusted.
pub(crate) fn exec(
    conn: &Connection,
    guard: &SqlGuard,
    query: &str,
    bindings: &[SqlValue],
    before_write: &mut dyn FnMut() -> Result<()>,
) -> std::result::Result<Cursor, SqlFailure> {
    let _user = guard.scope(true);
    // SAFETY: the handle stays valid while `conn` is borrowed, and only this thread can use
    // it (`Connection` is not `Sync`); every statement prepared on it below is finalized
    // before `exec` returns.
    let db = unsafe { conn.handle() };
    let mut writes = WriteNotice { guard, before_write, sent: false };
    let mut rest = query;
    loop {
        let (stmt, tail) = prepare_next(db, guard, rest)?;
        let tail = tail.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        if tail.is_empty() {
            return run_last(db, &stmt, bindings, &mut writes);
        }
        if stmt.parameter_count() != 0 {
            return Err(SqlFailure::error(MULTI_PARAMETERS));
        }
        writes.before(&stmt)?;
        // workerd steps an earlier statement once: a write completes, a read stops at its
        // first row.
        stmt.step(db)?;
        rest = tail;
    }
}

/// Calls the runtime back, once per exec, before a statement that writes.
struct WriteNotice<'a> {
    guard: &'a SqlGuard,
    before_write: &'a mut dyn FnMut() -> Result<()>,
    sent: bool,
}

impl WriteNotice<'_> {
    fn before(&mut self, stmt: &Stmt) -> std::result::Result<(), SqlFailure> {
        if self.sent || stmt.is_read_only() {
            return Ok(());
        }
        self.sent = true;
        let _runtime = self.guard.scope(false);
        (self.before_write)().map_err(SqlFailure::Error)
    }
}

/// Prepares the first statement of `sql`; returns it and the text after it.
fn prepare_next<'q>(
    db: *mut ffi::sqlite3,
    guard: &SqlGuard,
    sql: &'q str,
) -> std::result::Result<(Stmt, &'q str), SqlFailure> {
    let Ok(len) = c_int::try_from(sql.len()) else {
        return Err(SqlFailure::error("statement too long: SQLITE_TOOBIG"));
    };
    guard.before_prepare();
    let mut raw = ptr::null_mut();
    let mut tail: *const c_char = ptr::null();
    // SAFETY: `db` is open; `sql` is valid for `len` bytes (no NUL terminator is needed when
    // the length is given); SQLite writes the statement and a pointer into `sql` back.
    let rc = unsafe { ffi::sqlite3_prepare_v3(db, sql.as_ptr().cast(), len, 0, &mut raw, &mut tail) };
    let stmt = (!raw.is_null()).then_some(Stmt(raw));
    if rc != ffi::SQLITE_OK {
        if guard.lock().refused_transaction {
            return Err(SqlFailure::error(TRANSACTION_MESSAGE));
        }
        return Err(failure(db, rc));
    }
    let stmt = stmt.ok_or_else(|| SqlFailure::error(NO_STATEMENT))?;
    // SQLite stops after a `;`, at a NUL or at the end: always a character boundary.
    let used = if tail.is_null() { sql.len() } else { (tail as usize).saturating_sub(sql.as_ptr() as usize) };
    let (text, tail) = sql.split_at_checked(used).unwrap_or((sql, ""));
    if guard.lock().altered_table && rename_target(text).is_some_and(|t| !allowed_name(&t)) {
        return Err(SqlFailure::error(NOT_AUTHORIZED));
    }
    Ok((stmt, tail))
}

fn run_last(
    db: *mut ffi::sqlite3,
    stmt: &Stmt,
    bindings: &[SqlValue],
    writes: &mut WriteNotice<'_>,
) -> std::result::Result<Cursor, SqlFailure> {
    if bindings.len() != stmt.parameter_count() {
        return Err(SqlFailure::error(WRONG_BINDINGS));
    }
    writes.before(stmt)?;
    for (i, value) in (1..).zip(bindings) {
        stmt.bind(db, i, value)?;
    }
    let changes_before = total_changes(db);
    let mut rows = VecDeque::new();
    while stmt.step(db)? {
        rows.push_back(stmt.row());
    }
    let rows_written = if stmt.is_read_only() { 0 } else { total_changes(db).saturating_sub(changes_before) };
    Ok(Cursor::new(stmt.column_names(), rows, rows_written))
}

fn total_changes(db: *mut ffi::sqlite3) -> u64 {
    // SAFETY: `db` is open.
    let n = unsafe { ffi::sqlite3_total_changes64(db) };
    u64::try_from(n).unwrap_or(0)
}

/// A prepared statement, finalized on drop (every path out of `exec`).
struct Stmt(*mut ffi::sqlite3_stmt);

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a successful prepare and is finalized only here.
        // The result repeats the last step's error, which was reported already.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}

impl Stmt {
    fn parameter_count(&self) -> usize {
        // SAFETY: `self.0` is a live statement.
        let n = unsafe { ffi::sqlite3_bind_parameter_count(self.0) };
        usize::try_from(n).unwrap_or(0)
    }

    fn is_read_only(&self) -> bool {
        // SAFETY: `self.0` is a live statement.
        unsafe { ffi::sqlite3_stmt_readonly(self.0) != 0 }
    }

    /// One step: `true` on a row, `false` when done.
    fn step(&self, db: *mut ffi::sqlite3) -> std::result::Result<bool, SqlFailure> {
        // SAFETY: `self.0` is a live statement of `db`.
        match unsafe { ffi::sqlite3_step(self.0) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(failure(db, rc)),
        }
    }

    fn bind(&self, db: *mut ffi::sqlite3, index: c_int, value: &SqlValue) -> std::result::Result<(), SqlFailure> {
        // SAFETY: `self.0` is a live statement; SQLITE_TRANSIENT makes SQLite copy text and
        // blobs before returning, so the borrowed bytes need not outlive the call.
        let rc = unsafe {
            match value {
                SqlValue::Null => ffi::sqlite3_bind_null(self.0, index),
                SqlValue::Integer(n) => ffi::sqlite3_bind_int64(self.0, index, *n),
                SqlValue::Real(x) => ffi::sqlite3_bind_double(self.0, index, *x),
                SqlValue::Text(s) => ffi::sqlite3_bind_text64(
                    self.0,
                    index,
                    s.as_ptr().cast(),
                    s.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                ),
                SqlValue::Blob(b) => {
                    ffi::sqlite3_bind_blob64(self.0, index, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_TRANSIENT())
                }
            }
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(failure(db, rc))
        }
    }

    fn column_count(&self) -> c_int {
        // SAFETY: `self.0` is a live statement.
        unsafe { ffi::sqlite3_column_count(self.0) }
    }

    fn column_names(&self) -> Vec<String> {
        (0..self.column_count())
            .map(|i| {
                // SAFETY: `i` is a column of the live statement; the name (NUL-terminated,
                // or NULL when out of memory) is copied before the statement changes.
                unsafe { c_text(ffi::sqlite3_column_name(self.0, i)) }
            })
            .collect()
    }

    /// The values of the row the last step stopped at.
    fn row(&self) -> Vec<SqlValue> {
        (0..self.column_count()).map(|i| self.value(i)).collect()
    }

    fn value(&self, i: c_int) -> SqlValue {
        // SAFETY: the statement is on a row and `i` is one of its columns. Text and blob
        // pointers are read before `sqlite3_column_bytes` (as SQLite documents) and copied
        // at once; they stay valid until the next step.
        unsafe {
            match ffi::sqlite3_column_type(self.0, i) {
                ffi::SQLITE_INTEGER => SqlValue::Integer(ffi::sqlite3_column_int64(self.0, i)),
                ffi::SQLITE_FLOAT => SqlValue::Real(ffi::sqlite3_column_double(self.0, i)),
                ffi::SQLITE_TEXT => {
                    let p = ffi::sqlite3_column_text(self.0, i);
                    let bytes = column_bytes(p, ffi::sqlite3_column_bytes(self.0, i));
                    SqlValue::Text(String::from_utf8_lossy(bytes).into_owned())
                }
                ffi::SQLITE_BLOB => {
                    let p = ffi::sqlite3_column_blob(self.0, i).cast::<u8>();
                    SqlValue::Blob(column_bytes(p, ffi::sqlite3_column_bytes(self.0, i)).to_vec())
                }
                _ => SqlValue::Null,
            }
        }
    }
}

/// # Safety
/// `p` is NULL or points at `len` readable bytes that outlive `'a`.
unsafe fn column_bytes<'a>(p: *const u8, len: c_int) -> &'a [u8] {
    match usize::try_from(len) {
        Ok(len) if !p.is_null() && len > 0 => {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(p, len) }
        }
        _ => &[],
    }
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn c_text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// workerd's wording: `<errmsg>[ at offset N]: <CODE>`, and ` (extended: <CODE>)` when the
/// extended code says more.
fn failure(db: *mut ffi::sqlite3, rc: c_int) -> SqlFailure {
    let primary = rc & 0xff;
    // SAFETY: `db` is open; SQLite keeps the message until the next call on `db`, and it is
    // copied right away.
    let (message, offset, extended) =
        unsafe { (c_text(ffi::sqlite3_errmsg(db)), ffi::sqlite3_error_offset(db), ffi::sqlite3_extended_errcode(db)) };
    let mut text = message;
    if offset >= 0 {
        text.push_str(&format!(" at offset {offset}"));
    }
    text.push_str(&format!(": {}", code_name(primary)));
    if extended != primary && extended & 0xff == primary {
        text.push_str(&format!(" (extended: {})", code_name(extended)));
    }
    let error = Error::storage(text);
    match primary {
        ffi::SQLITE_FULL | ffi::SQLITE_IOERR | ffi::SQLITE_NOMEM | ffi::SQLITE_INTERRUPT => SqlFailure::Critical(error),
        _ => SqlFailure::Error(error),
    }
}

fn code_name(code: c_int) -> String {
    match RESULT_CODES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => (*name).to_owned(),
        None => format!("SQLITE_UNKNOWN_ERROR_CODE({code})"),
    }
}

macro_rules! result_codes {
    ($($name:ident)*) => { &[$((ffi::$name, stringify!($name))),*] };
}

/// Names of SQLite's primary and extended result codes (sqlite3.h).
const RESULT_CODES: &[(c_int, &str)] = result_codes! {
    SQLITE_ERROR SQLITE_INTERNAL SQLITE_PERM SQLITE_ABORT SQLITE_BUSY SQLITE_LOCKED
    SQLITE_NOMEM SQLITE_READONLY SQLITE_INTERRUPT SQLITE_IOERR SQLITE_CORRUPT SQLITE_NOTFOUND
    SQLITE_FULL SQLITE_CANTOPEN SQLITE_PROTOCOL SQLITE_EMPTY SQLITE_SCHEMA SQLITE_TOOBIG
    SQLITE_CONSTRAINT SQLITE_MISMATCH SQLITE_MISUSE SQLITE_NOLFS SQLITE_AUTH SQLITE_FORMAT
    SQLITE_RANGE SQLITE_NOTADB SQLITE_NOTICE SQLITE_WARNING
    SQLITE_ERROR_MISSING_COLLSEQ SQLITE_ERROR_RETRY SQLITE_ERROR_SNAPSHOT
    SQLITE_IOERR_READ SQLITE_IOERR_SHORT_READ SQLITE_IOERR_WRITE SQLITE_IOERR_FSYNC
    SQLITE_IOERR_DIR_FSYNC SQLITE_IOERR_TRUNCATE SQLITE_IOERR_FSTAT SQLITE_IOERR_UNLOCK
    SQLITE_IOERR_RDLOCK SQLITE_IOERR_DELETE SQLITE_IOERR_BLOCKED SQLITE_IOERR_NOMEM
    SQLITE_IOERR_ACCESS SQLITE_IOERR_CHECKRESERVEDLOCK SQLITE_IOERR_LOCK SQLITE_IOERR_CLOSE
    SQLITE_IOERR_DIR_CLOSE SQLITE_IOERR_SHMOPEN SQLITE_IOERR_SHMSIZE SQLITE_IOERR_SHMLOCK
    SQLITE_IOERR_SHMMAP SQLITE_IOERR_SEEK SQLITE_IOERR_DELETE_NOENT SQLITE_IOERR_MMAP
    SQLITE_IOERR_GETTEMPPATH SQLITE_IOERR_CONVPATH SQLITE_IOERR_VNODE SQLITE_IOERR_AUTH
    SQLITE_IOERR_BEGIN_ATOMIC SQLITE_IOERR_COMMIT_ATOMIC SQLITE_IOERR_ROLLBACK_ATOMIC
    SQLITE_IOERR_DATA SQLITE_IOERR_CORRUPTFS SQLITE_IOERR_IN_PAGE
    SQLITE_LOCKED_SHAREDCACHE SQLITE_LOCKED_VTAB
    SQLITE_BUSY_RECOVERY SQLITE_BUSY_SNAPSHOT SQLITE_BUSY_TIMEOUT
    SQLITE_CANTOPEN_NOTEMPDIR SQLITE_CANTOPEN_ISDIR SQLITE_CANTOPEN_FULLPATH
    SQLITE_CANTOPEN_CONVPATH SQLITE_CANTOPEN_DIRTYWAL SQLITE_CANTOPEN_SYMLINK
    SQLITE_CORRUPT_VTAB SQLITE_CORRUPT_SEQUENCE SQLITE_CORRUPT_INDEX
    SQLITE_READONLY_RECOVERY SQLITE_READONLY_CANTLOCK SQLITE_READONLY_ROLLBACK
    SQLITE_READONLY_DBMOVED SQLITE_READONLY_CANTINIT SQLITE_READONLY_DIRECTORY
    SQLITE_ABORT_ROLLBACK
    SQLITE_CONSTRAINT_CHECK SQLITE_CONSTRAINT_COMMITHOOK SQLITE_CONSTRAINT_FOREIGNKEY
    SQLITE_CONSTRAINT_FUNCTION SQLITE_CONSTRAINT_NOTNULL SQLITE_CONSTRAINT_PRIMARYKEY
    SQLITE_CONSTRAINT_TRIGGER SQLITE_CONSTRAINT_UNIQUE SQLITE_CONSTRAINT_VTAB
    SQLITE_CONSTRAINT_ROWID SQLITE_CONSTRAINT_PINNED SQLITE_CONSTRAINT_DATATYPE
    SQLITE_NOTICE_RECOVER_WAL SQLITE_NOTICE_RECOVER_ROLLBACK SQLITE_NOTICE_RBU
    SQLITE_WARNING_AUTOINDEX SQLITE_AUTH_USER
};

// ---------------------------------------------------------------------------------------
// databaseSize

/// `sql.databaseSize` (SEMANTICS.md §5.5): `(page_count - freelist_count) * page_size`.
/// Runs as the runtime: call it outside `exec`, where the guard is trusted.
pub(crate) fn database_size(conn: &Connection) -> Result<u64> {
    let pragma = |name: &str| -> Result<i64> { Ok(conn.pragma_query_value(None, name, |row| row.get(0))?) };
    let pages = pragma("page_count")? - pragma("freelist_count")?;
    Ok(u64::try_from(pages * pragma("page_size")?).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::cell::Cell;

    fn open() -> (Connection, SqlGuard) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE _cf_KV (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID").unwrap();
        let guard = SqlGuard::install(&conn).unwrap();
        (conn, guard)
    }

    fn run(db: &(Connection, SqlGuard), sql: &str, bindings: &[SqlValue]) -> std::result::Result<Cursor, SqlFailure> {
        exec(&db.0, &db.1, sql, bindings, &mut || Ok(()))
    }

    fn ok(db: &(Connection, SqlGuard), sql: &str) -> Cursor {
        run(db, sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    }

    /// The message of a non-critical failure.
    fn fails(db: &(Connection, SqlGuard), sql: &str, bindings: &[SqlValue]) -> String {
        match run(db, sql, bindings) {
            Err(SqlFailure::Error(e)) => {
                assert_eq!(e.kind, ErrorKind::Storage);
                e.message
            }
            other => panic!("{sql}: expected an error, got {other:?}"),
        }
    }

    fn values(cursor: Cursor) -> Vec<Vec<SqlValue>> {
        let mut cursor = cursor;
        cursor.raw().collect()
    }

    fn int(i: i64) -> SqlValue {
        SqlValue::Integer(i)
    }

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.to_owned())
    }

    fn count(db: &(Connection, SqlGuard), table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        ok(db, &sql).one().unwrap().values()[0].as_i64().unwrap()
    }

    const NOT_AUTH: &str = "not authorized: SQLITE_AUTH";

    #[test]
    fn t56_values_by_column_and_raw() {
        let db = open();
        let mut c = ok(&db, "SELECT 123");
        assert_eq!(c.column_names(), ["123"]);
        let row = c.next_row().unwrap();
        assert_eq!(row.get("123"), Some(&int(123)));
        assert_eq!(row.columns(), ["123"]);
        assert_eq!(c.next_row(), None);

        assert_eq!(values(ok(&db, "SELECT 123")), [[int(123)]]);
        let row = ok(&db, "SELECT 'hello'").one().unwrap();
        assert_eq!(row.get("'hello'").and_then(SqlValue::as_str), Some("hello"));
        let row = ok(&db, "SELECT x'ff' AS blob").one().unwrap();
        assert_eq!(row.get("blob"), Some(&SqlValue::Blob(vec![255])));
        let row = ok(&db, "SELECT NULL AS n, 1.5 AS r").one().unwrap();
        assert!(row.get("n").unwrap().is_null());
        assert_eq!(row.get("r").and_then(SqlValue::as_f64), Some(1.5));
    }

    #[test]
    fn t56_bindings() {
        let db = open();
        let c = run(&db, "SELECT ?", &[456.0.into()]).unwrap();
        assert_eq!(values(c), [[SqlValue::Real(456.0)]]);
        let mut c = run(&db, "SELECT ? + ?", &[123.0.into(), 456.0.into()]).unwrap();
        let row = c.one().unwrap();
        assert_eq!(row.get("? + ?"), Some(&SqlValue::Real(579.0)));

        let bound =
            [SqlValue::from("s"), SqlValue::from(vec![1, 2]), SqlValue::from(None::<i64>), SqlValue::from(Some(7i64))];
        let c = run(&db, "SELECT ?, ?, typeof(?), ?", &bound).unwrap();
        let expected = [text("s"), SqlValue::Blob(vec![1, 2]), text("null"), int(7)];
        assert_eq!(values(c), [expected]);
    }

    #[test]
    fn t56_iteration_to_array_and_one() {
        let db = open();
        let three = "SELECT 1 AS col UNION ALL SELECT 'foo' AS col UNION ALL SELECT 3 AS col;";
        let mut c = ok(&db, three);
        let cols: Vec<SqlValue> = c.by_ref().map(|r| r.values()[0].clone()).collect();
        assert_eq!(cols, [int(1), text("foo"), int(3)]);
        assert_eq!(c.next_row(), None);

        let mut c = ok(&db, three);
        c.next_row();
        let rest: Vec<Vec<SqlValue>> = c.to_array().iter().map(|r| r.values().to_vec()).collect();
        assert_eq!(rest, [[text("foo")], [int(3)]]);

        let mut c = ok(&db, "SELECT 123 AS foo, 'abc' AS bar");
        let row = c.one().unwrap();
        assert_eq!(row.values(), [int(123), text("abc")]);
        assert_eq!(c.to_array(), []);

        let two = "SELECT 1 AS value UNION ALL SELECT 'foo' AS value;";
        assert_eq!(ok(&db, two).one().unwrap_err().message, MULTIPLE_RESULTS);
        assert_eq!(MULTIPLE_RESULTS, "Expected exactly one result from SQL query, but got multiple results.");
        ok(&db, "CREATE TABLE IF NOT EXISTS empty (x INTEGER)");
        let err = ok(&db, "SELECT * from empty;").one().unwrap_err();
        assert_eq!(err.message, "Expected exactly one result from SQL query, but got no results.");
    }

    #[test]
    fn t56_statement_errors() {
        let db = open();
        for sql in ["", ";", "   ", "-- only", "SELECT 123; SELECT 456; -- trailing comment"] {
            assert_eq!(fails(&db, sql, &[]), "SQL code did not contain a statement.");
        }
        assert_eq!(fails(&db, "SELECT ;", &[]), r#"near ";": syntax error at offset 7: SQLITE_ERROR"#);
        assert!(fails(&db, "SELECT -;", &[]).contains("syntax error at offset 8"));
        let wrong = "Wrong number of parameter bindings for SQL query.";
        assert_eq!(fails(&db, "SELECT ?", &[]), wrong);
        assert_eq!(fails(&db, "SELECT ?", &[int(1), int(2)]), wrong);
        assert_eq!(
            fails(&db, "SELECT ?; SELECT 1", &[int(1)]),
            "When executing multiple SQL statements in a single call, only the last statement can have parameters."
        );

        let five = "SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5";
        assert_eq!(ok(&db, five).count(), 5);
        let six = format!("{five} UNION ALL SELECT 6");
        assert_eq!(fails(&db, &six, &[]), "too many terms in compound SELECT: SQLITE_ERROR");

        ok(&db, "CREATE TABLE test_error_codes (name TEXT)");
        let mismatch = "INSERT INTO test_error_codes(rowid, name) values ('yeah','nah')";
        assert_eq!(fails(&db, mismatch, &[]), "datatype mismatch: SQLITE_MISMATCH");
        ok(&db, "CREATE TABLE t2 (a TEXT UNIQUE)");
        ok(&db, "INSERT INTO t2 VALUES ('q')");
        assert_eq!(
            fails(&db, "INSERT INTO t2 VALUES ('q')", &[]),
            "UNIQUE constraint failed: t2.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)"
        );
    }

    #[test]
    fn t56_multi_statement_runs_all_and_returns_the_last() {
        let db = open();
        let mut c = ok(
            &db,
            "CREATE TABLE items(i INTEGER, s TEXT);\n CREATE INDEX itemsIdx ON items(s);\n\
             INSERT INTO items VALUES (123, 'abc');\t INSERT INTO items VALUES (456, 'def');\r\n\
             SELECT i FROM items WHERE s = 'abc';\n ",
        );
        assert_eq!(c.column_names(), ["i"]);
        assert_eq!(c.one().unwrap().get("i"), Some(&int(123)));
        assert_eq!(count(&db, "items"), 2);
        assert_eq!(values(ok(&db, "SELECT 1; SELECT 2;")), [[int(2)]]);
        assert_eq!(ok(&db, "SELECT 1; SELECT 2").column_names(), ["2"]);
    }

    #[test]
    fn t57_names_of_the_runtime_are_off_limits() {
        let db = open();
        for sql in [
            "CREATE TABLE _cf_invalid (name TEXT)",
            "CREATE TABLE _CF_invalid (name TEXT)",
            "INSERT INTO _cf_KV VALUES (x'00', x'00')",
            "DELETE FROM _cf_KV",
            "UPDATE _cf_KV SET value = 1",
            "DROP TABLE _cf_KV",
            "SELECT count(*) FROM _cf_KV",
            "CREATE INDEX _cf_i ON _cf_KV(value)",
            "CREATE VIEW _cf_v AS SELECT 1",
            "CREATE VIRTUAL TABLE _cf_f USING fts5(x)",
        ] {
            assert_eq!(fails(&db, sql, &[]), NOT_AUTH, "{sql}");
        }
        assert_eq!(fails(&db, "SELECT * FROM _cf_KV", &[]), "access to _cf_KV.key is prohibited: SQLITE_AUTH");
    }

    #[test]
    fn t57_pragmas() {
        let db = open();
        ok(&db, "CREATE TABLE myTable (foo TEXT, bar INTEGER)");
        for sql in [
            "PRAGMA hard_heap_limit = 1024",
            "PRAGMA data_version = 5",
            "PRAGMA max_page_count = 65536",
            "PRAGMA page_size = 8192",
            "PRAGMA user_version",
            "PRAGMA table_info(_cf_KV)",
            "PRAGMA table_xinfo(_cf_KV)",
            "PRAGMA quick_check(_cf_KV)",
            "PRAGMA index_list",
            "PRAGMA integrity_check",
            "PRAGMA optimize(myTable)",
            "PRAGMA temp.data_version",
            "PRAGMA defer_foreign_keys = abcd",
            "PRAGMA defer_foreign_keys = \"foo\"",
            "PRAGMA foreign_keys = -1",
        ] {
            assert_eq!(fails(&db, sql, &[]), NOT_AUTH, "{sql}");
        }

        let mut c = ok(&db, "pragma data_version;");
        assert_eq!(c.column_names(), ["data_version"]);
        assert!(c.one().unwrap().values()[0].as_i64().is_some());
        assert_eq!(values(ok(&db, "PRAGMA page_size")), [[int(4096)]]);
        let names: Vec<SqlValue> =
            ok(&db, "PRAGMA table_info(myTable)").map(|r| r.get("name").unwrap().clone()).collect();
        assert_eq!(names, [text("foo"), text("bar")]);
        assert_eq!(ok(&db, "PRAGMA Table_XInfo(myTable)").count(), 2);
        for sql in ["pragma quick_check;", "pragma quick_check(1);", "pragma quick_check(myTable);"] {
            assert_eq!(values(ok(&db, sql)), [[text("ok")]], "{sql}");
        }
        for sql in [
            "PRAGMA table_list",
            "PRAGMA foreign_key_check",
            "PRAGMA foreign_key_list(myTable)",
            "PRAGMA index_list(myTable)",
            "PRAGMA optimize",
            "PRAGMA optimize(0x10002)",
            "PRAGMA main.data_version",
        ] {
            ok(&db, sql);
        }

        for (spelling, expected) in [
            ("true", 1),
            ("false", 0),
            ("on", 1),
            ("off", 0),
            ("yes", 1),
            ("no", 0),
            ("1", 1),
            ("0", 0),
            ("tRuE", 1),
            ("NO", 0),
            ("'true'", 1),
            ("\"yes\"", 1),
            ("\"0\"", 0),
            ("  true    ", 1),
        ] {
            ok(&db, &format!("PRAGMA defer_foreign_keys = {spelling};"));
            let now = ok(&db, "PRAGMA defer_foreign_keys;").one().unwrap();
            assert_eq!(now.values(), [int(expected)], "{spelling}");
        }
    }

    #[test]
    fn t57_transactions_temp_functions_and_modules() {
        let db = open();
        for sql in
            ["BEGIN TRANSACTION", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT foo", "RELEASE foo", "SAVEPOINT _cf_x"]
        {
            assert_eq!(fails(&db, sql, &[]), TRANSACTION_MESSAGE, "{sql}");
        }
        assert_eq!(
            TRANSACTION_MESSAGE,
            "To execute a transaction, please use the state.storage.transaction() or \
             state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or \
             SAVEPOINT statements. The JavaScript API is safer because it will automatically \
             roll back on exceptions, and because it interacts correctly with Durable Objects' \
             automatic atomic write coalescing."
        );

        let temp = "CREATE TEMP TABLE tempy AS SELECT * FROM sqlite_master;";
        assert_eq!(fails(&db, temp, &[]), NOT_AUTH);
        assert_eq!(fails(&db, "ATTACH 'x' AS y", &[]), NOT_AUTH);

        assert_eq!(
            fails(&db, "SELECT sqlite_version()", &[]),
            "not authorized to use function: sqlite_version at offset 7: SQLITE_ERROR"
        );
        assert!(fails(&db, "SELECT SQLITE_SOURCE_ID()", &[])
            .starts_with("not authorized to use function: SQLITE_SOURCE_ID"));
        assert_eq!(values(ok(&db, "SELECT abs(-123)")), [[int(123)]]);
        assert_eq!(values(ok(&db, "SELECT ABS(-2)")), [[int(2)]]);
        let json = r#"SELECT '{"a":2,"c":[4,5,{"f":7}]}' -> '$.c' AS value"#;
        assert_eq!(values(ok(&db, json)), [[text(r#"[4,5,{"f":7}]"#)]]);
        ok(&db, "SELECT current_date, current_time, current_timestamp, random()");

        assert_eq!(fails(&db, "CREATE VIRTUAL TABLE test_fts USING fts5abcd(id);", &[]), NOT_AUTH);
        ok(&db, "CREATE VIRTUAL TABLE documents_fts USING FtS5(id, title, content)");
        ok(&db, "CREATE VIRTUAL TABLE fts_v USING fTs5VoCaB(documents_fts, row)");
        ok(&db, "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1)");
        ok(&db, "DROP TABLE boxes");
    }

    #[test]
    fn t57_alter_table_cannot_rename_into_the_runtime_names() {
        let db = open();
        ok(&db, "CREATE TABLE rc (a, b)");
        for sql in [
            "ALTER TABLE rc RENAME TO _cf_rc",
            "ALTER TABLE main.rc RENAME TO \"_CF_q\"",
            "/* c */ ALTER TABLE [rc] RENAME TO `_cf_x`",
        ] {
            assert_eq!(fails(&db, sql, &[]), NOT_AUTH, "{sql}");
        }
        ok(&db, "ALTER TABLE rc RENAME COLUMN a TO _cf_col");
        ok(&db, "ALTER TABLE rc ADD COLUMN c");
        ok(&db, "ALTER TABLE rc DROP COLUMN b");
        ok(&db, "ALTER TABLE rc RENAME TO renamed");
        assert_eq!(ok(&db, "SELECT * FROM renamed").column_names(), ["_cf_col", "c"]);
    }

    #[test]
    fn rename_target_reads_the_new_table_name() {
        assert_eq!(rename_target("alter table t rename to x").as_deref(), Some("x"));
        let quoted = "ALTER TABLE s.\"t\" -- c\n RENAME TO 'it''s'";
        assert_eq!(rename_target(quoted).as_deref(), Some("it's"));
        assert_eq!(rename_target("ALTER TABLE t RENAME COLUMN a TO b"), None);
        assert_eq!(rename_target("ALTER TABLE t RENAME a TO b"), None);
        assert_eq!(rename_target("ALTER TABLE t ADD COLUMN c"), None);
    }

    #[test]
    fn t64_row_counters() {
        let db = open();
        ok(&db, "CREATE TABLE tbl (id INTEGER PRIMARY KEY, value TEXT)");
        let c = run(&db, "INSERT INTO tbl (id, value) VALUES (?, ?)", &[100000.0.into(), "x".into()]).unwrap();
        assert_eq!((c.rows_read(), c.rows_written()), (0, 1));
        ok(&db, "INSERT INTO tbl (id, value) VALUES (1, 'arbitrary-value')");

        let mut c = ok(&db, "SELECT * FROM tbl");
        c.by_ref().for_each(drop);
        assert_eq!((c.rows_read(), c.rows_written()), (2, 0));

        ok(&db, "DELETE FROM tbl");
        for i in 1..=10 {
            run(&db, "INSERT INTO tbl VALUES (?, ?)", &[int(i), text("v")]).unwrap();
        }
        let mut c = ok(&db, "SELECT * FROM tbl");
        assert_eq!(c.rows_read(), 1, "the first row is fetched by exec");
        let mut seen = 0;
        while c.next_row().is_some() {
            seen += 1;
            assert_eq!(c.rows_read(), (seen + 1).min(10));
        }
        assert_eq!(c.rows_read(), 10);

        let c = ok(&db, "UPDATE tbl SET value = 'w' WHERE id <= 3");
        assert_eq!(c.rows_written(), 3);
        let c = ok(&db, "CREATE TABLE other (x)");
        assert_eq!(c.rows_written(), 0, "DDL changes no rows");
        assert_eq!(ok(&db, "SELECT * FROM tbl WHERE 0").rows_read(), 0);
        let mut c = ok(&db, "SELECT id FROM tbl");
        assert!(c.one().is_err());
        assert_eq!(c.rows_read(), 2, "one() stops after the pre-fetched second row");
    }

    #[test]
    fn duplicate_column_names_last_wins_in_a_row() {
        let db = open();
        ok(&db, "CREATE TABLE abc (a INT, b INT, c INT); CREATE TABLE cde (c INT, d INT, e INT);");
        ok(&db, "INSERT INTO abc VALUES (1,2,3),(4,5,6); INSERT INTO cde VALUES (7,8,9),(1,2,3);");
        let mut c = ok(&db, "SELECT * FROM abc, cde ORDER BY abc.a, cde.c DESC");
        assert_eq!(c.column_names(), ["a", "b", "c", "c", "d", "e"]);
        let row = c.next_row().unwrap();
        assert_eq!(row.get("c"), Some(&int(7)));
        let raw: Vec<Vec<SqlValue>> = c.raw().collect();
        assert_eq!(raw.len(), 3, "raw() continues where the cursor stopped");
        assert_eq!(raw[0], [1, 2, 3, 1, 2, 3].map(int));
    }

    #[test]
    fn a_failing_statement_leaves_earlier_statements_done() {
        let db = open();
        ok(&db, "CREATE TABLE t2 (a TEXT UNIQUE); INSERT INTO t2 VALUES ('q');");
        fails(&db, "INSERT INTO t2 VALUES ('s'), ('q')", &[]);
        assert_eq!(count(&db, "t2"), 1, "the statement is atomic");
        let msg = fails(&db, "INSERT INTO t2 VALUES ('u'); INSERT INTO t2 VALUES ('q'); SELECT 1", &[]);
        assert!(msg.starts_with("UNIQUE constraint failed"));
        assert_eq!(count(&db, "t2"), 2, "the first INSERT stays");
        let msg = fails(&db, "CREATE TABLE m1 (a); SELEC 1; SELECT 2", &[]);
        assert_eq!(msg, r#"near "SELEC": syntax error at offset 0: SQLITE_ERROR"#);
        assert_eq!(count(&db, "m1"), 0);
    }

    #[test]
    fn before_write_runs_once_trusted_and_before_the_write() {
        let db = open();
        let calls = Cell::new(0);
        let conn = &db.0;
        let mut begin = || {
            calls.set(calls.get() + 1);
            // The runtime's own statements pass: it may read `_cf_KV` and open its transaction.
            conn.query_row("SELECT count(*) FROM _cf_KV", [], |r| r.get::<_, i64>(0))?;
            conn.execute_batch("BEGIN")?;
            Ok(())
        };
        exec(conn, &db.1, "SELECT 1; SELECT 2", &[], &mut begin).unwrap();
        assert_eq!(calls.get(), 0);
        let script = "CREATE TABLE t (x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); SELECT * FROM t";
        assert_eq!(exec(conn, &db.1, script, &[], &mut begin).unwrap().count(), 2);
        assert_eq!(calls.get(), 1);
        conn.execute_batch("ROLLBACK").unwrap();
        assert_eq!(fails(&db, "SELECT * FROM t", &[]), "no such table: t: SQLITE_ERROR");

        // Back to untrusted afterwards, and a refusal stops the statement.
        assert_eq!(fails(&db, "SELECT * FROM _cf_KV", &[]), "access to _cf_KV.key is prohibited: SQLITE_AUTH");
        let mut refuse = || Err(Error::storage("no"));
        match exec(conn, &db.1, "CREATE TABLE u (x)", &[], &mut refuse) {
            Err(SqlFailure::Error(e)) => assert_eq!(e.message, "no"),
            other => panic!("{other:?}"),
        }
        assert_eq!(fails(&db, "SELECT * FROM u", &[]), "no such table: u: SQLITE_ERROR");
    }

    #[test]
    fn the_runtime_stays_trusted_outside_exec() {
        let db = open();
        fails(&db, "BEGIN", &[]);
        db.0.execute_batch("BEGIN; INSERT INTO _cf_KV VALUES (x'01', x'02'); SAVEPOINT s; RELEASE s; COMMIT;").unwrap();
        assert_eq!(db.0.query_row("SELECT count(*) FROM _cf_KV", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }

    #[test]
    fn t62_a_full_database_is_critical() {
        let db = open();
        ok(&db, "CREATE TABLE f (b BLOB)");
        // Users may not set max_page_count; the test does, on the connection.
        db.0.pragma_update(None, "max_page_count", 10).unwrap();
        let big = SqlValue::Blob(vec![7; 64 * 1024]);
        match run(&db, "INSERT INTO f VALUES (?)", &[big]) {
            Err(SqlFailure::Critical(e)) => {
                assert_eq!(e.message, "database or disk is full: SQLITE_FULL");
            }
            other => panic!("expected a critical error, got {other:?}"),
        }
    }

    #[test]
    fn limits_apply_to_user_sql() {
        let db = open();
        let too_long = format!("SELECT '{}'", "a".repeat(100_001));
        assert_eq!(fails(&db, &too_long, &[]), "statement too long: SQLITE_TOOBIG");
        let blob = SqlValue::Blob(vec![0; 4 * 1024 * 1024 + 1]);
        assert_eq!(fails(&db, "SELECT length(?)", &[blob]), "string or blob too big: SQLITE_TOOBIG");
        assert!(fails(&db, "SELECT ?101", &[]).starts_with("variable number must be between ?1 and ?100"));
        let like = format!("SELECT 'a' LIKE '{}'", "a".repeat(51));
        assert_eq!(fails(&db, &like, &[]), "LIKE or GLOB pattern too complex: SQLITE_ERROR");
        let columns = (0..101).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(fails(&db, &format!("SELECT {columns}"), &[]).starts_with("too many columns in result set"));
    }

    #[test]
    fn database_size_grows_by_a_page_per_table() {
        let db = open();
        let before = database_size(&db.0).unwrap();
        ok(&db, "CREATE TABLE should_make_one_more_page(VALUE text);");
        assert_eq!(database_size(&db.0).unwrap(), before + 4096);
        ok(&db, "DROP TABLE should_make_one_more_page;");
        assert_eq!(database_size(&db.0).unwrap(), before);
    }

    #[test]
    fn pragma_arguments_parse_like_workerd() {
        assert!(is_boolean("onion") && is_boolean("'OFF'") && is_boolean("10"));
        assert!(!is_boolean("") && !is_boolean("''") && !is_boolean("o") && !is_boolean("-1"));
        assert_eq!(parse_int32("0x10002"), Some(0x10002));
        assert_eq!(parse_int32("-1"), Some(-1));
        assert_eq!(parse_int32("99999999999"), None);
        assert_eq!(parse_int32("t"), None);
        assert_eq!(parse_int32("--1"), None);
        assert!(allowed_name("cf_x") && !allowed_name("_Cf_x") && allowed_name("_c"));
    }
}
