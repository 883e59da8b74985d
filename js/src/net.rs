//! The host functions behind outbound `fetch` and hibernatable WebSockets in JavaScript
//! (`platform/fetch.js`, `platform/websocket.js`), and responders: JavaScript modules that
//! answer the simulated network's requests for a host, run inside the simulation.

use crate::instance::{Instance, JsClass};
use crate::object::{register, JsCall};
use crate::task::{promise, Deliver};
use dosim_sim::{Backend, Error, HttpRequest, HttpResponse, World};
use rquickjs::{Array, Ctx, Function, Object, Value};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

type JsResult<'js> = rquickjs::Result<Value<'js>>;

/// Bindings of responders start with this: they are no `env` binding of any object.
pub(crate) const RESPONDER_BINDING: &str = "__net_";

/// Adds the network's and the sockets' functions to `host`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    host: &Object<'js>,
    weak: &Weak<crate::isolate::Isolate>,
) -> rquickjs::Result<()> {
    macro_rules! net_fn {
        ($name:literal, |$inst:ident, $ctx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
            let w = weak.clone();
            let f = Function::new(ctx.clone(), move |$ctx: Ctx<'js> $(, $arg: $ty)*| -> JsResult<'js> {
                let Some($inst) = w.upgrade().and_then(|i| i.current()) else { return Err(crate::host::gone(&$ctx)) };
                $body
            })?;
            host.set($name, f)?;
        }};
    }
    // Throws a runtime error (a `TypeError` for a usage error) into JavaScript.
    fn throw(ctx: &Ctx<'_>, inst: &Instance, e: Error) -> rquickjs::Error {
        match inst.helpers(ctx) {
            Some(h) => h.throw(ctx, &e),
            None => crate::host::gone(ctx),
        }
    }
    fn socket(ctx: &Ctx<'_>, inst: &Instance, id: f64) -> rquickjs::Result<dosim_sim::WebSocket> {
        inst.state.web_socket(id as u64).ok_or_else(|| throw(ctx, inst, Error::usage("WebSocket is closed")))
    }
    let undefined = |ctx: &Ctx<'js>| Value::new_undefined(ctx.clone());

    net_fn!("fetch", |inst, ctx, method: String, url: String, headers: String, body: Option<String>| {
        let headers: BTreeMap<String, String> = serde_json::from_str(&headers).unwrap_or_default();
        let work = inst.state.fetch(HttpRequest { method, url, headers, body });
        promise(&ctx, &inst, work, delivered_response, None)
    });
    net_fn!("wsAccept", |inst, ctx, id: f64, tags: Vec<String>| {
        let ws = socket(&ctx, &inst, id)?;
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        inst.state.accept_web_socket(&ws, &tags).map_err(|e| throw(&ctx, &inst, e))?;
        Ok(undefined(&ctx))
    });
    net_fn!("wsSend", |inst, ctx, id: f64, text: String| {
        let ws = socket(&ctx, &inst, id)?;
        ws.send(text).map_err(|e| throw(&ctx, &inst, e))?;
        Ok(undefined(&ctx))
    });
    net_fn!("wsClose", |inst, ctx, id: f64, code: f64, reason: String| {
        if let Some(ws) = inst.state.web_socket(id as u64) {
            ws.close(code as u16, &reason).map_err(|e| throw(&ctx, &inst, e))?;
        }
        Ok(undefined(&ctx))
    });
    net_fn!("wsList", |inst, ctx, tag: Option<String>| {
        let ids: Vec<f64> = inst.state.get_web_sockets(tag.as_deref()).iter().map(|ws| ws.id() as f64).collect();
        rquickjs::IntoJs::into_js(ids, &ctx)
    });
    net_fn!("wsTags", |inst, ctx, id: f64| rquickjs::IntoJs::into_js(socket(&ctx, &inst, id)?.tags(), &ctx));
    net_fn!("wsSetAttachment", |inst, ctx, id: f64, text: String| {
        let ws = socket(&ctx, &inst, id)?;
        ws.set_attachment_bytes(Some(text.into_bytes())).map_err(|e| throw(&ctx, &inst, e))?;
        Ok(undefined(&ctx))
    });
    net_fn!("wsGetAttachment", |inst, ctx, id: f64| {
        let bytes = socket(&ctx, &inst, id)?.attachment_bytes().map_err(|e| throw(&ctx, &inst, e))?;
        let text = bytes.map(|b| String::from_utf8_lossy(&b).into_owned());
        rquickjs::IntoJs::into_js(text, &ctx)
    });
    net_fn!("wsSetAutoResponse", |inst, ctx, request: Option<String>, response: Option<String>| {
        inst.state.set_web_socket_auto_response(request.zip(response));
        Ok(undefined(&ctx))
    });
    net_fn!("wsGetAutoResponse", |inst, ctx| {
        let pair = inst.state.web_socket_auto_response().map(|(a, b)| vec![a, b]);
        rquickjs::IntoJs::into_js(pair, &ctx)
    });
    net_fn!("wsAutoResponseTimestamp", |inst, ctx, id: f64| {
        let at = inst.state.web_socket(id as u64).and_then(|ws| ws.auto_response_timestamp());
        rquickjs::IntoJs::into_js(at.map(|ms| ms as f64), &ctx)
    });
    Ok(())
}

/// A response handed to `fetch.js` as `[status, headers as JSON, body]`.
fn delivered_response(r: HttpResponse) -> Deliver {
    Box::new(move |ctx, _, _| {
        let out = Array::new(ctx.clone())?;
        out.set(0, r.status)?;
        out.set(1, serde_json::to_string(&r.headers).unwrap_or_else(|_| "{}".into()))?;
        out.set(2, r.body)?;
        Ok(out.into_value())
    })
}

/// A request as the tagged JSON of a JavaScript `Request` (what a handler's `fetch` gets).
pub fn tagged_request(request: &HttpRequest) -> serde_json::Value {
    serde_json::json!({
        "$js": "Request",
        "url": request.url,
        "method": request.method,
        "headers": request.headers,
        "body": request.body,
    })
}

/// The upgrade request a WebSocket client opens `url` with, as
/// `Stub::connect_with` takes it for a JavaScript object (its `fetch` gets it).
pub fn websocket_request(url: &str) -> String {
    let headers = BTreeMap::from([("upgrade".to_owned(), "websocket".to_owned())]);
    tagged_request(&HttpRequest { method: "GET".into(), url: url.into(), headers, body: None }).to_string()
}

/// The response a JavaScript `fetch` handler returned (tagged JSON), or why it is none.
pub fn response_of(reply: &serde_json::Value) -> Result<HttpResponse, Error> {
    if reply.get("$js").and_then(serde_json::Value::as_str) != Some("Response") {
        return Err(Error::app(format!("the responder's fetch returned {reply}, not a Response")));
    }
    let status = reply.get("status").and_then(serde_json::Value::as_u64).unwrap_or(200);
    let headers = reply.get("headers").cloned().and_then(|h| serde_json::from_value(h).ok()).unwrap_or_default();
    let body = reply.get("body").and_then(serde_json::Value::as_str).map(str::to_owned);
    Ok(HttpResponse { status: status.min(999) as u16, headers, body })
}

/// Makes `class` answer every request the run's objects send to `host` (`api.example.com`,
/// or `host:port`): its `fetch(request)` runs as a Durable Object of its own (one per host,
/// its storage kept for the run), so a responder may count what it received. `class` may
/// name a class or a plain object with a `fetch` method (`export default { fetch }`).
pub fn serve(world: &World, host: &str, class: JsClass) {
    let binding = format!("{RESPONDER_BINDING}{}", host.replace(':', "_"));
    let ns = register(world, &binding, Backend::Sqlite, class);
    let stub = ns.get(&ns.id_from_name(host));
    world.set_responder(
        host,
        Rc::new(move |request| {
            let stub = stub.clone();
            Box::pin(async move {
                let reply = stub.call(JsCall::new("fetch", vec![tagged_request(&request)])).await?;
                response_of(&reply)
            })
        }),
    );
}
