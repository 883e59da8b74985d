//! JavaScript behaviour the faithful ports need and Rust does not have: a number that may
//! be `undefined` or `NaN`, a constructor that throws, a property read off `undefined`,
//! and `crypto.randomUUID()`.

use dosim_sim::{Error, ObjectId, State};
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// A JavaScript value that is `undefined` or a number (`NaN` included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsNumber {
    Undefined,
    Number(f64),
}

impl JsNumber {
    /// `this + 1`: `undefined + 1` is `NaN`, and `NaN + 1` is `NaN` again.
    pub fn plus_one(self) -> JsNumber {
        match self {
            JsNumber::Undefined => JsNumber::Number(f64::NAN),
            JsNumber::Number(x) => JsNumber::Number(x + 1.0),
        }
    }

    /// `String(this)`: `"undefined"`, `"NaN"`, or the number (integers without a `.0`).
    pub fn to_js_string(self) -> String {
        match self {
            JsNumber::Undefined => "undefined".into(),
            JsNumber::Number(x) if x.is_nan() => "NaN".into(),
            JsNumber::Number(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 => format!("{}", x as i64),
            JsNumber::Number(x) => format!("{x}"),
        }
    }
}

/// As JSON: `undefined` is `null`, an integral number an integer, `NaN` the string
/// `"NaN"` (JSON has no NaN; the V8 serializer workerd stores values with keeps it).
impl Serialize for JsNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            JsNumber::Undefined => s.serialize_none(),
            JsNumber::Number(x) if x.is_nan() => s.serialize_str("NaN"),
            JsNumber::Number(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_i64(x as i64),
            JsNumber::Number(x) => s.serialize_f64(x),
        }
    }
}

impl<'de> Deserialize<'de> for JsNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Option::<Raw>::deserialize(d)? {
            None => Ok(JsNumber::Undefined),
            Some(Raw::Number(x)) => Ok(JsNumber::Number(x)),
            Some(Raw::Text(t)) if t == "NaN" => Ok(JsNumber::Number(f64::NAN)),
            Some(Raw::Text(t)) => Err(de::Error::custom(format!("not a JavaScript number: {t:?}"))),
        }
    }
}

/// What an event meets when the class constructor threw. workerd keeps the exception as
/// the instance (`broken.constructorFailed`), aborts the object and builds a new instance
/// for the next event; the caller gets the constructor's error flagged
/// `durableObjectReset`. The simulated runtime's constructor cannot fail, so a port keeps
/// the error and rethrows it from each event through `abort`, which has those effects.
pub fn constructor_threw(state: &State, error: &Error) -> Error {
    state.abort(Some(&error.message))
}

/// Which port of a pattern an object is: the original as received, or the original with
/// only the errors the runtime raises for it patched (so the defects of its design show).
pub trait Port: 'static {
    /// Patched: `this.sql` is assigned and the tables the code uses are created.
    const PATCHED: bool;
}

/// The original, as received.
pub struct Faithful;

/// The original with its runtime errors patched and its logic kept.
pub struct Patched;

impl Port for Faithful {
    const PATCHED: bool = false;
}

impl Port for Patched {
    const PATCHED: bool = true;
}

/// What V8 throws when code reads `property` off `undefined` (`this.sql.exec` when
/// `this.sql` was never assigned). A `TypeError` is a usage error in dosim's kinds.
pub fn undefined_property(property: &str) -> Error {
    Error::usage(format!("Cannot read properties of undefined (reading '{property}')"))
}

/// `crypto.randomUUID()`, drawn from the namespace's `new_unique_id()` so that the seed
/// fixes it: the id's first 32 hex digits, shaped as a version-4 UUID.
pub fn random_uuid(source: &ObjectId) -> String {
    let mut hex: Vec<char> = source.hex().chars().take(32).collect();
    hex[12] = '4';
    let variant = hex[16].to_digit(16).unwrap_or(0);
    hex[16] = char::from_digit((variant & 0x3) | 0x8, 16).unwrap_or('8');
    let s: String = hex.into_iter().collect();
    format!("{}-{}-{}-{}-{}", &s[0..8], &s[8..12], &s[12..16], &s[16..20], &s[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_plus_one_is_nan_and_stays_nan() {
        let nan = JsNumber::Undefined.plus_one();
        assert_eq!(nan.to_js_string(), "NaN");
        assert_eq!(nan.plus_one().to_js_string(), "NaN");
        assert_eq!(JsNumber::Number(41.0).plus_one().to_js_string(), "42");
        assert_eq!(JsNumber::Undefined.to_js_string(), "undefined");
    }

    #[test]
    fn json_round_trip_keeps_nan_and_undefined() {
        for v in [JsNumber::Undefined, JsNumber::Number(f64::NAN), JsNumber::Number(3.0), JsNumber::Number(0.5)] {
            let text = serde_json::to_string(&v).unwrap();
            let back: JsNumber = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_js_string(), v.to_js_string(), "{text}");
        }
        assert_eq!(serde_json::to_string(&JsNumber::Number(3.0)).unwrap(), "3");
    }
}
