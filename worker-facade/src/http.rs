//! `Request`, `Response`, `Headers`, `Method` and `Date` as a Durable Object's `fetch`
//! handler and its callers use them. Bodies are whole byte strings (no streams); a
//! request or response crosses dosim's simulated network as [`crate::dosim::HttpRequest`]
//! / [`crate::dosim::HttpResponse`], which the run's history records.

use crate::dosim::{HttpRequest, HttpResponse};
use crate::{Error, Result, WebSocket};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use url::Url;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// HEAD
    Head,
    /// GET
    #[default]
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// CONNECT
    Connect,
    /// TRACE
    Trace,
    /// REPORT
    Report,
}

impl Method {
    /// Every method.
    pub fn all() -> Vec<Method> {
        use Method::*;
        vec![Head, Get, Post, Put, Patch, Delete, Options, Connect, Trace, Report]
    }
}

impl AsRef<str> for Method {
    fn as_ref(&self) -> &'static str {
        match self {
            Method::Head => "HEAD",
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Report => "REPORT",
        }
    }
}

impl From<String> for Method {
    fn from(m: String) -> Self {
        Method::from(m.as_str())
    }
}

impl From<&str> for Method {
    fn from(m: &str) -> Self {
        Method::all().into_iter().find(|x| x.as_ref().eq_ignore_ascii_case(m)).unwrap_or_default()
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_ref())
    }
}

/// HTTP headers: names are case-insensitive; methods take `&self`, as the JavaScript
/// object's do.
#[derive(Debug, Clone, Default)]
pub struct Headers(RefCell<Vec<(String, String)>>);

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        *self.0.borrow() == *other.0.borrow()
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// The value of `name` (several joined with `, `), if present.
    pub fn get(&self, name: &str) -> Result<Option<String>> {
        let all = self.get_all(name)?;
        Ok((!all.is_empty()).then(|| all.join(", ")))
    }

    /// Every value of `name`.
    pub fn get_all(&self, name: &str) -> Result<Vec<String>> {
        let n = name.to_ascii_lowercase();
        Ok(self.0.borrow().iter().filter(|(k, _)| *k == n).map(|(_, v)| v.clone()).collect())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> Result<bool> {
        Ok(!self.get_all(name)?.is_empty())
    }

    /// Adds a value of `name`.
    pub fn append(&self, name: &str, value: &str) -> Result<()> {
        self.0.borrow_mut().push((name.to_ascii_lowercase(), value.to_owned()));
        Ok(())
    }

    /// Sets `name` to `value`, replacing what was there.
    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        self.delete(name)?;
        self.append(name, value)
    }

    /// Removes `name`.
    pub fn delete(&self, name: &str) -> Result<()> {
        let n = name.to_ascii_lowercase();
        self.0.borrow_mut().retain(|(k, _)| *k != n);
        Ok(())
    }

    /// `(name, value)` pairs, names sorted as the JavaScript iterator sorts them.
    pub fn entries(&self) -> impl Iterator<Item = (String, String)> {
        let mut all = self.0.borrow().clone();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter()
    }

    /// The names.
    pub fn keys(&self) -> impl Iterator<Item = String> {
        self.entries().map(|(k, _)| k)
    }

    /// The values.
    pub fn values(&self) -> impl Iterator<Item = String> {
        self.entries().map(|(_, v)| v)
    }

    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        self.0.borrow().clone()
    }

    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Headers {
        let h = Headers::new();
        for (k, v) in pairs {
            let _ = h.append(&k, &v);
        }
        h
    }
}

impl<T: AsRef<str>> FromIterator<(T, T)> for Headers {
    fn from_iter<I: IntoIterator<Item = (T, T)>>(iter: I) -> Self {
        let h = Headers::new();
        for (k, v) in iter {
            let _ = h.append(k.as_ref(), v.as_ref());
        }
        h
    }
}

/// Options of [`Request::new_with_init`].
#[derive(Debug, Clone, Default)]
pub struct RequestInit {
    /// The body.
    pub body: Option<crate::js_sys::JsValue>,
    /// The headers.
    pub headers: Headers,
    /// The method.
    pub method: Method,
}

impl RequestInit {
    /// Defaults (GET, no headers, no body).
    pub fn new() -> Self {
        RequestInit::default()
    }

    /// Sets the body (a string value, or JSON).
    pub fn with_body(&mut self, body: Option<crate::js_sys::JsValue>) -> &mut Self {
        self.body = body;
        self
    }

    /// Sets the headers.
    pub fn with_headers(&mut self, headers: Headers) -> &mut Self {
        self.headers = headers;
        self
    }

    /// Sets the method.
    pub fn with_method(&mut self, method: Method) -> &mut Self {
        self.method = method;
        self
    }
}

/// A request, as a `fetch` handler receives it.
#[derive(Debug)]
pub struct Request {
    method: Method,
    url: Url,
    path: String,
    headers: Headers,
    body: Option<Vec<u8>>,
    body_used: bool,
}

impl Request {
    /// A request for `uri` (a full URL) with `method` and no body.
    pub fn new(uri: &str, method: Method) -> Result<Self> {
        let url = Url::parse(uri)?;
        Ok(Request { method, path: url.path().to_owned(), url, headers: Headers::new(), body: None, body_used: false })
    }

    /// A request for `uri` with `init`'s method, headers and body.
    pub fn new_with_init(uri: &str, init: &RequestInit) -> Result<Self> {
        let mut r = Request::new(uri, init.method)?;
        r.headers = init.headers.clone();
        r.body = init.body.as_ref().and_then(|b| match b.as_json() {
            Some(serde_json::Value::String(s)) => Some(s.clone().into_bytes()),
            Some(other) => Some(other.to_string().into_bytes()),
            None => None,
        });
        Ok(r)
    }

    /// The body parsed as JSON.
    pub async fn json<B: DeserializeOwned>(&mut self) -> Result<B> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(Error::from)
    }

    /// The body as text.
    pub async fn text(&mut self) -> Result<String> {
        let bytes = self.bytes().await?;
        Ok(std::str::from_utf8(&bytes)?.to_owned())
    }

    /// The body's bytes.
    pub async fn bytes(&mut self) -> Result<Vec<u8>> {
        if self.body_used {
            return Err(Error::BodyUsed);
        }
        self.body_used = true;
        Ok(self.body.take().unwrap_or_default())
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> Result<&mut Headers> {
        Ok(&mut self.headers)
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL's path.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// The URL's path, to change it.
    pub fn path_mut(&mut self) -> Result<&mut String> {
        Ok(&mut self.path)
    }

    /// The URL.
    pub fn url(&self) -> Result<Url> {
        let mut u = self.url.clone();
        u.set_path(&self.path);
        Ok(u)
    }

    /// The query string parsed into `Q` (flat string values).
    pub fn query<Q: DeserializeOwned>(&self) -> Result<Q> {
        let map: serde_json::Map<String, serde_json::Value> =
            self.url.query_pairs().map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned()))).collect();
        Ok(serde_json::from_value(serde_json::Value::Object(map))?)
    }

    /// A copy (the body too, unless it was read).
    #[allow(clippy::should_implement_trait)]
    pub fn clone(&self) -> Result<Self> {
        if self.body_used {
            return Err(Error::BodyUsed);
        }
        Ok(Request {
            method: self.method,
            url: self.url.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            body_used: false,
        })
    }

    pub(crate) fn into_wire(mut self) -> HttpRequest {
        let url = self.url().map(|u| u.to_string()).unwrap_or_else(|_| self.url.to_string());
        let body = self.body.take().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        HttpRequest { method: self.method.to_string(), url, headers: self.headers.pairs(), body }
    }

    pub(crate) fn from_wire(w: HttpRequest) -> Result<Request> {
        let mut r = Request::new(&w.url, Method::from(w.method.as_str()))?;
        r.headers = Headers::from_pairs(w.headers);
        r.body = (!w.body.is_empty()).then(|| w.body.into_bytes());
        Ok(r)
    }
}

/// A response body.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    /// No body.
    Empty,
    /// Bytes.
    Body(Vec<u8>),
}

/// A response, as a `fetch` handler returns it and a stub's caller receives it.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Headers,
    body: ResponseBody,
    websocket: Option<WebSocket>,
}

impl Response {
    /// A builder.
    pub fn builder() -> ResponseBuilder {
        ResponseBuilder::new()
    }

    /// 200 with `value` as JSON.
    pub fn from_json<B: Serialize>(value: &B) -> Result<Self> {
        ResponseBuilder::new().from_json(value)
    }

    /// 200 with an HTML body.
    pub fn from_html(html: impl AsRef<str>) -> Result<Self> {
        ResponseBuilder::new().from_html(html)
    }

    /// 200 with these bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        ResponseBuilder::new().from_bytes(bytes)
    }

    /// 200 with this body.
    pub fn from_body(body: ResponseBody) -> Result<Self> {
        Ok(ResponseBuilder::new().body(body))
    }

    /// 101 with the client end of a WebSocket pair.
    pub fn from_websocket(websocket: WebSocket) -> Result<Self> {
        Ok(ResponseBuilder::new().with_status(101).with_websocket(websocket).empty())
    }

    /// 200 with a text body.
    pub fn ok(body: impl Into<String>) -> Result<Self> {
        ResponseBuilder::new().ok(body)
    }

    /// 200, no body.
    pub fn empty() -> Result<Self> {
        Ok(ResponseBuilder::new().empty())
    }

    /// `status` (400–599) with `msg` as the body.
    pub fn error(msg: impl Into<String>, status: u16) -> Result<Self> {
        ResponseBuilder::new().error(msg, status)
    }

    /// 302 to `url`.
    pub fn redirect(url: Url) -> Result<Self> {
        Response::redirect_with_status(url, 302)
    }

    /// A redirect (301, 302, 303, 307 or 308) to `url`.
    pub fn redirect_with_status(url: Url, status_code: u16) -> Result<Self> {
        if !matches!(status_code, 301 | 302 | 303 | 307 | 308) {
            return Err(Error::from(format!("{status_code} is not a valid redirect status code")));
        }
        let headers = Headers::new();
        headers.set("location", url.as_str())?;
        Ok(ResponseBuilder::new().with_status(status_code).with_headers(headers).empty())
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &ResponseBody {
        &self.body
    }

    /// The body as text.
    pub async fn text(&mut self) -> Result<String> {
        let bytes = self.bytes().await?;
        String::from_utf8(bytes).map_err(|e| Error::from(e.to_string()))
    }

    /// The body parsed as JSON.
    pub async fn json<B: DeserializeOwned>(&mut self) -> Result<B> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// The body's bytes.
    pub async fn bytes(&mut self) -> Result<Vec<u8>> {
        match std::mem::replace(&mut self.body, ResponseBody::Empty) {
            ResponseBody::Empty => Ok(Vec::new()),
            ResponseBody::Body(b) => Ok(b),
        }
    }

    /// The WebSocket of a 101 response.
    pub fn websocket(self) -> Option<WebSocket> {
        self.websocket
    }

    /// Replaces the headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the status code.
    pub fn with_status(mut self, status_code: u16) -> Self {
        self.status = status_code;
        self
    }

    /// Sets the WebSocket.
    pub fn with_websocket(mut self, websocket: Option<WebSocket>) -> Self {
        self.websocket = websocket;
        self
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// A copy.
    pub fn cloned(&mut self) -> Result<Self> {
        Ok(Response {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
            websocket: self.websocket.clone(),
        })
    }

    pub(crate) fn into_wire(self) -> HttpResponse {
        let body = match self.body {
            ResponseBody::Empty => String::new(),
            ResponseBody::Body(b) => String::from_utf8_lossy(&b).into_owned(),
        };
        HttpResponse { status: self.status, headers: self.headers.pairs(), body }
    }

    pub(crate) fn from_wire(w: HttpResponse) -> Response {
        let body = if w.body.is_empty() { ResponseBody::Empty } else { ResponseBody::Body(w.body.into_bytes()) };
        Response { status: w.status, headers: Headers::from_pairs(w.headers), body, websocket: None }
    }
}

/// Builds a [`Response`].
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    status: u16,
    headers: Headers,
    websocket: Option<WebSocket>,
}

impl Default for ResponseBuilder {
    fn default() -> Self {
        ResponseBuilder::new()
    }
}

impl ResponseBuilder {
    /// Status 200, no headers.
    pub fn new() -> Self {
        ResponseBuilder { status: 200, headers: Headers::new(), websocket: None }
    }

    /// Sets the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Replaces the headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }

    /// Sets one header.
    pub fn with_header(self, key: &str, value: &str) -> Result<Self> {
        self.headers.set(key, value)?;
        Ok(self)
    }

    /// Sets the WebSocket (a 101 response).
    pub fn with_websocket(mut self, websocket: WebSocket) -> Self {
        self.websocket = Some(websocket);
        self
    }

    /// With these bytes as the body.
    pub fn fixed(self, body: Vec<u8>) -> Response {
        self.body(ResponseBody::Body(body))
    }

    /// With this body.
    pub fn body(self, body: ResponseBody) -> Response {
        Response { status: self.status, headers: self.headers, body, websocket: self.websocket }
    }

    /// With no body.
    pub fn empty(self) -> Response {
        self.body(ResponseBody::Empty)
    }

    /// With `value` as JSON.
    pub fn from_json<B: Serialize>(self, value: &B) -> Result<Response> {
        let body = serde_json::to_vec(value)?;
        if !self.headers.has("content-type")? {
            self.headers.set("content-type", "application/json")?;
        }
        Ok(self.fixed(body))
    }

    /// With an HTML body.
    pub fn from_html(self, html: impl AsRef<str>) -> Result<Response> {
        if !self.headers.has("content-type")? {
            self.headers.set("content-type", "text/html; charset=utf-8")?;
        }
        Ok(self.fixed(html.as_ref().as_bytes().to_vec()))
    }

    /// With these bytes.
    pub fn from_bytes(self, bytes: Vec<u8>) -> Result<Response> {
        if !self.headers.has("content-type")? {
            self.headers.set("content-type", "application/octet-stream")?;
        }
        Ok(self.fixed(bytes))
    }

    /// With a text body.
    pub fn ok(self, body: impl Into<String>) -> Result<Response> {
        if !self.headers.has("content-type")? {
            self.headers.set("content-type", "text/plain; charset=utf-8")?;
        }
        Ok(self.fixed(body.into().into_bytes()))
    }

    /// `status` (400–599) with `msg` as the body.
    pub fn error(self, msg: impl Into<String>, status: u16) -> Result<Response> {
        if !(400..=599).contains(&status) {
            return Err(Error::Json(("error status codes must be in the 400-599 range".into(), 500)));
        }
        Ok(self.with_status(status).fixed(msg.into().into_bytes()))
    }
}

/// How a [`Date`] is made.
#[derive(Debug, Clone, Copy)]
pub enum DateInit {
    /// Milliseconds since the epoch.
    Millis(u64),
}

/// `Date`: on the simulated clock of the current run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(u64);

impl Date {
    /// A date from `init`.
    pub fn new(init: DateInit) -> Date {
        match init {
            DateInit::Millis(ms) => Date(ms),
        }
    }

    /// `Date.now()`: the simulated time of the event being handled.
    pub fn now() -> Date {
        Date(crate::dosim::now_ms())
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(&self) -> u64 {
        self.0
    }
}
