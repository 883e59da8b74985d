//! `worker::Error`: the variants a Durable Object module builds or matches on, plus
//! `Runtime`, which carries dosim's own error (with its reset and retry flags) through
//! object code and back to the runtime unchanged.

/// An error of the Worker API.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A body was not valid UTF-8 or JSON of the expected shape.
    BadEncoding,
    /// A body was read twice.
    BodyUsed,
    /// A message and an HTTP status.
    Json((String, u16)),
    /// An error thrown by the runtime, as text.
    JsError(String),
    /// A binding is missing or of another kind.
    BindingError(String),
    /// An error raised by Rust code (`Error::from("...")`, `Error::RustError(...)`).
    RustError(String),
    /// A JSON (de)serialization error.
    SerdeJsonError(serde_json::Error),
    /// A URL that does not parse.
    UrlParse(url::ParseError),
    /// Invalid UTF-8.
    Utf8Error(std::str::Utf8Error),
    /// dosim's runtime error (storage, reset, lost connection), flags kept.
    Runtime(dosim_sim::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::BadEncoding => f.write_str("content-type mismatch"),
            Error::BodyUsed => f.write_str("body has already been read"),
            Error::Json((msg, status)) => write!(f, "{msg} (status: {status})"),
            Error::JsError(s) | Error::RustError(s) => f.write_str(s),
            Error::BindingError(name) => write!(f, "no binding found for `{name}`"),
            Error::SerdeJsonError(e) => write!(f, "Serde Error: {e}"),
            Error::UrlParse(e) => write!(f, "{e}"),
            Error::Utf8Error(e) => write!(f, "{e}"),
            Error::Runtime(e) => f.write_str(&e.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error::RustError(s.to_owned())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error::RustError(s)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::SerdeJsonError(e)
    }
}

impl From<url::ParseError> for Error {
    fn from(e: url::ParseError) -> Self {
        Error::UrlParse(e)
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Self {
        Error::Utf8Error(e)
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl From<dosim_sim::Error> for Error {
    fn from(e: dosim_sim::Error) -> Self {
        Error::Runtime(e)
    }
}

impl From<Error> for dosim_sim::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Runtime(e) => e,
            other => dosim_sim::Error::app(other.to_string()),
        }
    }
}
