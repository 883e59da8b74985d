//! Simulated clients: the callers outside every object. Each call is recorded in the
//! history (invoke, then ok / fail / info) and in the trace.

use crate::error::Result;
use crate::namespace::Stub;
use crate::object::DurableObject;
use crate::trace::Completion;
use crate::world::World;

/// A caller with its own number in the history.
#[derive(Clone)]
pub struct Client {
    world: World,
    index: usize,
}

impl Client {
    /// Client number `index` of `world`.
    pub fn new(world: &World, index: usize) -> Client {
        Client { world: world.clone(), index }
    }

    /// Its number in the history.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Calls `stub` and records the call.
    pub async fn call<O: DurableObject>(&self, stub: &Stub<O>, request: O::Request) -> Result<O::Response> {
        let world = &self.world;
        let me = format!("client-{}", self.index);
        let object = stub.label();
        let request_json = serde_json::to_value(&request).unwrap_or(serde_json::Value::Null);
        let op = world.invoke(self.index, &object, request_json.clone());
        world.stats().requests += 1;
        world.trace(&me, format!("invoke #{op} {object} {request_json}"));
        let result = stub.call_as(request, format!("request #{op}")).await;
        let seen =
            result.as_ref().map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null)).map_err(Clone::clone);
        let completion = Completion::from_result(&seen);
        let line = match (&completion, &seen) {
            (_, Ok(v)) => format!("ok #{op} {v}"),
            (c, Err(e)) => format!("{} #{op} {:?}: {}", c.label(), e.kind, e.message),
        };
        world.trace(&me, line);
        world.complete(op, completion);
        result
    }
}

impl Client {
    /// Records `work`, an exchange with `object` that is not a call (a WebSocket message
    /// sent or received), in the history and the trace as a call is recorded.
    pub async fn record(
        &self,
        object: &str,
        request: serde_json::Value,
        work: impl std::future::Future<Output = Result<serde_json::Value>>,
    ) -> Result<serde_json::Value> {
        let world = &self.world;
        let me = format!("client-{}", self.index);
        let op = world.invoke(self.index, object, request.clone());
        world.trace(&me, format!("invoke #{op} {object} {request}"));
        let result = work.await;
        let completion = Completion::from_result(&result);
        let line = match (&completion, &result) {
            (_, Ok(v)) => format!("ok #{op} {v}"),
            (c, Err(e)) => format!("{} #{op} {:?}: {}", c.label(), e.kind, e.message),
        };
        world.trace(&me, line);
        world.complete(op, completion);
        result
    }
}

impl World {
    /// Client number `index`.
    pub fn client(&self, index: usize) -> Client {
        Client::new(self, index)
    }

    /// The namespace bound as `binding` (created on first use, SQLite-backed).
    pub fn namespace<O: DurableObject>(&self, binding: &str) -> crate::namespace::Namespace<O> {
        crate::namespace::Namespace::register(self, binding, crate::storage::Backend::Sqlite)
    }

    /// The namespace bound as `binding`, created on first use with `backend`.
    pub fn namespace_with<O: DurableObject>(
        &self,
        binding: &str,
        backend: crate::storage::Backend,
    ) -> crate::namespace::Namespace<O> {
        crate::namespace::Namespace::register(self, binding, backend)
    }
}
