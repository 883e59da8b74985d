//! [`JsObject`]: a JavaScript class as a dosim Durable Object. Its requests are method
//! calls with JSON arguments ([`JsCall`]); its replies are the methods' results as tagged
//! JSON. Which class a namespace runs is registered per run with [`register`].

use crate::instance::{Instance, JsClass, JsClasses};
use crate::task::{JsTask, Reply, Settled, Start};
use dosim_sim::{async_trait, AlarmInfo, Backend, DurableObject, Env, Namespace, Result, State, WebSocket, World};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// A call to a JavaScript object: `object[method](...args)`. Arguments are JSON, with the
/// tags of dosim's structured clone for what JSON cannot say (`{"$js": "undefined"}`,
/// `{"$js": "Date", "v": ms}`, a `Map`, a `Request` for `fetch`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsCall {
    /// The method's name.
    pub method: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
}

impl JsCall {
    /// `method(...args)`.
    pub fn new(method: &str, args: Vec<serde_json::Value>) -> JsCall {
        JsCall { method: method.to_owned(), args }
    }

    /// `fetch(new Request(url, { method, body }))`.
    pub fn fetch(url: &str, method: &str, body: Option<&str>) -> JsCall {
        let request = serde_json::json!({
            "$js": "Request", "url": url, "method": method, "headers": {}, "body": body,
        });
        JsCall::new("fetch", vec![request])
    }
}

/// A JavaScript Durable Object: an instance of its class in its script's isolate.
pub struct JsObject {
    /// The instance, or why there is none (no class registered for the binding).
    inst: std::result::Result<Rc<Instance>, (State, String)>,
}

/// Registers `class` as what namespace `binding` runs in this run, and the namespace.
pub fn register(world: &World, binding: &str, backend: Backend, class: JsClass) -> Namespace<JsObject> {
    let classes = world.extension::<JsClasses>().unwrap_or_else(|| {
        let c = Rc::new(JsClasses::default());
        world.set_extension(c.clone());
        c
    });
    classes.0.borrow_mut().insert(binding.to_owned(), class);
    world.namespace_with::<JsObject>(binding, backend)
}

impl JsObject {
    async fn run(&self, start: Start) -> Result<serde_json::Value> {
        let inst = match &self.inst {
            Ok(inst) => inst,
            Err((state, missing)) => return Err(state.abort(Some(missing))),
        };
        let ctor_error = inst.constructor_error.borrow().clone();
        if let Some(e) = ctor_error {
            // workerd keeps the constructor's exception as the instance: every event gets
            // it, flagged as a reset, and the next event builds a new instance.
            return Err(inst.state.abort(Some(&e.message)));
        }
        if crate::isolate::maybe_restart(inst) {
            return Err(dosim_sim::Error::reset("Durable Object reset: isolate restart (simulated crash)."));
        }
        match JsTask::new(inst.clone(), start, Reply::Json).await? {
            Settled::Json(v) => Ok(v),
            Settled::Kept(_) => Ok(serde_json::Value::Null),
        }
    }
}

#[async_trait(?Send)]
impl DurableObject for JsObject {
    type Request = JsCall;
    type Response = serde_json::Value;

    fn new(state: State, env: Env) -> Self {
        let class = state.world().extension::<JsClasses>().and_then(|c| c.0.borrow().get(&state.binding()).cloned());
        let inst = match class {
            Some(class) => Ok(Instance::start(state, env, &class)),
            None => {
                let missing = format!("no JavaScript class is registered for binding {}", state.binding());
                Err((state, missing))
            }
        };
        JsObject { inst }
    }

    async fn call(&self, request: JsCall) -> Result<serde_json::Value> {
        let args = serde_json::Value::Array(request.args).to_string();
        self.run(Start::Call { method: request.method, args }).await
    }

    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        if let Ok(inst) = &self.inst {
            if !inst.has_method("alarm") && inst.constructor_error.borrow().is_none() {
                return Ok(());
            }
        }
        self.run(Start::Alarm {
            retry_count: info.retry_count,
            is_retry: info.is_retry,
            scheduled_ms: info.scheduled_time.as_millis() as f64,
        })
        .await
        .map(|_| ())
    }

    // Socket events are calls of the prelude's own (`platform/websocket.js`), named so
    // that no method of a class can be called by them.
    async fn web_socket_connect(&self, ws: WebSocket) -> Result<()> {
        let request = ws.request().unwrap_or_else(|| UPGRADE_REQUEST.to_owned());
        let args = format!("[{}, {request}]", ws.id());
        self.run(Start::Call { method: "#ws-open".into(), args }).await.map(|_| ())
    }

    async fn web_socket_message(&self, ws: WebSocket, message: String) -> Result<()> {
        let args = serde_json::json!([ws.id(), message]).to_string();
        self.run(Start::Call { method: "#ws-message".into(), args }).await.map(|_| ())
    }

    async fn web_socket_close(&self, ws: WebSocket, code: u16, reason: String) -> Result<()> {
        let args = serde_json::json!([ws.id(), code, reason]).to_string();
        self.run(Start::Call { method: "#ws-close".into(), args }).await.map(|_| ())
    }
}

/// The upgrade request of a client that gave none (tagged JSON of a `Request`).
const UPGRADE_REQUEST: &str =
    r#"{"$js":"Request","url":"http://do/","method":"GET","headers":{"upgrade":"websocket"},"body":null}"#;

/// What `JSON.stringify` makes of a reply given as tagged JSON (the value a caller gets
/// and then sends on as JSON, e.g. with `Response.json`): `undefined` drops out of objects
/// and is `null` in arrays, NaN and the infinities are `null`, `-0` is `0`, a `Date` is its
/// ISO text, and other objects without enumerable own properties (`Map`, `Set`, `RegExp`,
/// `Error`, `ArrayBuffer`) are `{}`. A `BigInt` cannot be stringified: V8's error text.
pub fn stringified(reply: &serde_json::Value) -> std::result::Result<serde_json::Value, String> {
    use serde_json::Value;
    fn omitted(v: &Value) -> bool {
        v.get("$js").and_then(Value::as_str) == Some("undefined")
    }
    fn object(o: &serde_json::Map<String, Value>) -> std::result::Result<Value, String> {
        let mut out = serde_json::Map::new();
        for (k, v) in o.iter().filter(|(_, v)| !omitted(v)) {
            out.insert(k.clone(), stringified(v)?);
        }
        Ok(Value::Object(out))
    }
    match reply {
        Value::Array(a) => Ok(Value::Array(a.iter().map(stringified).collect::<std::result::Result<_, _>>()?)),
        Value::Object(o) => match o.get("$js").and_then(Value::as_str) {
            None => object(o),
            Some("undefined" | "NaN" | "Infinity" | "-Infinity") => Ok(Value::Null),
            Some("-0") => Ok(Value::from(0)),
            Some("bigint") => Err("Do not know how to serialize a BigInt".into()),
            Some("Object") => o.get("v").and_then(Value::as_object).map_or(Ok(Value::Null), object),
            Some("Date") => {
                Ok(o.get("v").and_then(Value::as_f64).and_then(iso_date).map_or(Value::Null, Value::String))
            }
            Some("Response" | "Request") => {
                let fields = o.iter().filter(|(k, _)| k.as_str() != "$js").map(|(k, v)| (k.clone(), v.clone()));
                object(&fields.collect())
            }
            Some(typed) if typed.ends_with("Array") => Ok(typed_array(typed, o.get("v"))),
            Some(_) => Ok(Value::Object(serde_json::Map::new())),
        },
        other => Ok(other.clone()),
    }
}

/// A typed array as `JSON.stringify` writes it: `{"0": x, "1": y, ...}`.
fn typed_array(tag: &str, bytes: Option<&serde_json::Value>) -> serde_json::Value {
    let bytes = bytes.and_then(serde_json::Value::as_str).map(base64).unwrap_or_default();
    let width = match tag {
        "Uint16Array" | "Int16Array" => 2,
        "Uint32Array" | "Int32Array" | "Float32Array" => 4,
        "Float64Array" | "BigInt64Array" | "BigUint64Array" => 8,
        _ => 1,
    };
    let mut out = serde_json::Map::new();
    for (i, c) in bytes.chunks_exact(width).enumerate() {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(c);
        let x = match tag {
            "Int8Array" => f64::from(c[0] as i8),
            "Int16Array" => f64::from(i16::from_le_bytes([c[0], c[1]])),
            "Uint16Array" => f64::from(u16::from_le_bytes([c[0], c[1]])),
            "Int32Array" => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "Uint32Array" => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "Float32Array" => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "Float64Array" => f64::from_le_bytes(b),
            _ => f64::from(c[0]),
        };
        let v = if x.fract() == 0.0 && x.abs() < 9.0e15 { serde_json::json!(x as i64) } else { serde_json::json!(x) };
        out.insert(i.to_string(), v);
    }
    serde_json::Value::Object(out)
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes().filter_map(|c| ALPHABET.iter().position(|&a| a == c)) {
        acc = (acc << 6) | c as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// `Date.prototype.toISOString` of a time in ms since the epoch (`None`: an invalid date).
fn iso_date(ms: f64) -> Option<String> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return None;
    }
    let ms = ms as i64;
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = if (0..=9999).contains(&year) { format!("{year:04}") } else { format!("{year:+07}") };
    let (h, m, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    Some(format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z"))
}
