//! A small bank on the KV-backed back-end: transfers run in `transaction()` and roll back
//! when funds are short; closing an account deletes it (a counted delete when the key is
//! not cached). Right as written: a control that exercises transactions, rollbacks and
//! counted deletes under crashes.

use dosim_sim::{DurableObject, Env, Error, Result, State};
use serde::{Deserialize, Serialize};

/// Accounts every bank opens with, each holding [`OPENING_BALANCE`].
pub const ACCOUNTS: [&str; 3] = ["a", "b", "c"];
/// Each account's balance when the bank opens.
pub const OPENING_BALANCE: i64 = 100;

/// Calls a bank understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankCall {
    /// Move `amount` from one account to another; `false` if funds were short.
    Transfer {
        /// Paying account.
        from: String,
        /// Receiving account.
        to: String,
        /// How much.
        amount: i64,
    },
    /// Close an account whose balance is zero; `false` if it is not (or is gone).
    Close {
        /// The account.
        account: String,
    },
}

/// The bank.
pub struct Bank {
    state: State,
}

fn key(account: &str) -> String {
    format!("balance:{account}")
}

#[dosim_sim::async_trait(?Send)]
impl DurableObject for Bank {
    type Request = BankCall;
    type Response = bool;

    fn new(state: State, _env: Env) -> Self {
        let storage = state.storage().clone();
        // Open the accounts once, before any call runs.
        state.block_concurrency_while(async move {
            if storage.get::<bool>("opened").await?.is_none() {
                let entries: Vec<(String, i64)> = ACCOUNTS.iter().map(|a| (key(a), OPENING_BALANCE)).collect();
                let entries: Vec<(&str, i64)> = entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
                storage.put_many(&entries).await?;
                storage.put("opened", &true).await?;
            }
            Ok(())
        });
        Bank { state }
    }

    async fn call(&self, request: BankCall) -> Result<bool> {
        match request {
            BankCall::Transfer { from, to, amount } => {
                if from == to || amount <= 0 {
                    return Err(Error::app("a transfer needs two accounts and a positive amount"));
                }
                self.state
                    .storage()
                    .transaction(move |txn| async move {
                        let have: Option<i64> = txn.get(&key(&from)).await?;
                        let other: Option<i64> = txn.get(&key(&to)).await?;
                        let (Some(have), Some(other)) = (have, other) else {
                            txn.rollback()?;
                            return Ok(false);
                        };
                        txn.put(&key(&from), &(have - amount)).await?;
                        txn.put(&key(&to), &(other + amount)).await?;
                        if have < amount {
                            // Funds short: undo both writes.
                            txn.rollback()?;
                            return Ok(false);
                        }
                        Ok(true)
                    })
                    .await
            }
            BankCall::Close { account } => {
                let s = self.state.storage();
                match s.get::<i64>(&key(&account)).await? {
                    Some(0) => Ok(s.delete(&key(&account)).await?),
                    _ => Ok(false),
                }
            }
        }
    }
}
