//! The facade under dosim: an object written against the `worker` API (KV and SQL
//! storage, an alarm, `env` variables, a stub call to another object, a hibernatable
//! WebSocket accepted in `fetch`) runs with dosim's gates, faults and checkers.

use ::dosim::prelude::{Builder, Draw, RunReport, World};
use ::dosim::sim::FaultPolicy;
use std::time::Duration;
use worker::dosim::{bind, connect, set_var, HttpRequest};
use worker::*;

#[durable_object]
pub struct Ledger {
    state: State,
    env: Env,
}

impl DurableObject for Ledger {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        sql.exec("CREATE TABLE IF NOT EXISTS entries(id INTEGER PRIMARY KEY, amount INTEGER)", None)
            .expect("create table");
        Ledger { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        match req.path().as_str() {
            "/add" => {
                let amount: i64 = req.json().await?;
                let sql = storage.sql();
                sql.exec("INSERT INTO entries(amount) VALUES (?)", vec![amount.into()])?;
                #[derive(serde::Deserialize)]
                struct Sum {
                    total: Option<i64>,
                }
                let sum: Sum = sql.exec("SELECT SUM(amount) AS total FROM entries", None)?.one()?;
                let n: u64 = storage.get("adds").await?.unwrap_or(0);
                storage.put("adds", n + 1).await?;
                storage.set_alarm(Duration::from_millis(500)).await?;
                Response::from_json(&sum.total.unwrap_or(0))
            }
            "/greeting" => Response::ok(self.env.var("GREETING")?.to_string()),
            "/mirror" => {
                // An object calling another object of its namespace.
                let stub = self.env.durable_object("LEDGER")?.id_from_name("mirror")?.get_stub()?;
                let mut r = stub.fetch_with_str("https://ledger/greeting").await?;
                Response::ok(format!("mirror says {}", r.text().await?))
            }
            "/ws" => {
                let pair = WebSocketPair::new()?;
                self.state.accept_web_socket(&pair.server);
                let who = req.url()?.query_pairs().find(|(k, _)| k == "who").map(|(_, v)| v.into_owned());
                pair.server.serialize_attachment(who.unwrap_or_default())?;
                Response::from_websocket(pair.client)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().put("alarmed", true).await?;
        console_log!("alarm ran");
        Response::ok("ALARMED")
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let WebSocketIncomingMessage::String(text) = message else { return Ok(()) };
        let who: String = ws.deserialize_attachment()?.unwrap_or_default();
        ws.send_with_str(format!("{who}: {text}"))
    }

    async fn websocket_close(&self, _ws: WebSocket, _code: usize, _reason: String, _clean: bool) -> Result<()> {
        Ok(())
    }
}

/// A counter that waits on a timer between its read and its write: the input gate opens.
#[durable_object]
pub struct SlowCounter {
    state: State,
}

impl DurableObject for SlowCounter {
    fn new(state: State, _env: Env) -> Self {
        SlowCounter { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let n: u64 = self.state.storage().get("n").await?.unwrap_or(0);
        Delay::from(Duration::from_millis(2)).await;
        self.state.storage().put("n", n + 1).await?;
        Response::ok((n + 1).to_string())
    }
}

#[test]
fn the_invariant_catches_a_lost_update_in_a_workers_rs_object() {
    let msg = Builder::new()
        .seeds(40)
        .invariant(totals_are_unique)
        .save_regressions(false)
        .try_check(|world: World| async move {
            let ns = bind::<SlowCounter>(&world, "SLOW");
            let id = ns.id_from_name("c");
            let mut tasks = Vec::new();
            for c in 0..3 {
                let (w, ns, id) = (world.clone(), ns.clone(), id.clone());
                tasks.push(world.spawn(async move {
                    let _ = w.client(c).call(&ns.get(&id), HttpRequest::post("https://slow/", "")).await;
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
        .expect_err("read, timer, write loses updates");
    assert!(msg.contains("was acknowledged twice"), "{msg}");
}

/// Each acknowledged `/add` of 1 returns a running total no other add got.
fn totals_are_unique(report: &RunReport) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for op in &report.history {
        let Some(body) = op.ok_value().and_then(|v| v["body"].as_str()) else { continue };
        if !seen.insert(body.to_owned()) {
            found.push(format!("total {body} was acknowledged twice (#{})", op.index));
        }
    }
    found
}

async fn adders(world: World) {
    let ns = bind::<Ledger>(&world, "LEDGER");
    let id = ns.id_from_name("books");
    let mut tasks = Vec::new();
    for c in 0..world.draw(2..=3usize) {
        let (w, ns, id) = (world.clone(), ns.clone(), id.clone());
        let calls = world.draw(1..=4usize);
        tasks.push(world.spawn(async move {
            for _ in 0..calls {
                let _ = w.client(c).call(&ns.get(&id), HttpRequest::post("https://ledger/add", "1")).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[test]
fn a_workers_rs_object_keeps_its_invariant_under_faults() {
    Builder::new().seeds(40).invariant(totals_are_unique).save_regressions(false).check(adders);
}

#[test]
fn storage_sql_and_the_alarm_reach_durable_state() {
    let r = Builder::new().faults(FaultPolicy::Off).run_seed(3, adders);
    assert!(r.passed(), "{:?}", r.violations);
    let books = "LEDGER:books";
    let adds = r.report.durable_value(books, "adds").and_then(|v| v.as_u64()).unwrap();
    assert_eq!(adds as usize, r.report.history.len());
    assert_eq!(r.report.tables[books]["entries"].len() as u64, adds);
    assert_eq!(r.report.durable_value(books, "alarmed"), Some(&serde_json::json!(true)));
    assert!(r.report.trace_text().contains("console: alarm ran"));
    let last = r
        .report
        .history
        .iter()
        .filter_map(|o| o.ok_value())
        .map(|v| v["body"].clone())
        .max_by_key(|b| b.as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0));
    assert_eq!(last, Some(serde_json::json!(adds.to_string())));
}

#[test]
fn env_vars_stubs_between_objects_and_websockets() {
    let r = Builder::new().faults(FaultPolicy::Off).run_seed(1, |world: World| async move {
        set_var(&world, "GREETING", "hello");
        let ns = bind::<Ledger>(&world, "LEDGER");
        let books = ns.get(&ns.id_from_name("books"));
        let client = world.client(0);
        let r = client.call(&books, HttpRequest::get("https://ledger/mirror")).await.map_err(|e| e.message)?;
        if r.body != "mirror says hello" {
            return Err(format!("mirror: {r:?}"));
        }
        let missing = client.call(&books, HttpRequest::get("https://ledger/nowhere")).await.map_err(|e| e.message)?;
        if missing.status != 404 {
            return Err(format!("missing: {missing:?}"));
        }
        let conn =
            connect(&world, &books, HttpRequest::get("https://ledger/ws?who=ada")).await.map_err(|e| e.message)?;
        conn.send("hi").await.map_err(|e| e.message)?;
        match conn.recv().await {
            Some(::dosim::sim::Received::Message(m)) if m == "ada: hi" => Ok(()),
            other => Err(format!("websocket: {other:?}")),
        }
    });
    assert!(r.passed(), "{:?}\n{}", r.violations, r.report.trace_text());
}

#[test]
fn a_missing_binding_or_variable_is_an_error_naming_it() {
    let r = Builder::new().faults(FaultPolicy::Off).run_seed(0, |world: World| async move {
        let ns = bind::<Ledger>(&world, "LEDGER");
        let books = ns.get(&ns.id_from_name("books"));
        match world.client(0).call(&books, HttpRequest::get("https://ledger/greeting")).await {
            Err(e) if e.message.contains("no binding found for `GREETING`") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert!(r.passed(), "{:?}", r.violations);
}
