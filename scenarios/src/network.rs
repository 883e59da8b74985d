//! The generic workload's network: WebSocket clients (`--websocket PATH`, `--send SPEC`)
//! and the responders that answer the object's outbound `fetch` (`--responder HOST=FILE`).
//!
//! A WebSocket client connects with an upgrade request for `PATH` (the object's `fetch`
//! must answer 101), sends messages drawn from the `--send` specs, and records in the
//! history every message it sends (`{"websocket": path, "send": text}`), every message
//! it receives (`{"websocket": path, "received": text}`) and the close it sees
//! (`{"websocket": path, "closed": code, "reason": text}`; 1006 after a crash). A client
//! whose connection closed connects again at its next send. `PATH` and a plain-text send
//! spec may hold `{GEN}` placeholders, and a JSON send spec bare generators, from the
//! argument generators of `--method` (`int`, `int A..B`, `bool`, `string`, `key`):
//! `--websocket '/rooms/{key}' --send '{"op": "say", "n": int 1..9}'`. One send in ten
//! follows an 11 s pause (`"idle_ms"` in the request), so objects hibernate between sends.

use crate::user::{arg_strategy, parse_arg, ArgSpec};
use crate::workload::{Driving, Workload};
use dosim_js::{websocket_request, JsCall, JsObject};
use dosim_sim::{Backend, Connection, Error, Received, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// Text with generator placeholders: literal parts, and what each hole draws.
#[derive(Debug, Clone, PartialEq)]
enum Template {
    /// Plain text with `{GEN}` holes.
    Text(Vec<Part>),
    /// JSON with bare generators; holes are `{"$gen": n}` in the parsed value.
    Json(Value, Vec<ArgSpec>),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Hole(ArgSpec),
}

impl Template {
    fn text(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').ok_or_else(|| format!("{text:?}: a '{{' without its '}}'"))? + open;
            parts.push(Part::Literal(rest[..open].to_owned()));
            parts.push(Part::Hole(parse_arg(&rest[open + 1..close])?));
            rest = &rest[close + 1..];
        }
        parts.push(Part::Literal(rest.to_owned()));
        Ok(Template::Text(parts))
    }

    fn json(text: &str) -> Result<Template, String> {
        const GENERATORS: [&str; 4] = ["int", "bool", "string", "key"];
        let (mut out, mut holes, mut quoted, mut escaped) = (String::new(), Vec::new(), false, false);
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if quoted {
                out.push(c);
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => quoted = false,
                    _ => {}
                }
                continue;
            }
            let word: String = text[i..].chars().take_while(char::is_ascii_alphabetic).collect();
            let at_start = !text[..i].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_');
            if at_start && GENERATORS.contains(&word.as_str()) {
                // `int` may go on with a range: `int 1..9`.
                let mut end = i + word.len();
                if word == "int" {
                    let after = &text[end..];
                    let range: String = after
                        .chars()
                        .take_while(|ch| ch.is_ascii_digit() || ch.is_whitespace() || ".-".contains(*ch))
                        .collect();
                    if range.contains("..") {
                        end += range.trim_end().len();
                    }
                }
                holes.push(parse_arg(&text[i..end])?);
                out.push_str(&format!("{{\"$gen\": {}}}", holes.len() - 1));
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
                continue;
            }
            if c == '"' {
                quoted = true;
            }
            out.push(c);
        }
        let value = serde_json::from_str(&out).map_err(|e| format!("send spec {text:?}: not JSON ({e})"))?;
        Ok(Template::Json(value, holes))
    }

    fn strategy(&self) -> BoxedStrategy<String> {
        match self.clone() {
            Template::Text(parts) => {
                let draws: Vec<BoxedStrategy<String>> = parts
                    .into_iter()
                    .map(|p| match p {
                        Part::Literal(s) => Just(s).boxed(),
                        Part::Hole(spec) => arg_strategy(&spec).prop_map(|v| plain(&v)).boxed(),
                    })
                    .collect();
                draws.prop_map(|parts| parts.concat()).boxed()
            }
            Template::Json(value, holes) => {
                let draws: Vec<BoxedStrategy<Value>> = holes.iter().map(arg_strategy).collect();
                draws.prop_map(move |drawn| fill(&value, &drawn).to_string()).boxed()
            }
        }
    }
}

/// A drawn value as text in a path or message: strings without their quotes.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn fill(template: &Value, drawn: &[Value]) -> Value {
    match template {
        Value::Object(o) => match o.get("$gen").and_then(Value::as_u64) {
            Some(n) if o.len() == 1 => drawn.get(n as usize).cloned().unwrap_or(Value::Null),
            _ => Value::Object(o.iter().map(|(k, v)| (k.clone(), fill(v, drawn))).collect()),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| fill(v, drawn)).collect()),
        other => other.clone(),
    }
}

/// A message clients send on their WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSpec {
    template: Template,
    /// As written.
    pub text: String,
}

impl SendSpec {
    /// A JSON template (starting with `{` or `[`) with bare generators, or plain text with
    /// `{GEN}` holes.
    pub fn parse(text: &str) -> Result<SendSpec, String> {
        let trimmed = text.trim_start();
        let template = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            Template::json(text)?
        } else {
            Template::text(text)?
        };
        Ok(SendSpec { template, text: text.to_owned() })
    }
}

/// A responder for outbound `fetch`: `HOST=FILE` (the module's default export) or
/// `HOST=FILE#EXPORT`; the export is a class like a Durable Object's, or an object with
/// a `fetch(request)` method.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponderSpec {
    pub host: String,
    pub module: PathBuf,
    pub export: String,
}

impl ResponderSpec {
    pub fn parse(text: &str) -> Result<ResponderSpec, String> {
        let bad = || format!("--responder {text:?}: expected HOST=FILE or HOST=FILE#EXPORT");
        let (host, file) = text.split_once('=').ok_or_else(bad)?;
        let (file, export) = file.split_once('#').unwrap_or((file, "default"));
        if host.trim().is_empty() || file.trim().is_empty() || host.contains(['/', ' ']) {
            return Err(bad());
        }
        Ok(ResponderSpec { host: host.trim().to_ascii_lowercase(), module: file.trim().into(), export: export.into() })
    }

    /// As written.
    pub fn text(&self) -> String {
        let export = if self.export == "default" { String::new() } else { format!("#{}", self.export) };
        format!("{}={}{export}", self.host, self.module.display())
    }
}

/// The generic workload's network side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkSpec {
    /// The path clients open their WebSocket on (with `{GEN}` holes), if they do.
    pub websocket: Option<String>,
    /// What they send on it.
    pub sends: Vec<SendSpec>,
    /// Who answers the object's outbound requests.
    pub responders: Vec<ResponderSpec>,
}

impl NetworkSpec {
    /// From the command line's `--websocket`, `--send` and `--responder`.
    pub fn parse(websocket: Option<&str>, sends: &[String], responders: &[String]) -> Result<NetworkSpec, String> {
        let sends: Vec<SendSpec> = sends.iter().map(|s| SendSpec::parse(s)).collect::<Result<_, _>>()?;
        if let Some(path) = websocket {
            if !path.starts_with('/') {
                return Err(format!("--websocket {path:?}: a path, starting with '/'"));
            }
            Template::text(path)?;
            if sends.is_empty() {
                return Err("--websocket needs at least one --send SPEC: what clients send".into());
            }
        } else if !sends.is_empty() {
            return Err("--send needs --websocket PATH: where clients connect".into());
        }
        let responders = responders.iter().map(|r| ResponderSpec::parse(r)).collect::<Result<_, _>>()?;
        Ok(NetworkSpec { websocket: websocket.map(str::to_owned), sends, responders })
    }

    /// Requests of WebSocket clients: `{"websocket": path, "send": message}`.
    pub fn requests(&self) -> Option<BoxedStrategy<Value>> {
        let path = Template::text(self.websocket.as_deref()?).ok()?;
        let sends: Vec<BoxedStrategy<String>> = self.sends.iter().map(|s| s.template.strategy()).collect();
        let message = proptest::strategy::Union::new(sends);
        // One send in ten comes after a pause long enough for the object to hibernate.
        let idle = prop_oneof![9 => Just(0u64), 1 => Just(IDLE_MS)];
        let request = (path.strategy(), message, idle).prop_map(|(p, m, idle)| match idle {
            0 => json!({ "websocket": p, "send": m }),
            ms => json!({ "websocket": p, "send": m, "idle_ms": ms }),
        });
        Some(request.boxed())
    }
}

/// The path and message of a WebSocket client's request, if it is one.
pub fn socket_send(request: &Value) -> Option<(&str, &str)> {
    Some((request.get("websocket")?.as_str()?, request.get("send")?.as_str()?))
}

/// A client's pause before some sends: longer than the 10 s after which an idle object
/// hibernates (its connections stay open).
const IDLE_MS: u64 = 11_000;

/// How long a client listens after its last send before it closes its connections.
const LINGER: Duration = Duration::from_millis(100);

/// Runs `workload` on the object `BINDING:object`: method calls as `drive` makes them, and
/// WebSocket sends on each client's connections (opened, and reopened, as needed).
pub fn drive(world: &World, binding: &'static str, backend: Backend, workload: Workload) -> Driving {
    let world = world.clone();
    Box::pin(async move {
        let ns = world.namespace_with::<JsObject>(binding, backend);
        let id = ns.id_from_name("object");
        let label = format!("{binding}:object");
        let mut tasks = Vec::new();
        for (c, calls) in workload.clients.into_iter().enumerate() {
            let (w, ns, id, client, label) = (world.clone(), ns.clone(), id.clone(), world.client(c), label.clone());
            tasks.push(world.spawn(async move {
                let mut open: BTreeMap<String, Rc<Connection>> = BTreeMap::new();
                for call in calls {
                    w.sleep(Duration::from_millis(call.think_ms)).await;
                    let stub = ns.get(&id);
                    if let Some(ms) = call.request.get("idle_ms").and_then(Value::as_u64) {
                        w.sleep(Duration::from_millis(ms.min(IDLE_MS))).await;
                    }
                    let Some((path, message)) = socket_send(&call.request) else {
                        if let Ok(request) = serde_json::from_value::<JsCall>(call.request) {
                            let _ = client.call(&stub, request).await;
                        }
                        continue;
                    };
                    let conn = match open.get(path).filter(|c| !c.is_closed()) {
                        Some(c) => c.clone(),
                        None => {
                            let request = json!({ "websocket": path, "connect": true });
                            let url = format!("http://{}{path}", label.to_ascii_lowercase().replace(':', "."));
                            let mut opened = None;
                            let _ = client
                                .record(&label, request, async {
                                    let conn = Rc::new(stub.connect_with(websocket_request(&url)).await?);
                                    opened = Some(conn);
                                    Ok(Value::Null)
                                })
                                .await;
                            let Some(conn) = opened else { continue };
                            listen(&w, &client, &label, path, conn.clone());
                            open.insert(path.to_owned(), conn.clone());
                            conn
                        }
                    };
                    let request = json!({ "websocket": path, "send": message });
                    let _ =
                        client.record(&label, request, async { conn.send(message).await.map(|()| Value::Null) }).await;
                }
                w.sleep(LINGER).await;
                for (path, conn) in open {
                    if !conn.is_closed() {
                        let request = json!({ "websocket": path, "close": 1000 });
                        let _ = client
                            .record(&label, request, async { conn.close(1000, "done").await.map(|()| Value::Null) })
                            .await;
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    })
}

/// Records in the history every message `conn` receives, and its close.
fn listen(world: &World, client: &dosim_sim::Client, label: &str, path: &str, conn: Rc<Connection>) {
    let (client, label, path) = (client.clone(), label.to_owned(), path.to_owned());
    // The handle is not needed: the task runs on by itself, and ends with the connection.
    drop(world.spawn(async move {
        while let Some(r) = conn.recv().await {
            let request = match r {
                Received::Message(m) => json!({ "websocket": path, "received": m }),
                Received::Closed { code, reason } => json!({ "websocket": path, "closed": code, "reason": reason }),
            };
            let _ = client.record(&label, request, async { Ok::<_, Error>(Value::Null) }).await;
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn draw(spec: &SendSpec) -> String {
        spec.template.strategy().new_tree(&mut TestRunner::deterministic()).unwrap().current()
    }

    #[test]
    fn send_specs_fill_their_generators() {
        let json = SendSpec::parse(r#"{"op": "join", "room": key, "n": int 1..9, "say": "int key"}"#).unwrap();
        let v: Value = serde_json::from_str(&draw(&json)).unwrap();
        assert_eq!(v["op"], "join");
        assert_eq!(v["say"], "int key", "generators inside strings stay text");
        assert!(["a", "b", "c", "d", "e"].contains(&v["room"].as_str().unwrap()));
        assert!((1..=9).contains(&v["n"].as_i64().unwrap()));
        let text = SendSpec::parse("hello {int 3..3}!").unwrap();
        assert_eq!(draw(&text), "hello 3!");
        assert!(SendSpec::parse("{\"a\": nope}").is_err());
        assert!(SendSpec::parse("x {int 9..1}").is_err());
    }

    #[test]
    fn network_specs_are_checked() {
        let sends = vec!["hi".to_owned()];
        assert!(NetworkSpec::parse(Some("/ws"), &sends, &[]).is_ok());
        assert!(NetworkSpec::parse(Some("ws"), &sends, &[]).is_err());
        assert!(NetworkSpec::parse(Some("/ws"), &[], &[]).is_err());
        assert!(NetworkSpec::parse(None, &sends, &[]).is_err());
        let r = ResponderSpec::parse("API.example.com=hooks.ts#Hooks").unwrap();
        assert_eq!((r.host.as_str(), r.export.as_str()), ("api.example.com", "Hooks"));
        assert_eq!(ResponderSpec::parse("h=x.js").unwrap().text(), "h=x.js");
        assert!(ResponderSpec::parse("nohost").is_err());
    }
}
