//! SQL on a Durable Object: statements join the implicit transaction and the output gate
//! like KV writes, workerd's restrictions hold, and a critical error resets the object.

use dosim::sim::{async_trait, run, DurableObject, Env, FaultPolicy, Result, SimConfig, SqlValue, State, World};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Q {
    Exec(String, Vec<i64>),
    Sum,
}

struct Db {
    state: State,
}

#[async_trait(?Send)]
impl DurableObject for Db {
    type Request = Q;
    type Response = serde_json::Value;
    fn new(state: State, _env: Env) -> Self {
        Db { state }
    }
    async fn call(&self, q: Q) -> Result<serde_json::Value> {
        let sql = self.state.storage().sql();
        match q {
            Q::Exec(text, binds) => {
                let binds: Vec<SqlValue> = binds.into_iter().map(SqlValue::from).collect();
                let mut c = sql.exec(&text, &binds)?;
                let rows: Vec<Vec<SqlValue>> = c.raw().collect();
                Ok(serde_json::json!({"rows": rows.len(), "written": c.rows_written()}))
            }
            Q::Sum => {
                let row = sql.exec("SELECT coalesce(sum(v), 0) AS s FROM t", &[])?.one()?;
                Ok(serde_json::json!(row.get("s").and_then(SqlValue::as_i64)))
            }
        }
    }
}

fn quiet(seed: u64) -> SimConfig {
    SimConfig::new(seed).faults(FaultPolicy::Off)
}

#[test]
fn sql_writes_are_batched_gated_and_durable() {
    let r = run(quiet(1), |world: World| async move {
        let ns = world.namespace::<Db>("DB");
        let stub = ns.get(&ns.id_from_name("d"));
        let c = world.client(0);
        c.call(&stub, Q::Exec("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (?)".into(), vec![5])).await.unwrap();
        let v = c.call(&stub, Q::Exec("INSERT INTO t VALUES (?)".into(), vec![7])).await.unwrap();
        assert_eq!(v["written"], 1);
        world.crash("DB:d", "test");
        assert_eq!(c.call(&stub, Q::Sum).await.unwrap(), serde_json::json!(12), "acknowledged SQL writes survive");
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let text = r.trace_text();
    assert!(text.contains("output gate holds the reply"), "{text}");
    assert_eq!(r.stats.commits, 2, "{text}");
}

#[test]
fn begin_is_refused_with_workerds_message() {
    let r = run(quiet(2), |world: World| async move {
        let ns = world.namespace::<Db>("DB");
        let stub = ns.get(&ns.id_from_name("d"));
        let e = world.client(0).call(&stub, Q::Exec("BEGIN".into(), vec![])).await.unwrap_err();
        assert!(e.message.starts_with("To execute a transaction, please use the state.storage.transaction()"), "{e:?}");
        assert!(e.remote && !e.durable_object_reset);
        let e = world.client(0).call(&stub, Q::Exec("PRAGMA user_version".into(), vec![])).await.unwrap_err();
        assert!(e.message.contains("not authorized"), "{e:?}");
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}

#[test]
fn math_functions_are_available() {
    let r = run(quiet(3), |world: World| async move {
        let ns = world.namespace::<Db>("DB");
        let stub = ns.get(&ns.id_from_name("d"));
        let v = world.client(0).call(&stub, Q::Exec("SELECT cos(0), pow(2, 10)".into(), vec![])).await;
        assert!(v.is_ok(), "{v:?}");
    });
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}
