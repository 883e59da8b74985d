//! JavaScript ports: a pattern's TypeScript from the reference document, run by the JS
//! host under the workload, shape and checker of its Rust faithful port, so the two
//! verdicts can be compared. Requests are translated to method calls on the way in, and
//! the history back to the Rust port's vocabulary before the Rust checker reads it.

use crate::workload::{drive, Driving, Shape, Workload};
use crate::{Expect, Scenario};
use dosim_js::{register, JsCall, JsClass, JsObject, JsProgram};
use dosim_sim::{Backend, Completion, RunReport, Violation, World};
use proptest::strategy::BoxedStrategy;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// A class of a JavaScript port, and the binding it is registered under.
pub struct JsBinding {
    pub binding: &'static str,
    pub class: &'static str,
    pub backend: Backend,
}

/// A pattern's TypeScript judged like its Rust faithful port.
pub struct JsPort {
    pub name: &'static str,
    pub about: &'static str,
    pub expect: Expect,
    /// The Rust faithful port's scenario: requests, shape and checker come from it.
    pub rust: &'static dyn Scenario,
    /// The module (a file of `models/js/`), its name and text.
    pub module: (&'static str, &'static str),
    pub program: &'static OnceLock<Arc<JsProgram>>,
    /// Every class the run needs; the first is the one clients call.
    pub classes: &'static [JsBinding],
    /// The object clients call (`idFromName`).
    pub id_name: &'static str,
    /// A request of the Rust port as a method call.
    pub to_js: fn(&Value) -> JsCall,
    /// A call's request and reply (`None`: it failed) in the Rust port's words:
    /// `(request, reply)`.
    pub to_rust: fn(&JsCall, Option<&Value>) -> (Value, Option<Value>),
    /// For a port whose Rust sibling drives its workload itself (completing each request
    /// as it is sent, retrying, probing once the faults stop, pausing): that same driving,
    /// run against `JsObject` with each request translated by [`JsPort::as_call`] as it
    /// is sent. `None`: the plain driver, every client calling the first class.
    pub drive: Option<fn(&JsPort, &World, Workload) -> Driving>,
}

impl JsPort {
    /// The compiled module (once per process).
    pub fn program(&self) -> Arc<JsProgram> {
        JsProgram::embedded(self.program, self.module.0, self.module.1)
    }

    /// Registers every class of the port in `world` (before its clients run).
    pub fn register(&self, world: &World) {
        let program = self.program();
        for class in self.classes {
            register(world, class.binding, class.backend, JsClass::new(program.clone(), class.class));
        }
    }

    /// A request of the Rust port as the JSON of the method call it becomes (`to_js`).
    pub fn as_call(&self) -> impl Fn(&Value) -> Value + Copy + 'static {
        let to_js = self.to_js;
        move |request| serde_json::to_value(to_js(request)).unwrap_or(Value::Null)
    }

    /// The history as the Rust port's checker expects it, and the durable values too (a
    /// stored `NaN` or `undefined` as the Rust port stores it, see [`plain`]).
    pub fn translate(&self, report: &RunReport) -> RunReport {
        let mut out = report.clone();
        for value in out.durable.values_mut().flat_map(|object| object.values_mut()) {
            *value = plain(value);
        }
        for op in &mut out.history {
            let Ok(call) = serde_json::from_value::<JsCall>(op.request.clone()) else { continue };
            let reply = match &op.completion {
                Completion::Ok { value } => Some(value),
                _ => None,
            };
            let (request, reply) = (self.to_rust)(&call, reply);
            op.request = request;
            if let (Completion::Ok { value }, Some(r)) = (&mut op.completion, reply) {
                *value = r;
            }
        }
        out
    }
}

impl Scenario for JsPort {
    crate::meta_from_fields!();

    fn shape(&self) -> Shape {
        self.rust.shape()
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        self.rust.requests()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        self.rust.accepts(request)
    }

    fn drive(&self, world: World, mut workload: Workload) -> Driving {
        self.register(&world);
        if let Some(drive) = self.drive {
            return drive(self, &world, workload);
        }
        let as_call = self.as_call();
        for call in workload.clients.iter_mut().flatten() {
            call.request = as_call(&call.request);
        }
        let first = &self.classes[0];
        drive::<JsObject>(&world, first.binding, first.backend, self.id_name, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        self.rust.check(&self.translate(report))
    }
}

/// A reply as a Rust port says it: `undefined` is `null` and `NaN` is `"NaN"` (as
/// `dosim_models::js::JsNumber` says them), at any depth; other values unchanged.
pub fn plain(value: &Value) -> Value {
    match value {
        Value::Object(m) => match m.get("$js").and_then(Value::as_str) {
            Some("undefined") if m.len() == 1 => Value::Null,
            Some("NaN") if m.len() == 1 => Value::from("NaN"),
            _ => Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        },
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        other => other.clone(),
    }
}

/// A Rust port's request as JSON (what `to_js` reads).
pub fn as_json<T: serde::Serialize>(request: T) -> Value {
    serde_json::to_value(request).unwrap_or(Value::Null)
}
