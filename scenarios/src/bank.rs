//! `bank`: clients move money between three accounts in `transaction()`s that roll back
//! when funds are short, and close empty accounts, on the KV-backed back-end, under the
//! seed's crashes. Judged on the durable state: no money is created or lost (the balances
//! of open accounts always sum to what the bank opened with) and no balance is negative.
//! A control: right as written, it exercises transactions and their rollbacks.

use crate::workload::{accepts, drive, Driving, Workload};
use crate::Scenario;
use dosim_models::bank::{Bank, BankCall, ACCOUNTS, OPENING_BALANCE};
use dosim_sim::{Backend, RunReport, Violation, World};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::Value;

/// The scenario.
pub struct BankScenario;

/// `bank`.
pub static BANK: BankScenario = BankScenario;

const LABEL: &str = "BANK:bank";

impl Scenario for BankScenario {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn about(&self) -> &'static str {
        "Transfers in transaction() that roll back when funds are short, on the KV back-end: money is conserved"
    }

    fn requests(&self) -> BoxedStrategy<Value> {
        let account = || proptest::sample::select(ACCOUNTS.to_vec()).prop_map(str::to_owned);
        let transfer = (account(), account(), 1i64..=150)
            .prop_filter("two accounts", |(a, b, _)| a != b)
            .prop_map(|(from, to, amount)| BankCall::Transfer { from, to, amount });
        let close = account().prop_map(|account| BankCall::Close { account });
        prop_oneof![4 => transfer, 1 => close].prop_map(|c| serde_json::to_value(c).unwrap_or_default()).boxed()
    }

    fn accepts(&self, request: &Value) -> Result<(), String> {
        accepts::<Bank>(request)
    }

    fn drive(&self, world: World, workload: Workload) -> Driving {
        drive::<Bank>(&world, "BANK", Backend::Kv, "bank", workload)
    }

    fn check(&self, report: &RunReport) -> Vec<Violation> {
        let mut found = Vec::new();
        let Some(state) = report.durable.get(LABEL) else { return found };
        if state.get("opened").is_none() {
            return found; // the bank never opened durably: nothing to judge
        }
        let balances: Vec<(String, i64)> = state
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("balance:").map(|a| (a.to_owned(), v.as_i64().unwrap_or(i64::MIN))))
            .collect();
        let total: i64 = balances.iter().map(|(_, b)| b).sum();
        let expected = OPENING_BALANCE * ACCOUNTS.len() as i64;
        let mut say = |message: String| found.push(Violation { checker: "bank".into(), message, at: report.sim_time });
        if total != expected {
            say(format!(
                "the open accounts hold {total} in all, not the {expected} the bank opened with: {balances:?}"
            ));
        }
        for (account, balance) in &balances {
            if *balance < 0 {
                say(format!("account {account} is overdrawn: {balance}"));
            }
        }
        found
    }
}
