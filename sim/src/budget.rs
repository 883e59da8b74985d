//! The run's budgets: how far object code may go before dosim stops it and reports a
//! finding (`budget`) instead of hanging, aborting or eating the machine. Every budget but
//! the watchdog counts something the simulation does, so the same seed stops at the same
//! point; the watchdog is wall-clock time, outside the simulation, and only a last resort.

use serde::{Deserialize, Serialize};

/// JavaScript engines check for interruption every this many steps (a step is a function
/// call or a backward jump: QuickJS's own interrupt counter), so JavaScript budgets are
/// counted in whole multiples of it.
pub const JS_STEPS_PER_CHECK: u64 = 10_000;

/// Limits of one run. Defaults are generous enough that no built-in scenario comes near
/// them; each can be changed from the command line with `--limit NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Budgets {
    /// JavaScript steps one turn of an object may take (`js-turn-steps`). An endless loop
    /// in a method, constructor, alarm, timer callback or microtask chain ends here: the
    /// object is reset (workerd resets an isolate that overruns its CPU limit) and the
    /// run goes on.
    pub js_turn_steps: u64,
    /// JavaScript steps the whole run may take (`js-run-steps`); past it the run stops.
    pub js_run_steps: u64,
    /// Bytes one JavaScript engine may allocate (`js-memory`): 128 MiB, workerd's isolate
    /// limit. Past it the object is reset.
    pub js_memory_bytes: u64,
    /// Calls a request may pass through, object to object (`call-depth`): 16, as in
    /// production; the call that would go deeper fails.
    pub call_depth: u32,
    /// Bytes of one reply that leaves an object (`reply-bytes`): 32 MiB, the limit of a
    /// serialized RPC message.
    pub reply_bytes: u64,
    /// Virtual machine steps one SQL statement may take (`sql-steps`) before it is
    /// interrupted with `SQLITE_INTERRUPT`.
    pub sql_statement_steps: u64,
    /// Turns (strand polls that run object code) the whole run may take (`run-turns`);
    /// past it the run stops. Catches endless timer chains and livelocks.
    pub run_turns: u64,
    /// Budget findings after which the run stops (`overruns`): each costs a whole budget
    /// of work, and the first already decides the verdict.
    pub overruns: u32,
    /// Trace lines kept (`trace-lines`); later lines still count in `trace_hash`.
    pub trace_lines: usize,
    /// Wall-clock seconds a run may take before the watchdog ends it (`watchdog`, 0 for
    /// none). Not part of any verdict's determinism: a run it ends is a `harness` finding.
    pub watchdog_secs: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            js_turn_steps: 100_000_000,
            js_run_steps: 1_000_000_000,
            js_memory_bytes: 128 * 1024 * 1024,
            call_depth: 16,
            reply_bytes: 32 * 1024 * 1024,
            sql_statement_steps: 20_000_000,
            run_turns: 100_000,
            overruns: 2,
            trace_lines: 300_000,
            watchdog_secs: 60,
        }
    }
}

/// The names `--limit` takes, with what each bounds.
pub const BUDGET_NAMES: &[(&str, &str)] = &[
    ("js-turn-steps", "JavaScript steps in one turn of an object"),
    ("js-run-steps", "JavaScript steps in the whole run"),
    ("js-memory", "bytes one JavaScript engine may allocate (suffixes KiB, MiB, GiB)"),
    ("call-depth", "objects a request may pass through"),
    ("reply-bytes", "bytes of one reply (suffixes KiB, MiB, GiB)"),
    ("sql-steps", "virtual machine steps of one SQL statement"),
    ("run-turns", "turns of object code in the whole run"),
    ("overruns", "budget findings after which the run stops"),
    ("trace-lines", "trace lines kept (later ones are still hashed)"),
    ("watchdog", "wall-clock seconds a run may take (0: no watchdog)"),
];

impl Budgets {
    /// Applies one `NAME=VALUE` setting.
    pub fn set(&mut self, setting: &str) -> Result<(), String> {
        let (name, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--limit {setting:?}: expected NAME=VALUE, like js-turn-steps=1000000"))?;
        let (name, value) = (name.trim(), value.trim());
        let number = parse_amount(value).ok_or_else(|| {
            format!("--limit {name}: {value:?} is not a whole number (1000000, 1e9, 64MiB and 30s are)")
        })?;
        let positive = |n: u64| {
            if n == 0 {
                Err(format!("--limit {name}: must be at least 1"))
            } else {
                Ok(n)
            }
        };
        match name {
            "js-turn-steps" => self.js_turn_steps = positive(number)?,
            "js-run-steps" => self.js_run_steps = positive(number)?,
            "js-memory" => self.js_memory_bytes = positive(number)?,
            "call-depth" => {
                self.call_depth = u32::try_from(positive(number)?).map_err(|_| format!("--limit {name}: too large"))?
            }
            "reply-bytes" => self.reply_bytes = positive(number)?,
            "sql-steps" => self.sql_statement_steps = positive(number)?,
            "run-turns" => self.run_turns = positive(number)?,
            "overruns" => {
                self.overruns = u32::try_from(positive(number)?).map_err(|_| format!("--limit {name}: too large"))?
            }
            "trace-lines" => {
                self.trace_lines =
                    usize::try_from(positive(number)?).map_err(|_| format!("--limit {name}: too large"))?
            }
            "watchdog" => self.watchdog_secs = number,
            _ => {
                let names: Vec<&str> = BUDGET_NAMES.iter().map(|(n, _)| *n).collect();
                return Err(format!("--limit: unknown budget {name:?}; the budgets are: {}", names.join(", ")));
            }
        }
        Ok(())
    }

    /// The `--limit` flags that reproduce these budgets (empty for the defaults).
    pub fn flags(&self) -> Vec<String> {
        let d = Budgets::default();
        let mut out = Vec::new();
        let mut push = |name: &str, now: u64, default: u64| {
            if now != default {
                out.push(format!("{name}={now}"));
            }
        };
        push("js-turn-steps", self.js_turn_steps, d.js_turn_steps);
        push("js-run-steps", self.js_run_steps, d.js_run_steps);
        push("js-memory", self.js_memory_bytes, d.js_memory_bytes);
        push("call-depth", self.call_depth.into(), d.call_depth.into());
        push("reply-bytes", self.reply_bytes, d.reply_bytes);
        push("sql-steps", self.sql_statement_steps, d.sql_statement_steps);
        push("run-turns", self.run_turns, d.run_turns);
        push("overruns", self.overruns.into(), d.overruns.into());
        push("trace-lines", self.trace_lines as u64, d.trace_lines as u64);
        push("watchdog", self.watchdog_secs, d.watchdog_secs);
        out
    }
}

/// `1000`, `1e9`, `64MiB`, `2GiB`, `30s`, `5m`: a whole number, checked for overflow.
fn parse_amount(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    let units: [(&str, u64); 8] = [
        ("KiB", 1 << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("KB", 1000),
        ("MB", 1_000_000),
        ("GB", 1_000_000_000),
        ("s", 1),
        ("m", 60),
    ];
    for (suffix, scale) in units {
        if let Some(n) = text.strip_suffix(suffix) {
            return parse_plain(n)?.checked_mul(scale);
        }
    }
    parse_plain(&text)
}

fn parse_plain(text: &str) -> Option<u64> {
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        let m: u64 = mantissa.parse().ok()?;
        let e: u32 = exponent.parse().ok()?;
        return 10u64.checked_pow(e).and_then(|p| m.checked_mul(p));
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_with_units_and_round_trip_as_flags() {
        let mut b = Budgets::default();
        b.set("js-turn-steps=1e6").unwrap();
        b.set("js-memory=64MiB").unwrap();
        b.set("watchdog=0").unwrap();
        assert_eq!(b.js_turn_steps, 1_000_000);
        assert_eq!(b.js_memory_bytes, 64 << 20);
        let mut again = Budgets::default();
        for f in b.flags() {
            again.set(&f).unwrap();
        }
        assert_eq!(again, b);
        assert!(Budgets::default().flags().is_empty());
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let mut b = Budgets::default();
        assert!(b.set("nonsense").unwrap_err().contains("NAME=VALUE"));
        assert!(b.set("cpu=5").unwrap_err().contains("unknown budget"));
        assert!(b.set("js-turn-steps=0").unwrap_err().contains("at least 1"));
        assert!(b.set("js-turn-steps=99999999999999999999").is_err());
        assert!(b.set("js-memory=99999999999GiB").is_err());
        assert!(b.set("call-depth=1e12").unwrap_err().contains("too large"));
    }
}
