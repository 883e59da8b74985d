//! The little of `js_sys` that the Durable Object API hands out: `JsValue` (a stored
//! value, as JSON, or `undefined`) and `Map` (what `get_multiple` and `list` return),
//! kept in insertion order as JavaScript's `Map` is.

use serde::de::DeserializeOwned;

/// `js_sys::futures` (wasm-bindgen-futures).
pub mod futures {
    use std::future::Future;

    /// Runs `future` as work of the object whose code calls it (a strand that enters
    /// through the input gate and dies with the instance); outside any object (Worker
    /// code, which dosim does not run) it is dropped.
    pub fn spawn_local<F: Future<Output = ()> + 'static>(future: F) {
        if let Some(state) = crate::dosim::current() {
            state.spawn_event("spawn_local", async move {
                future.await;
                Ok(())
            });
        }
    }
}

/// A JavaScript value: JSON, or `undefined`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsValue(Option<serde_json::Value>);

impl JsValue {
    /// `null`.
    pub const NULL: JsValue = JsValue(Some(serde_json::Value::Null));
    /// `undefined`.
    pub const UNDEFINED: JsValue = JsValue(None);

    /// A string value.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> JsValue {
        JsValue(Some(serde_json::Value::String(s.to_owned())))
    }

    /// A number value.
    pub fn from_f64(n: f64) -> JsValue {
        JsValue(Some(serde_json::json!(n)))
    }

    /// The string, if this is one.
    pub fn as_string(&self) -> Option<String> {
        self.0.as_ref()?.as_str().map(str::to_owned)
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.as_ref()?.as_f64()
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        self.0.as_ref()?.as_bool()
    }

    /// Whether this is `undefined`.
    pub fn is_undefined(&self) -> bool {
        self.0.is_none()
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.0, Some(serde_json::Value::Null))
    }

    /// The value as JSON (`undefined` is `None`).
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        self.0.as_ref()
    }

    /// The value deserialized as `T` (what `serde_wasm_bindgen::from_value` does).
    pub fn into_serde<T: DeserializeOwned>(&self) -> crate::Result<T> {
        Ok(serde_json::from_value(self.0.clone().unwrap_or(serde_json::Value::Null))?)
    }

    pub(crate) fn json(v: serde_json::Value) -> JsValue {
        JsValue(Some(v))
    }
}

impl From<&str> for JsValue {
    fn from(s: &str) -> Self {
        JsValue::from_str(s)
    }
}

impl From<String> for JsValue {
    fn from(s: String) -> Self {
        JsValue(Some(serde_json::Value::String(s)))
    }
}

impl From<f64> for JsValue {
    fn from(n: f64) -> Self {
        JsValue::from_f64(n)
    }
}

impl From<bool> for JsValue {
    fn from(b: bool) -> Self {
        JsValue(Some(serde_json::Value::Bool(b)))
    }
}

impl From<serde_json::Value> for JsValue {
    fn from(v: serde_json::Value) -> Self {
        JsValue(Some(v))
    }
}

/// A JavaScript `Map`, in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<(JsValue, JsValue)>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Map {
        Map::default()
    }

    /// The value of `key`, or `undefined`.
    pub fn get(&self, key: &JsValue) -> JsValue {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: &JsValue, value: &JsValue) -> &mut Map {
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.clone(),
            None => self.entries.push((key.clone(), value.clone())),
        }
        self
    }

    /// Whether `key` is in the map.
    pub fn has(&self, key: &JsValue) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// How many entries.
    pub fn size(&self) -> u32 {
        self.entries.len() as u32
    }

    /// The keys, in order (as `js_sys::Iterator` yields them: each a `Result`).
    pub fn keys(&self) -> Iter {
        Iter(self.entries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>().into_iter())
    }

    /// The values, in order.
    pub fn values(&self) -> Iter {
        Iter(self.entries.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>().into_iter())
    }

    /// The entries, each as a two-element JSON array `[key, value]`.
    pub fn entries(&self) -> Iter {
        let pairs: Vec<JsValue> = self
            .entries
            .iter()
            .map(|(k, v)| {
                let j = |x: &JsValue| x.0.clone().unwrap_or(serde_json::Value::Null);
                JsValue::json(serde_json::json!([j(k), j(v)]))
            })
            .collect();
        Iter(pairs.into_iter())
    }

    /// Calls `f(value, key)` for each entry, as `Map.prototype.forEach` does.
    pub fn for_each(&self, f: &mut dyn FnMut(JsValue, JsValue)) {
        for (k, v) in &self.entries {
            f(v.clone(), k.clone());
        }
    }
}

/// An iterator over a map's keys, values or entries.
#[derive(Debug)]
pub struct Iter(std::vec::IntoIter<JsValue>);

impl Iterator for Iter {
    type Item = Result<JsValue, JsValue>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(Ok)
    }
}
