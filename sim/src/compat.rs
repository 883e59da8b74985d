//! Compatibility date and flags: which of workerd's date-dependent behaviours a run has.
//! As in workerd, a behaviour is on from its enable date, or when its flag is named, and
//! off before that date or when its disable flag is named. Only the flags whose behaviour
//! dosim models are listed here ([`FLAGS`]); SEMANTICS.md says what each one changes.

use serde::{Deserialize, Serialize};

/// The default date: the build date of the pinned workerd (1.20261117.1), the latest date
/// that workerd accepts.
pub const DEFAULT_DATE: &str = "2026-11-17";

/// One date-dependent behaviour, named as workerd's `compatibility-date.capnp` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The flag that turns it on.
    pub enable: &'static str,
    /// The flag that turns it off.
    pub disable: &'static str,
    /// The first date it is on by default.
    pub date: &'static str,
    /// What it changes, in a few words.
    pub what: &'static str,
}

/// `deleteAll()` deletes the alarm too.
pub const DELETE_ALL_DELETES_ALARM: Flag = Flag {
    enable: "delete_all_deletes_alarm",
    disable: "delete_all_preserves_alarm",
    date: "2026-02-24",
    what: "deleteAll() also deletes the alarm",
};

/// Results of the runtime's iterators are full structs: a finished SQL cursor's `next()`
/// gives `{done: true, value: undefined}` (with a `value` key) instead of `{done: true}`.
pub const FAST_JSG_STRUCT: Flag = Flag {
    enable: "enable_fast_jsg_struct",
    disable: "disable_fast_jsg_struct",
    date: "2025-12-03",
    what: "a finished SQL cursor's next() has a `value` key",
};

/// Runtime objects carry their class name as `Symbol.toStringTag` (`[object Cursor]`).
pub const SET_TOSTRING_TAG: Flag = Flag {
    enable: "set_tostring_tag",
    disable: "do_not_set_tostring_tag",
    date: "2024-09-26",
    what: "Object.prototype.toString of a SQL cursor is [object Cursor]",
};

/// Every flag dosim models.
pub const FLAGS: [Flag; 3] = [DELETE_ALL_DELETES_ALARM, FAST_JSG_STRUCT, SET_TOSTRING_TAG];

/// The compatibility date and flags of a run (workerd's `compatibilityDate` and
/// `compatibilityFlags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compatibility {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Flags named explicitly (enable or disable flags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

impl Default for Compatibility {
    fn default() -> Self {
        Compatibility { date: DEFAULT_DATE.to_owned(), flags: Vec::new() }
    }
}

impl Compatibility {
    /// A checked date and flags: the date must be a real `YYYY-MM-DD` day no later than
    /// [`DEFAULT_DATE`] (workerd refuses dates after its own), a flag must look like one
    /// (`[a-z0-9_]+`), and no flag may be named with its opposite.
    pub fn new(date: &str, flags: &[String]) -> Result<Compatibility, String> {
        let c = Compatibility { date: date.to_owned(), flags: flags.to_vec() };
        c.check()?;
        Ok(c)
    }

    /// At `date` with no flags (checked as [`Compatibility::new`]).
    pub fn at(date: &str) -> Result<Compatibility, String> {
        Compatibility::new(date, &[])
    }

    /// What [`Compatibility::new`] checks, for values read from a file.
    pub fn check(&self) -> Result<(), String> {
        if !is_date(&self.date) {
            return Err(format!("compatibility date {:?} is not a date of the form YYYY-MM-DD", self.date));
        }
        if self.date.as_str() > DEFAULT_DATE {
            return Err(format!(
                "compatibility date {} is later than {DEFAULT_DATE}, the date of the workerd dosim follows",
                self.date
            ));
        }
        for f in &self.flags {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(format!("compatibility flag {f:?} is not a flag name (lowercase letters, digits, _)"));
            }
            // A flag dosim does not model is carried along (to workerd, into files) and
            // changes nothing here.
            let Some(flag) = FLAGS.iter().find(|x| x.enable == f || x.disable == f) else { continue };
            let opposite = if flag.enable == f { flag.disable } else { flag.enable };
            if self.flags.iter().any(|g| g == opposite) {
                return Err(format!("compatibility flags {f} and {opposite} contradict each other"));
            }
        }
        Ok(())
    }

    /// Whether `flag`'s behaviour is on: named, or from its date unless disabled.
    pub fn has(&self, flag: Flag) -> bool {
        if self.flags.iter().any(|f| f == flag.enable) {
            return true;
        }
        if self.flags.iter().any(|f| f == flag.disable) {
            return false;
        }
        self.date.as_str() >= flag.date
    }

    /// `deleteAll()` deletes the alarm too.
    pub fn delete_all_deletes_alarm(&self) -> bool {
        self.has(DELETE_ALL_DELETES_ALARM)
    }

    /// The flags to give `--compatibility-flags` to get this again (`a,b`).
    pub fn flags_arg(&self) -> String {
        self.flags.join(",")
    }

    /// Every modelled flag's state, for JavaScript hosts: `[[enable_name, on]...]`.
    pub fn states(&self) -> Vec<(&'static str, bool)> {
        FLAGS.iter().map(|f| (f.enable, self.has(*f))).collect()
    }
}

/// `YYYY-MM-DD` naming a real day of the Gregorian calendar.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        let part = &s[r];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse::<u32>().ok()).flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_turn_flags_on() {
        let before = Compatibility::at("2026-02-23").unwrap();
        let on = Compatibility::at("2026-02-24").unwrap();
        assert!(!before.delete_all_deletes_alarm());
        assert!(on.delete_all_deletes_alarm());
        assert!(Compatibility::default().delete_all_deletes_alarm());
        assert!(!Compatibility::at("2025-12-02").unwrap().has(FAST_JSG_STRUCT));
        assert!(Compatibility::at("2025-12-03").unwrap().has(FAST_JSG_STRUCT));
    }

    #[test]
    fn flags_override_the_date() {
        let off = Compatibility::new("2026-11-17", &["delete_all_preserves_alarm".into()]).unwrap();
        assert!(!off.delete_all_deletes_alarm());
        let on = Compatibility::new("2024-01-01", &["delete_all_deletes_alarm".into()]).unwrap();
        assert!(on.delete_all_deletes_alarm());
        assert_eq!(on.flags_arg(), "delete_all_deletes_alarm");
    }

    #[test]
    fn bad_dates_and_flags_are_refused() {
        for d in ["2026-2-24", "2026-02-30", "2025-02-29", "2026-13-01", "yesterday", "2026-11-18", "２０２６-01-01"]
        {
            assert!(Compatibility::at(d).is_err(), "{d}");
        }
        assert!(Compatibility::at("2024-02-29").is_ok());
        assert!(Compatibility::new("2026-01-01", &["nodejs_compat".into()]).is_ok(), "carried, not modelled");
        assert!(Compatibility::new("2026-01-01", &["Bad Flag".into()]).is_err());
        let both = ["delete_all_deletes_alarm".to_owned(), "delete_all_preserves_alarm".to_owned()];
        assert!(Compatibility::new("2026-01-01", &both).unwrap_err().contains("contradict"));
    }
}
