//! Crossing the boundary: dosim errors thrown into JavaScript with workerd's names, texts
//! and flags, JavaScript exceptions turned back into dosim errors, and values as the
//! tagged JSON that storage, RPC and the history share (see `prelude.js`).

use dosim_sim::{Error, ErrorKind, SqlValue};
use rquickjs::{Ctx, Function, Object, Value};

/// The error classes V8's serializer keeps (others become `Error`).
const KEPT_CLASSES: [&str; 6] = ["EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError"];

/// The prelude's helpers, as the Rust side calls them.
pub(crate) struct Helpers<'js>(pub(crate) Object<'js>);

impl<'js> Helpers<'js> {
    fn function(&self, name: &str) -> rquickjs::Result<Function<'js>> {
        self.0.get(name)
    }

    /// A value from its stored JSON text (`undefined` for none).
    pub(crate) fn decode(&self, text: Option<&str>) -> rquickjs::Result<Value<'js>> {
        self.function("decode")?.call((text,))
    }

    /// The stored JSON text of a value (throws `DataCloneError` for what cannot be stored).
    pub(crate) fn encode(&self, value: Value<'js>) -> rquickjs::Result<String> {
        self.function("encode")?.call((value,))
    }

    /// A value from tagged JSON text (a reply that crossed from another object).
    pub(crate) fn parse_tagged(&self, text: &str) -> rquickjs::Result<Value<'js>> {
        self.function("fromJson")?.call((text,))
    }

    /// A `Map` of keys to values.
    pub(crate) fn map_of(&self, keys: Vec<String>, values: Vec<Value<'js>>) -> rquickjs::Result<Value<'js>> {
        self.function("mapOf")?.call((keys, values))
    }

    /// A JavaScript error carrying `e`'s message and flags. workerd throws API misuse as a
    /// `TypeError`, except for its size limits, which are `RangeError`s (the same rule as the
    /// conformance `Script`'s `error_name`, models/src/script.rs); anything else is an `Error`.
    pub(crate) fn error(&self, e: &Error) -> rquickjs::Result<Value<'js>> {
        const RANGE_ERRORS: [&str; 3] =
            ["Keys cannot be larger than", "Values cannot be larger than", "Maximum number of key value pairs"];
        let name = match (&e.js_class, e.kind) {
            (Some(class), _) => class.as_str(),
            (None, ErrorKind::Usage) if RANGE_ERRORS.iter().any(|p| e.message.starts_with(p)) => "RangeError",
            (None, ErrorKind::Usage) => "TypeError",
            _ => "Error",
        };
        let kind = serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        self.function("makeError")?.call((
            name,
            e.message.as_str(),
            kind,
            e.durable_object_reset,
            e.retryable,
            e.overloaded,
            e.remote,
        ))
    }

    /// Throws `e` into JavaScript.
    pub(crate) fn throw(&self, ctx: &Ctx<'js>, e: &Error) -> rquickjs::Error {
        match self.error(e) {
            Ok(v) => ctx.throw(v),
            Err(err) => err,
        }
    }

    /// The dosim error a thrown JavaScript value stands for.
    pub(crate) fn to_error(&self, thrown: Value<'js>) -> Error {
        let parts: rquickjs::Result<rquickjs::Array> = self.function("errorParts").and_then(|f| f.call((thrown,)));
        let read = |a: rquickjs::Array<'js>| -> rquickjs::Result<(String, String, String, bool, bool, bool)> {
            Ok((a.get(0)?, a.get(1)?, a.get(2)?, a.get(3)?, a.get(4)?, a.get(5)?))
        };
        let Ok((name, message, kind, reset, retryable, overloaded)) = parts.and_then(read) else {
            return Error::app("a value was thrown that dosim could not read");
        };
        let kind = serde_json::from_value::<ErrorKind>(serde_json::Value::String(kind)).ok();
        let mut e = match kind {
            Some(k) => {
                let mut e = Error::app(message);
                e.kind = k;
                e
            }
            // What the V8 serializer keeps of a thrown error: its message, and its class
            // when it is a standard one; any other name arrives as a plain `Error`.
            None => match name.as_str() {
                "TypeError" | "RangeError" => Error::usage(message),
                _ => Error::app(message),
            },
        };
        e.js_class = KEPT_CLASSES.contains(&name.as_str()).then_some(name);
        e.durable_object_reset |= reset;
        e.retryable |= retryable;
        e.overloaded |= overloaded;
        e
    }
}

/// The text of a JavaScript exception (for compile and load errors).
pub(crate) fn exception_text(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    if !matches!(e, rquickjs::Error::Exception) {
        return e.to_string();
    }
    let thrown = ctx.catch();
    if let Some(obj) = thrown.as_object() {
        let message: String = obj.get("message").unwrap_or_default();
        let name: String = obj.get("name").unwrap_or_else(|_| "Error".into());
        let stack: String = obj.get("stack").unwrap_or_default();
        let at = stack.lines().next().map(|l| format!(" ({})", l.trim())).unwrap_or_default();
        return format!("{name}: {message}{at}");
    }
    thrown.as_string().and_then(|s| s.to_string().ok()).unwrap_or_else(|| "an exception".into())
}

/// A SQL value as workerd hands it to JavaScript.
pub(crate) fn sql_to_js<'js>(ctx: &Ctx<'js>, v: &SqlValue) -> rquickjs::Result<Value<'js>> {
    use rquickjs::IntoJs;
    match v {
        SqlValue::Null => Ok(Value::new_null(ctx.clone())),
        SqlValue::Integer(i) => Ok(Value::new_number(ctx.clone(), *i as f64)),
        SqlValue::Real(x) => Ok(Value::new_number(ctx.clone(), *x)),
        SqlValue::Text(s) => s.as_str().into_js(ctx),
        SqlValue::Blob(b) => rquickjs::ArrayBuffer::new(ctx.clone(), b.clone()).map(|a| a.into_value()),
    }
}

/// A JavaScript binding of `sql.exec` as a SQL value: numbers bind as REAL (workerd binds
/// a double), strings as TEXT, `null`/`undefined` as NULL, bytes as BLOB.
pub(crate) fn js_to_sql(v: &Value<'_>) -> Result<SqlValue, Error> {
    if v.is_null() || v.is_undefined() {
        return Ok(SqlValue::Null);
    }
    if let Some(x) = v.as_number() {
        return Ok(SqlValue::Real(x));
    }
    if let Some(b) = v.as_bool() {
        return Ok(SqlValue::Real(if b { 1.0 } else { 0.0 }));
    }
    if let Some(s) = v.as_string() {
        return s.to_string().map(SqlValue::Text).map_err(|e| Error::usage(e.to_string()));
    }
    if let Some(obj) = v.as_object() {
        // SAFETY (both): the bytes are copied at once; no JavaScript runs meanwhile.
        if let Some(buf) = rquickjs::ArrayBuffer::from_object(obj.clone()) {
            return Ok(SqlValue::Blob(unsafe { buf.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default()));
        }
        if let Ok(typed) = rquickjs::TypedArray::<u8>::from_object(obj.clone()) {
            return Ok(SqlValue::Blob(unsafe { typed.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default()));
        }
    }
    Err(Error::usage(format!("Unsupported type for a SQL binding: {}", v.type_name())))
}
