//! Simulated time in whole milliseconds. The world clock moves only when one of dosim's
//! timers fires (madsim jumps straight to it), so an object's `now()` changes only when an
//! event is delivered (SEMANTICS.md §8) and never picks up madsim's per-poll creep.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A point on the simulated clock, in milliseconds since the run began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Milliseconds since the start of the run.
    pub fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `d`, rounded up to whole milliseconds.
    pub fn after(self, d: Duration) -> SimTime {
        SimTime(self.0 + millis_ceil(d))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Whole milliseconds of `d`, rounded up (madsim never sleeps less than 1 ms anyway).
pub fn millis_ceil(d: Duration) -> u64 {
    let ms = d.as_millis() as u64;
    if Duration::from_millis(ms) < d {
        ms + 1
    } else {
        ms
    }
}

/// Parses `500ms`, `30s`, `10m`, `2h` (or a bare number of seconds). A duration whose
/// milliseconds do not fit in a `u64` (what [`SimTime`] counts) is an error, never a
/// wrapped-around value.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let malformed = || format!("malformed duration {text:?}: expected a number and a unit, like 30s, 10m or 500ms");
    if num.is_empty() {
        return Err(malformed());
    }
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("malformed duration {text:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    // Only digits are left, so a failed parse is an overflow.
    let too_long = || format!("duration {text:?} is too long");
    let n: u64 = num.parse().map_err(|_| too_long())?;
    let ms = n.checked_mul(ms_per_unit).ok_or_else(too_long)?;
    Ok(Duration::from_millis(ms))
}

/// A future that is pending exactly once: the task goes back to the scheduler's ready
/// queue, so everything else ready at this instant may run first (one scheduler turn).
#[derive(Default)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Yields one scheduler turn.
pub fn yield_now() -> YieldNow {
    YieldNow::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn durations_that_overflow_are_errors() {
        let too_long = |t: &str| parse_duration(t).is_err_and(|e| e.contains("too long"));
        assert!(too_long("99999999999999999999h"));
        assert!(too_long("18446744073709551615s"));
        assert!(too_long("5124095576030432h"));
        assert_eq!(parse_duration("18446744073709551615ms"), Ok(Duration::from_millis(u64::MAX)));
    }

    #[test]
    fn millis_round_up() {
        assert_eq!(millis_ceil(Duration::from_micros(10)), 1);
        assert_eq!(millis_ceil(Duration::from_millis(3)), 3);
    }
}
