//! Errors as a Durable Object and its callers see them: workerd's message text plus the
//! flags (`durable_object_reset`, `retryable`, `overloaded`, `remote`) that JavaScript
//! callers read off a thrown error (SEMANTICS.md §2.4, §7).

use serde::{Deserialize, Serialize};

/// Result of every object-facing operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is; decides how the history labels a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The object was reset (crash, broken gate, `abort()`); work not yet durable is lost.
    Reset,
    /// The connection to the object was lost; the caller cannot know whether it ran.
    Network,
    /// The object refused work because it was overloaded.
    Overloaded,
    /// An error thrown by the object's own code.
    App,
    /// Misuse of an API (`TypeError`/`RangeError` in JavaScript).
    Usage,
    /// A storage operation failed (SQL errors included).
    Storage,
    /// The object's code panicked: always a finding.
    Panic,
}

/// An error with workerd's message and flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// Classification used by the history and the checkers.
    pub kind: ErrorKind,
    /// The message text, as workerd words it where workerd has a text.
    pub message: String,
    /// Set on errors caused by an object reset (`err.durableObjectReset`).
    pub durable_object_reset: bool,
    /// Set on errors that may be retried safely (`err.retryable`).
    pub retryable: bool,
    /// Set when the object was overloaded (`err.overloaded`).
    pub overloaded: bool,
    /// Set when the error was thrown by the remote object's code (`err.remote`).
    pub remote: bool,
    /// The JavaScript class of an error JavaScript code threw, when it is one the V8
    /// serializer keeps across objects (`RangeError`, `SyntaxError`, ...; not `Error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_class: Option<String>,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            durable_object_reset: false,
            retryable: false,
            overloaded: false,
            remote: false,
            js_class: None,
        }
    }

    /// An error raised by object code (what `throw new Error(msg)` is in JavaScript).
    pub fn app(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::App, message)
    }

    /// An API misuse, worded as workerd's `TypeError`/`RangeError`.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    /// A storage failure (SQL errors included).
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }

    /// The object was reset: every caller with work in flight gets this.
    pub fn reset(message: impl Into<String>) -> Self {
        Error { durable_object_reset: true, ..Error::new(ErrorKind::Reset, message) }
    }

    /// The connection to the object was lost: the call may or may not have run.
    pub fn network_lost() -> Self {
        Error { retryable: true, ..Error::new(ErrorKind::Network, "Network connection lost.") }
    }

    /// The object's code panicked.
    pub fn panic(message: impl Into<String>) -> Self {
        Error { durable_object_reset: true, ..Error::new(ErrorKind::Panic, message) }
    }

    /// Marks an error as having come from the remote object's code, as a caller sees it.
    pub(crate) fn into_remote(mut self) -> Self {
        if self.kind == ErrorKind::App || self.kind == ErrorKind::Usage || self.kind == ErrorKind::Storage {
            self.remote = true;
        }
        self
    }

    /// Whether the caller cannot tell if the call took effect.
    pub fn is_indeterminate(&self) -> bool {
        self.durable_object_reset || self.retryable || self.kind == ErrorKind::Network
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::usage(format!("value cannot be stored: {e}"))
    }
}
