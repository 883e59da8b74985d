//! The record of a run: the history of client calls (invoke, then ok / fail / info, as in
//! Jepsen) and the runtime trace (constructions, gate turns, commits, crashes), both as
//! stable one-line text with no addresses or process-global ids, hashed into `trace_hash`.

use crate::error::Error;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One line of the runtime trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLine {
    /// When it happened.
    pub at: SimTime,
    /// Who it happened to: an object label (`COUNTER:1a2b3c4d`), `client-N`, or `world`.
    pub actor: String,
    /// What happened, in a few words.
    pub what: String,
}

impl TraceLine {
    /// Writes the line as the trace prints it: time, actor column, event.
    pub fn write_to(&self, out: &mut String) {
        let _ = write!(out, "{:>9} {:<20} {}", self.at.to_string(), self.actor, self.what);
    }
}

impl std::fmt::Display for TraceLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// How a call ended, from the caller's point of view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Completion {
    /// Not answered by the end of the run.
    Pending,
    /// Acknowledged with this response.
    Ok {
        /// The response, as JSON.
        value: serde_json::Value,
    },
    /// Failed, and the failure says the call's effects are known (it threw, or was refused).
    Fail {
        /// The error the caller saw.
        error: Error,
    },
    /// Failed in a way that hides whether it took effect (reset, connection lost).
    Info {
        /// The error the caller saw.
        error: Error,
    },
}

impl Completion {
    /// Labels an outcome: errors that hide whether the call ran are `info`.
    pub fn from_result(r: &Result<serde_json::Value, Error>) -> Completion {
        match r {
            Ok(v) => Completion::Ok { value: v.clone() },
            Err(e) if e.is_indeterminate() => Completion::Info { error: e.clone() },
            Err(e) => Completion::Fail { error: e.clone() },
        }
    }

    /// `ok`, `fail`, `info` or `pending`.
    pub fn label(&self) -> &'static str {
        match self {
            Completion::Pending => "pending",
            Completion::Ok { .. } => "ok",
            Completion::Fail { .. } => "fail",
            Completion::Info { .. } => "info",
        }
    }
}

/// One client call, invoke to completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, in invoke order.
    pub index: usize,
    /// The client that made the call.
    pub client: usize,
    /// The object called (its label).
    pub object: String,
    /// The request, as JSON.
    pub request: serde_json::Value,
    /// When the call was made.
    pub invoked_at: SimTime,
    /// When the answer arrived (if it did).
    pub completed_at: Option<SimTime>,
    /// How it ended.
    pub completion: Completion,
}

impl Op {
    /// The response value, if the call was acknowledged.
    pub fn ok_value(&self) -> Option<&serde_json::Value> {
        match &self.completion {
            Completion::Ok { value } => Some(value),
            _ => None,
        }
    }

    /// The error the caller saw, if any.
    pub fn error(&self) -> Option<&Error> {
        match &self.completion {
            Completion::Fail { error } | Completion::Info { error } => Some(error),
            _ => None,
        }
    }
}

/// FNV-1a, 64 bit: a fixed, dependency-free hash, stable across builds and platforms.
#[derive(Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// Renders trace lines as text, one per line, and returns it with its hash (16 hex digits).
pub fn render_trace(lines: &[TraceLine]) -> (String, String) {
    let mut text = String::with_capacity(lines.len() * 48);
    for l in lines {
        l.write_to(&mut text);
        text.push('\n');
    }
    let mut h = Fnv64::default();
    h.write(text.as_bytes());
    (text, format!("{:016x}", h.finish()))
}

/// The hash [`render_trace`] gives, without building the text: each line is rendered into
/// one reused buffer and fed to the hash (FNV-1a is byte by byte, so the same value).
pub fn trace_hash(lines: &[TraceLine]) -> String {
    let mut h = Fnv64::default();
    let mut line = String::with_capacity(128);
    for l in lines {
        line.clear();
        l.write_to(&mut line);
        line.push('\n');
        h.write(line.as_bytes());
    }
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_hash_is_the_rendered_texts_hash() {
        let lines: Vec<TraceLine> = (0..50)
            .map(|i| TraceLine {
                at: crate::time::SimTime(i * 7),
                actor: format!("a{}", i % 3),
                what: "x".repeat(i as usize),
            })
            .collect();
        assert_eq!(trace_hash(&lines), render_trace(&lines).1);
        assert_eq!(trace_hash(&[]), render_trace(&[]).1);
        assert_ne!(trace_hash(&lines[1..]), render_trace(&lines).1);
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        let mut h = Fnv64::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Fnv64::default().finish(), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn trace_hash_changes_with_any_line() {
        let a = vec![TraceLine { at: SimTime(1), actor: "x".into(), what: "commit".into() }];
        let mut b = a.clone();
        b[0].at = SimTime(2);
        assert_ne!(render_trace(&a).1, render_trace(&b).1);
        assert_eq!(render_trace(&a).1, render_trace(&a.clone()).1);
    }
}
