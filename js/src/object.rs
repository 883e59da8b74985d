//! [`JsObject`]: a JavaScript class as a dosim Durable Object. Its requests are method
//! calls with JSON arguments ([`JsCall`]); its replies are the methods' results as tagged
//! JSON. Which class a namespace runs is registered per run with [`register`].

use crate::instance::{Instance, JsClass, JsClasses};
use crate::task::{JsTask, Reply, Settled, Start};
use dosim_sim::{async_trait, AlarmInfo, Backend, DurableObject, Env, Namespace, Result, State, World};
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

/// A JavaScript Durable Object: one engine per instance, dropped when the instance is.
pub struct JsObject {
    inst: Rc<Instance>,
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
        let ctor_error = self.inst.constructor_error.borrow().clone();
        if let Some(e) = ctor_error {
            // workerd keeps the constructor's exception as the instance: every event gets
            // it, flagged as a reset, and the next event builds a new instance.
            return Err(self.inst.state.abort(Some(&e.message)));
        }
        match JsTask::new(self.inst.clone(), start, Reply::Json).await? {
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
        JsObject { inst: Instance::start(state, env, class) }
    }

    async fn call(&self, request: JsCall) -> Result<serde_json::Value> {
        let args = serde_json::Value::Array(request.args).to_string();
        self.run(Start::Call { method: request.method, args }).await
    }

    async fn alarm(&self, info: AlarmInfo) -> Result<()> {
        if !self.inst.has_method("alarm") && self.inst.constructor_error.borrow().is_none() {
            return Ok(());
        }
        self.run(Start::Alarm { retry_count: info.retry_count, is_retry: info.is_retry }).await.map(|_| ())
    }
}
