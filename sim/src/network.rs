//! The simulated network behind outbound `fetch`: a request never leaves the process; it
//! goes to the responder registered for its host (a 404 when there is none), with latency,
//! connection errors, timeouts and 5xx answers drawn from the seed on a decision stream of
//! the network's own. Every exchange is kept for the trace and the run's report.

use crate::error::{Error, ErrorKind, Result};
use crate::faults::Decisions;
use crate::world::World;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// An HTTP request as it crosses the simulated network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers, lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as text, if any.
    #[serde(default)]
    pub body: Option<String>,
}

impl HttpRequest {
    /// The URL's host (with its port, if any), lower-case.
    pub fn host(&self) -> Option<String> {
        let rest = self.url.split_once("://")?.1;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    }
}

/// An HTTP response as it crosses the simulated network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as text, if any.
    #[serde(default)]
    pub body: Option<String>,
}

impl HttpResponse {
    /// A response with `status` and a text body.
    pub fn new(status: u16, body: impl Into<String>) -> HttpResponse {
        HttpResponse { status, headers: BTreeMap::new(), body: Some(body.into()) }
    }
}

/// What answers the requests to one host: runs inside the simulation (its own awaits are
/// simulated time), so it is as deterministic as the objects that call it.
pub type Responder = Rc<dyn Fn(HttpRequest) -> Pin<Box<dyn Future<Output = Result<HttpResponse>>>>>;

/// The network's faults, per mille of exchanges. Drawn per seed from the network's own
/// decision stream, so seeds that make no request keep every other draw they had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkFaults {
    /// The connection fails: `fetch` rejects with a `TypeError`, the responder never runs.
    pub connection_error: u32,
    /// The responder runs but no answer comes back in time: `fetch` rejects after
    /// [`TIMEOUT`] (the caller cannot tell whether the request had its effect).
    pub timeout: u32,
    /// The request never reaches the responder and a 503 comes back instead, as from a
    /// proxy in front of an origin that is down.
    pub server_error: u32,
    /// One-way latency is 10 times longer.
    pub slow: bool,
}

impl NetworkFaults {
    /// No network faults.
    pub const NONE: NetworkFaults = NetworkFaults { connection_error: 0, timeout: 0, server_error: 0, slow: false };

    /// Draws the network's faults for `seed`, swarm style (each on for about half the seeds).
    pub fn swarm(seed: u64) -> NetworkFaults {
        let mut d = Decisions::new(seed, NETWORK_PLAN_STREAM);
        let rate = |d: &mut Decisions| if d.chance(500) { [20, 50, 150][d.index(3)] } else { 0 };
        let connection_error = rate(&mut d);
        let timeout = rate(&mut d);
        let server_error = rate(&mut d);
        NetworkFaults { connection_error, timeout, server_error, slow: d.chance(250) }
    }
}

impl std::fmt::Display for NetworkFaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == NetworkFaults::NONE {
            return f.write_str("none");
        }
        let rates =
            [("connection-error", self.connection_error), ("timeout", self.timeout), ("5xx", self.server_error)];
        let on: Vec<String> = rates.iter().filter(|(_, r)| *r > 0).map(|(n, r)| format!("{n}={r}\u{2030}")).collect();
        write!(f, "{}{}", on.join(" "), if self.slow { " slow-network=x10" } else { "" })
    }
}

/// The stream the network's plan is drawn from ("netplan").
const NETWORK_PLAN_STREAM: u64 = 0x6e65_7470_6c61_6e00;
/// The stream of the network's per-exchange decisions ("network").
const NETWORK_STREAM: u64 = 0x6e65_7477_6f72_6b00;

/// How long `fetch` waits for an answer that never comes before it gives up.
pub const TIMEOUT: Duration = Duration::from_secs(100);
/// One-way latency of a request or response (ms).
const LATENCY_MS: (u64, u64) = (5, 40);

/// workerd's text when a subrequest's connection fails.
pub const CONNECTION_LOST: &str = "Network connection lost.";
/// The text `fetch` rejects with on a timeout.
pub const TIMED_OUT: &str = "The operation was aborted due to timeout";

/// One request and what came of it, as the run's report keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// Its number, in the order requests were sent.
    pub index: usize,
    /// Who sent it (an object's label).
    pub from: String,
    /// The request.
    pub request: HttpRequest,
    /// When it left (ms of simulated time).
    pub sent_at: u64,
    /// When the sender learnt the outcome (`None`: never, the run ended first).
    pub finished_at: Option<u64>,
    /// The response, if one came back.
    pub response: Option<HttpResponse>,
    /// The error `fetch` rejected with, if it did.
    pub error: Option<String>,
    /// Whether the responder ran (false for a refused connection or an injected 503).
    pub delivered: bool,
}

/// The run's network: responders by host, faults, and the exchanges so far.
pub(crate) struct Network {
    responders: RefCell<BTreeMap<String, Responder>>,
    decisions: RefCell<Decisions>,
    exchanges: RefCell<Vec<Exchange>>,
    faults: RefCell<Option<NetworkFaults>>,
}

impl Network {
    fn of(world: &World) -> Rc<Network> {
        world.extension::<Network>().unwrap_or_else(|| {
            let net = Rc::new(Network {
                responders: RefCell::default(),
                decisions: RefCell::new(Decisions::new(world.seed(), NETWORK_STREAM)),
                exchanges: RefCell::default(),
                faults: RefCell::new(None),
            });
            world.set_extension(net.clone());
            net
        })
    }
}

impl World {
    /// Routes requests for `host` (`api.example.com`, or `host:port`) to `responder`.
    pub fn set_responder(&self, host: &str, responder: Responder) {
        Network::of(self).responders.borrow_mut().insert(host.to_ascii_lowercase(), responder);
    }

    /// Fixes the network's faults for this run (instead of drawing them from the seed).
    pub fn set_network_faults(&self, faults: NetworkFaults) {
        *Network::of(self).faults.borrow_mut() = Some(faults);
    }

    /// The network's faults in force: none in the liveness phase; else those fixed for
    /// the run, or none when the run's fault plan is quiet, or the seed's.
    pub fn network_faults(&self) -> NetworkFaults {
        let fixed = *Network::of(self).faults.borrow();
        match fixed {
            _ if self.calmed() => NetworkFaults::NONE,
            Some(f) => f,
            None if self.fault_plan().is_quiet() => NetworkFaults::NONE,
            None => NetworkFaults::swarm(self.seed()),
        }
    }

    /// The exchanges so far, in the order they were sent.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.extension::<Network>().map(|n| n.exchanges.borrow().clone()).unwrap_or_default()
    }

    /// Sends `request` from `from` over the simulated network: the answer of the host's
    /// responder (404 when none is registered), or an error worded as workerd's `fetch`
    /// rejection (a `TypeError`).
    pub async fn send_request(&self, from: &str, request: HttpRequest) -> Result<HttpResponse> {
        let net = Network::of(self);
        let faults = self.network_faults();
        let host = request.host();
        let index = {
            let mut all = net.exchanges.borrow_mut();
            let index = all.len();
            all.push(Exchange {
                index,
                from: from.to_owned(),
                request: request.clone(),
                sent_at: self.now().as_millis(),
                finished_at: None,
                response: None,
                error: None,
                delivered: false,
            });
            index
        };
        if index == 0 {
            self.trace("world", format!("network faults: {faults}"));
        }
        let line = format!("fetch#{index} {} {} leaves", request.method, request.url);
        self.trace(from, line);
        let (latency, refused, lost, unavailable) = {
            let mut d = net.decisions.borrow_mut();
            let scale = if faults.slow { 10 } else { 1 };
            let latency = d.between(LATENCY_MS.0 * scale, LATENCY_MS.1 * scale);
            (latency, d.chance(faults.connection_error), d.chance(faults.timeout), d.chance(faults.server_error))
        };
        self.sleep(Duration::from_millis(latency)).await;
        // An outage of outbound fetch (the fault plan's horizons) refuses the connection too.
        let refused = refused || self.in_outage(crate::faults::Outage::Fetch);
        let outcome = match host {
            None => Err(Error::usage(format!("Fetch API cannot load: {}", request.url))),
            Some(_) if refused => Err(Error::usage(CONNECTION_LOST)),
            Some(_) if unavailable => Ok((HttpResponse::new(503, "Service Unavailable"), false)),
            Some(host) => {
                let responder = net.responders.borrow().get(&host).cloned();
                let answer = match responder {
                    Some(r) => r(request).await,
                    None => Ok(HttpResponse::new(404, "Not Found")),
                };
                match answer {
                    _ if lost => {
                        let waited = Duration::from_millis(latency);
                        self.sleep(TIMEOUT.saturating_sub(waited)).await;
                        Err(Error::usage(TIMED_OUT))
                    }
                    // A responder that was reset (crashed) lost the connection; one that
                    // threw is an origin answering 500.
                    Err(e) if matches!(e.kind, ErrorKind::Reset | ErrorKind::Network | ErrorKind::Overloaded) => {
                        Err(Error::usage(CONNECTION_LOST))
                    }
                    Err(e) => Ok((HttpResponse::new(500, format!("responder error: {}", e.message)), true)),
                    Ok(r) => {
                        self.sleep(Duration::from_millis(latency)).await;
                        Ok((r, true))
                    }
                }
            }
        };
        let mut all = net.exchanges.borrow_mut();
        let ex = &mut all[index];
        ex.finished_at = Some(self.now().as_millis());
        let line = match &outcome {
            Ok((r, delivered)) => {
                ex.response = Some(r.clone());
                ex.delivered = *delivered;
                let injected = if *delivered { "" } else { " (injected: the responder never ran)" };
                format!("fetch#{index} answered {}{injected}", r.status)
            }
            Err(e) => {
                ex.error = Some(e.message.clone());
                ex.delivered = lost;
                format!("fetch#{index} failed: TypeError: {}", e.message)
            }
        };
        drop(all);
        self.trace(from, line);
        outcome.map(|(r, _)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls() {
        let r = |url: &str| HttpRequest { method: "GET".into(), url: url.into(), headers: BTreeMap::new(), body: None };
        assert_eq!(r("https://API.example.com/x?y").host().as_deref(), Some("api.example.com"));
        assert_eq!(r("http://u:p@h:8080").host().as_deref(), Some("h:8080"));
        assert_eq!(r("/relative").host(), None);
    }

    #[test]
    fn network_plans_vary_and_repeat() {
        let plans: Vec<_> = (0..64).map(NetworkFaults::swarm).collect();
        assert_eq!(plans, (0..64).map(NetworkFaults::swarm).collect::<Vec<_>>());
        assert!(plans.iter().any(|p| p.connection_error > 0));
        assert!(plans.iter().any(|p| p.timeout == 0));
    }
}
