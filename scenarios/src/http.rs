//! `--request` workloads: HTTP requests to the object's `fetch`, written as
//! `METHOD /path/{arg} {"json": arg}`. Each `{arg}` in the path and each bare argument in
//! the JSON body is drawn with the same generators as a method's arguments (`int`,
//! `int A..B`, `bool`, `string`, `key`); the rest of the body is JSON, sent as is.

use crate::user::{arg_strategy, parse_arg, ArgSpec};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};

/// The origin requests are addressed to (the object sees `request.url` under it).
pub const ORIGIN: &str = "https://dosim.test";

/// Methods a request spec may use.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// A piece of the path: text as written, or an argument drawn per request.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Arg(ArgSpec),
}

/// A body value: JSON with drawn arguments at some leaves.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Json(Value),
    Arg(ArgSpec),
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
}

/// One `--request` spec.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    method: String,
    path: Vec<Segment>,
    body: Option<Body>,
    /// The spec as written.
    pub text: String,
}

/// Marks a drawn argument inside the body template while serde_json parses the rest.
const HOLE: &str = "\u{0}dosim-arg:";

impl RequestSpec {
    /// Parses `METHOD /path [JSON body]`.
    pub fn parse(text: &str) -> Result<RequestSpec, String> {
        let bad = |why: &str| format!("request spec {text:?}: {why}");
        let trimmed = text.trim();
        let (method, rest) = trimmed.split_once(char::is_whitespace).ok_or_else(|| bad("expected METHOD /path"))?;
        let method = method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(bad(&format!("{method} is not one of {}", METHODS.join(", "))));
        }
        let rest = rest.trim_start();
        // The path ends at the first space outside its `{arg}`s (`{int 1..9}` has one).
        let mut depth = 0i32;
        let end = rest.char_indices().find(|&(_, c)| {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            depth == 0 && c.is_whitespace()
        });
        let (path, body) = match end.map(|(i, _)| i) {
            Some(i) => (&rest[..i], Some(rest[i..].trim())),
            None => (rest, None),
        };
        if !path.starts_with('/') {
            return Err(bad("the path starts with /"));
        }
        let body = body.filter(|b| !b.is_empty()).map(|b| parse_body(b).map_err(|e| bad(&e))).transpose()?;
        if body.is_some() && matches!(method.as_str(), "GET" | "HEAD") {
            return Err(bad("a GET or HEAD request has no body"));
        }
        Ok(RequestSpec { method, path: parse_path(path).map_err(|e| bad(&e))?, body, text: trimmed.to_owned() })
    }

    /// Draws a request: the `fetch` call it makes, as the JavaScript host takes it.
    pub fn strategy(&self) -> BoxedStrategy<Value> {
        let path: Vec<BoxedStrategy<String>> = self
            .path
            .iter()
            .map(|s| match s {
                Segment::Text(t) => Just(t.clone()).boxed(),
                Segment::Arg(a) => arg_strategy(a).prop_map(|v| path_text(&v)).boxed(),
            })
            .collect();
        let body: BoxedStrategy<Option<String>> = match &self.body {
            None => Just(None).boxed(),
            Some(b) => body_strategy(b).prop_map(|v| Some(v.to_string())).boxed(),
        };
        let method = self.method.clone();
        (path, body)
            .prop_map(move |(path, body)| {
                let request = json!({
                    "$js": "Request", "url": format!("{ORIGIN}{}", path.concat()), "method": method,
                    "headers": if body.is_some() { json!({ "content-type": "application/json" }) } else { json!({}) },
                    "body": body,
                });
                json!({ "method": "fetch", "args": [request] })
            })
            .boxed()
    }
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or("a { in the path is not closed")? + open;
        if open > 0 {
            out.push(Segment::Text(rest[..open].to_owned()));
        }
        let arg = parse_arg(&rest[open + 1..close])?;
        if matches!(arg, ArgSpec::Literal(_)) {
            return Err(format!(
                "{{{}}} in the path: expected int, int A..B, bool, string or key",
                &rest[open + 1..close]
            ));
        }
        out.push(Segment::Arg(arg));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest.to_owned()));
    }
    Ok(out)
}

/// A drawn value as it goes into a path (strings without quotes, percent-encoded).
fn path_text(v: &Value) -> String {
    let raw = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Parses a body template: JSON whose bare words (`int 1..9`, `key`) are drawn arguments.
fn parse_body(text: &str) -> Result<Body, String> {
    // Each run of text outside strings and between JSON's punctuation that is a generator
    // becomes a marked string, so serde_json parses the template.
    let (mut marked, mut args, mut run, mut quoted, mut escaped) =
        (String::new(), Vec::new(), String::new(), false, false);
    let flush = |run: &mut String, marked: &mut String, args: &mut Vec<ArgSpec>| -> Result<(), String> {
        let word = run.trim();
        let is_json_word = word.is_empty()
            || ["true", "false", "null"].contains(&word)
            || word.starts_with(|c: char| c == '-' || c.is_ascii_digit());
        if is_json_word {
            marked.push_str(run);
        } else {
            let arg = parse_arg(word)?;
            // JSON's escape of HOLE's first character, so the string parses back to HOLE.
            marked.push_str(&format!("\"\\u0000{}{}\"", &HOLE[1..], args.len()));
            args.push(arg);
        }
        run.clear();
        Ok(())
    };
    for c in text.chars() {
        if quoted {
            marked.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                flush(&mut run, &mut marked, &mut args)?;
                quoted = true;
                marked.push(c);
            }
            '{' | '}' | '[' | ']' | ',' | ':' => {
                flush(&mut run, &mut marked, &mut args)?;
                marked.push(c);
            }
            other => run.push(other),
        }
    }
    flush(&mut run, &mut marked, &mut args)?;
    let value: Value = serde_json::from_str(&marked).map_err(|e| format!("the body is not JSON: {e}"))?;
    Ok(template(value, &args))
}

fn template(value: Value, args: &[ArgSpec]) -> Body {
    match value {
        Value::String(s) => match s.strip_prefix(HOLE).and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => Body::Arg(args[i].clone()),
            None => Body::Json(Value::String(s)),
        },
        Value::Array(items) => Body::Array(items.into_iter().map(|v| template(v, args)).collect()),
        Value::Object(fields) => Body::Object(fields.into_iter().map(|(k, v)| (k, template(v, args))).collect()),
        other => Body::Json(other),
    }
}

fn body_strategy(body: &Body) -> BoxedStrategy<Value> {
    match body.clone() {
        Body::Json(v) => Just(v).boxed(),
        Body::Arg(a) => arg_strategy(&a),
        Body::Array(items) => items.iter().map(body_strategy).collect::<Vec<_>>().prop_map(Value::Array).boxed(),
        Body::Object(fields) => {
            let keys: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
            let values: Vec<BoxedStrategy<Value>> = fields.iter().map(|(_, v)| body_strategy(v)).collect();
            values.prop_map(move |vs| Value::Object(keys.iter().cloned().zip(vs).collect())).boxed()
        }
    }
}

/// How the `invariant` hook and reports see a `fetch` reply: status, headers, the body
/// as text, and `json` when the body parses as JSON.
pub fn response_view(value: &Value) -> Option<Value> {
    let o = value.as_object().filter(|o| o.get("$js").and_then(Value::as_str) == Some("Response"))?;
    let body = o.get("body").cloned().unwrap_or(Value::Null);
    let parsed = body.as_str().and_then(|b| serde_json::from_str::<Value>(b).ok()).unwrap_or(Value::Null);
    Some(json!({ "status": o.get("status"), "headers": o.get("headers"), "body": body, "json": parsed }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn draw(spec: &str) -> Value {
        let s = RequestSpec::parse(spec).unwrap();
        s.strategy().new_tree(&mut TestRunner::deterministic()).unwrap().current()
    }

    #[test]
    fn path_and_body_arguments_are_drawn() {
        let call = draw(r#"POST /items/{key}/n/{int 3..3} {"n": int 1..1, "tags": [key, "x"], "ok": true}"#);
        let request = &call["args"][0];
        assert_eq!(call["method"], "fetch");
        assert_eq!(request["method"], "POST");
        let url = request["url"].as_str().unwrap();
        assert!(url.starts_with("https://dosim.test/items/") && url.ends_with("/n/3"), "{url}");
        let body: Value = serde_json::from_str(request["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["n"], 1);
        assert_eq!(body["tags"][1], "x");
        assert_eq!(body["ok"], true);
        assert!(["a", "b", "c", "d", "e"].contains(&body["tags"][0].as_str().unwrap()), "{body}");
    }

    #[test]
    fn a_get_has_no_body_and_bad_specs_say_why() {
        assert_eq!(draw("GET /count")["args"][0]["body"], Value::Null);
        for (spec, why) in [
            ("FETCH /x", "not one of"),
            ("GET x", "starts with /"),
            ("GET /x {\"a\": 1}", "no body"),
            ("POST /x {\"a\": wat}", "expected int"),
            ("POST /x/{oops", "not closed"),
            ("POST /x {\"a\": ", "not JSON"),
        ] {
            let e = RequestSpec::parse(spec).unwrap_err();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn a_response_is_seen_with_its_json() {
        let v = json!({ "$js": "Response", "status": 201, "headers": {}, "body": "{\"id\":3}" });
        let seen = response_view(&v).unwrap();
        assert_eq!(seen["status"], 201);
        assert_eq!(seen["json"]["id"], 3);
        assert_eq!(response_view(&json!(3)), None);
    }
}
