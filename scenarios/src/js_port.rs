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
    /// The clients' driver, for a Rust port whose driver is not the plain one (it makes
    /// the workload's steps into requests per client and call, or retries): the same
    /// driver sending `to_js` of each request, run once the classes are registered.
    /// `None`: each request of the workload goes through `to_js`, sent once, to `id_name`.
    pub drive: Option<fn(&World, Workload) -> Driving>,
}

impl JsPort {
    /// The compiled module (once per process).
    pub fn program(&self) -> Arc<JsProgram> {
        JsProgram::embedded(self.program, self.module.0, self.module.1)
    }

    /// The history as the Rust port's checker expects it.
    pub fn translate(&self, report: &RunReport) -> RunReport {
        let mut out = report.clone();
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
        let program = self.program();
        for class in self.classes {
            register(&world, class.binding, class.backend, JsClass::new(program.clone(), class.class));
        }
        if let Some(drive) = self.drive {
            return drive(&world, workload);
        }
        for call in workload.clients.iter_mut().flatten() {
            call.request = serde_json::to_value((self.to_js)(&call.request)).unwrap_or(Value::Null);
        }
        let first = &self.classes[0];
        drive::<JsObject>(&world, first.binding, first.backend, self.id_name, workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        self.rust.check(&self.translate(report))
    }
}

/// A reply in the words of the Rust ports (models/src/js.rs `JsNumber`): `undefined` as
/// `null`, `NaN` as `"NaN"`; any other value as it is.
pub fn untagged(v: &Value) -> Value {
    match v.get("$js").and_then(Value::as_str) {
        Some("undefined") => Value::Null,
        Some("NaN") => Value::from("NaN"),
        _ => v.clone(),
    }
}

/// A Rust port's request as JSON (what `to_js` reads).
pub fn as_json<T: serde::Serialize>(request: T) -> Value {
    serde_json::to_value(request).unwrap_or(Value::Null)
}
