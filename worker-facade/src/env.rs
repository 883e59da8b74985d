//! `env`: the bindings an object sees. Durable Object namespaces are the classes bound in
//! the run (`worker::dosim::bind`); plain variables and secrets are set with
//! `worker::dosim::set_var`. Other binding kinds (KV, R2, D1, queues, services) are not
//! simulated: asking for one is an error naming it.

use crate::dosim::bindings;
use crate::{Error, ObjectNamespace, Result};
use serde::de::DeserializeOwned;

/// `env`.
#[derive(Clone)]
pub struct Env {
    world: dosim_sim::World,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish()
    }
}

impl Env {
    pub(crate) fn new(world: dosim_sim::World) -> Env {
        Env { world }
    }

    /// The Durable Object namespace bound as `binding`.
    pub fn durable_object(&self, binding: &str) -> Result<ObjectNamespace> {
        ObjectNamespace::lookup(&self.world, binding)
    }

    /// The plain variable `binding`.
    pub fn var(&self, binding: &str) -> Result<Var> {
        self.string(binding)
    }

    /// The secret `binding`.
    pub fn secret(&self, binding: &str) -> Result<Secret> {
        self.string(binding)
    }

    /// The variable `binding` parsed as JSON into `T`.
    pub fn object_var<T: DeserializeOwned>(&self, binding: &str) -> Result<T> {
        let text = self.string(binding)?.0;
        Ok(serde_json::from_str(&text)?)
    }

    fn string(&self, binding: &str) -> Result<StringBinding> {
        let found = bindings(&self.world).vars.borrow().get(binding).cloned();
        found.map(StringBinding).ok_or_else(|| Error::BindingError(binding.to_owned()))
    }
}

/// A string binding (variable or secret): `to_string()` gives its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringBinding(String);

impl std::fmt::Display for StringBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret.
pub type Secret = StringBinding;
/// A plain variable.
pub type Var = StringBinding;
