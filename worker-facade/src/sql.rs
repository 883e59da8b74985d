//! `ctx.storage.sql` as workers-rs exposes it: `SqlStorage::exec` with positional
//! bindings and a `SqlCursor` whose rows deserialize into the caller's types, over
//! dosim's SQLite (its authorizer, limits and workerd's error texts included). A row
//! reaches serde as JavaScript sees it: an object of column values, blobs as byte arrays.

use crate::js_sys::JsValue;
use crate::{Error, Result};
use dosim_sim::{Row, SqlValue};
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

/// Largest integer JavaScript represents exactly (2^53 - 1).
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// A value bound to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlStorageValue {
    /// NULL.
    Null,
    /// A boolean (stored as 0 or 1).
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text.
    String(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl SqlStorageValue {
    /// An integer, refused outside JavaScript's safe range (±2^53 - 1).
    pub fn try_from_i64(value: i64) -> Result<Self> {
        if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
            Ok(SqlStorageValue::Integer(value))
        } else {
            Err(Error::from(format!("Value {value} is outside JavaScript safe integer range (±{MAX_SAFE_INTEGER})")))
        }
    }

    fn to_sim(&self) -> SqlValue {
        match self {
            SqlStorageValue::Null => SqlValue::Null,
            SqlStorageValue::Boolean(b) => SqlValue::Integer(i64::from(*b)),
            SqlStorageValue::Integer(i) => SqlValue::Integer(*i),
            SqlStorageValue::Float(f) => SqlValue::Real(*f),
            SqlStorageValue::String(s) => SqlValue::Text(s.clone()),
            SqlStorageValue::Blob(b) => SqlValue::Blob(b.clone()),
        }
    }

    fn from_sim(v: &SqlValue) -> SqlStorageValue {
        match v {
            SqlValue::Null => SqlStorageValue::Null,
            SqlValue::Integer(i) => SqlStorageValue::Integer(*i),
            SqlValue::Real(f) => SqlStorageValue::Float(*f),
            SqlValue::Text(s) => SqlStorageValue::String(s.clone()),
            SqlValue::Blob(b) => SqlStorageValue::Blob(b.clone()),
        }
    }
}

macro_rules! sql_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for SqlStorageValue {
            fn from(x: $t) -> Self {
                SqlStorageValue::$v(x.into())
            }
        }
    )*};
}

sql_from!(bool => Boolean, i32 => Integer, i64 => Integer, f64 => Float, String => String, &str => String, Vec<u8> => Blob);

impl<T: Into<SqlStorageValue>> From<Option<T>> for SqlStorageValue {
    fn from(o: Option<T>) -> Self {
        o.map_or(SqlStorageValue::Null, Into::into)
    }
}

fn json_of(v: &SqlValue) -> serde_json::Value {
    match v {
        SqlValue::Null => serde_json::Value::Null,
        SqlValue::Integer(i) => serde_json::json!(i),
        SqlValue::Real(f) => serde_json::json!(f),
        SqlValue::Text(s) => serde_json::Value::String(s.clone()),
        SqlValue::Blob(b) => serde_json::json!(b),
    }
}

/// A row as the object JavaScript builds: the last of duplicate columns wins.
fn row_json(row: &Row) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (c, v) in row.columns().iter().zip(row.values()) {
        m.insert(c.clone(), json_of(v));
    }
    serde_json::Value::Object(m)
}

/// The SQL API of one object.
#[derive(Clone)]
pub struct SqlStorage {
    inner: dosim_sim::Sql,
}

impl std::fmt::Debug for SqlStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStorage").finish()
    }
}

impl SqlStorage {
    pub(crate) fn new(inner: dosim_sim::Sql) -> Self {
        SqlStorage { inner }
    }

    /// Bytes the database uses.
    pub fn database_size(&self) -> usize {
        self.inner.database_size().unwrap_or(0) as usize
    }

    /// Runs `query` (every statement of it, now) with `?` bound in order to `bindings`.
    pub fn exec(&self, query: &str, bindings: impl Into<Option<Vec<SqlStorageValue>>>) -> Result<SqlCursor> {
        let values: Vec<SqlValue> = bindings.into().unwrap_or_default().iter().map(SqlStorageValue::to_sim).collect();
        let cursor = self.inner.exec(query, &values)?;
        Ok(SqlCursor { inner: Rc::new(RefCell::new(cursor)) })
    }

    /// [`exec`](Self::exec) with bindings given as JavaScript values.
    pub fn exec_raw(&self, query: &str, bindings: impl Into<Option<Vec<JsValue>>>) -> Result<SqlCursor> {
        let values: Vec<SqlStorageValue> = bindings
            .into()
            .unwrap_or_default()
            .into_iter()
            .map(|v| match v.as_json() {
                None | Some(serde_json::Value::Null) => SqlStorageValue::Null,
                Some(serde_json::Value::Bool(b)) => SqlStorageValue::Boolean(*b),
                Some(serde_json::Value::Number(n)) => {
                    n.as_i64().map_or(SqlStorageValue::Float(n.as_f64().unwrap_or(0.0)), SqlStorageValue::Integer)
                }
                Some(serde_json::Value::String(s)) => SqlStorageValue::String(s.clone()),
                Some(other) => SqlStorageValue::String(other.to_string()),
            })
            .collect();
        self.exec(query, values)
    }
}

/// A cursor over a statement's result (computed in full when it ran).
#[derive(Clone)]
pub struct SqlCursor {
    inner: Rc<RefCell<dosim_sim::Cursor>>,
}

impl std::fmt::Debug for SqlCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlCursor").field("columns", &self.column_names()).finish()
    }
}

impl SqlCursor {
    /// The rows not yet read, deserialized.
    pub fn to_array<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let rows = self.inner.borrow_mut().to_array();
        rows.iter().map(|r| Ok(serde_json::from_value(row_json(r))?)).collect()
    }

    /// The only row (an error if there are none or several).
    pub fn one<T: DeserializeOwned>(&self) -> Result<T> {
        let row = self.inner.borrow_mut().one()?;
        Ok(serde_json::from_value(row_json(&row))?)
    }

    /// The result's column names.
    pub fn column_names(&self) -> Vec<String> {
        self.inner.borrow().column_names().to_vec()
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> usize {
        self.inner.borrow().rows_read() as usize
    }

    /// Rows written by the statement.
    pub fn rows_written(&self) -> usize {
        self.inner.borrow().rows_written() as usize
    }

    /// The rows, deserialized one at a time.
    pub fn next<T: DeserializeOwned>(&self) -> SqlCursorIterator<T> {
        SqlCursorIterator { cursor: self.clone(), _row: PhantomData }
    }

    /// The rows as value arrays.
    pub fn raw(&self) -> SqlCursorRawIterator {
        SqlCursorRawIterator { cursor: self.clone() }
    }
}

impl Iterator for SqlCursor {
    type Item = Result<JsValue>;
    fn next(&mut self) -> Option<Self::Item> {
        let row = self.inner.borrow_mut().next_row()?;
        Some(Ok(JsValue::from(row_json(&row))))
    }
}

/// Rows deserialized as `T`.
#[derive(Debug)]
pub struct SqlCursorIterator<T> {
    cursor: SqlCursor,
    _row: PhantomData<T>,
}

impl<T: DeserializeOwned> Iterator for SqlCursorIterator<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Self::Item> {
        let row = self.cursor.inner.borrow_mut().next_row()?;
        Some(serde_json::from_value(row_json(&row)).map_err(Error::from))
    }
}

/// Rows as arrays of values.
#[derive(Debug)]
pub struct SqlCursorRawIterator {
    cursor: SqlCursor,
}

impl Iterator for SqlCursorRawIterator {
    type Item = Result<Vec<SqlStorageValue>>;
    fn next(&mut self) -> Option<Self::Item> {
        let row = self.cursor.inner.borrow_mut().next_row()?;
        Some(Ok(row.values().iter().map(SqlStorageValue::from_sim).collect()))
    }
}
