//! Transactions (SEMANTICS.md §4.7–4.8). `transaction()` runs its closure as a critical
//! section: on SQLite inside a savepoint, so every storage call and SQL statement inside
//! belongs to it; on the KV back-end in an overlay that the commit writes to the cache in
//! one go. A closure that fails rolls back and fails the call, without resetting the
//! object. `transaction_sync()` is SQLite only: a savepoint inside the implicit batch.

use super::{encode, kv_ops, ListOptions, Storage, StorageOp, Store, WriteOptions};
use crate::error::{Error, Result};
use crate::host::ObjectCore;
use crate::strand::block_concurrency_while;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnState {
    Open,
    RolledBack,
    Committed,
}

/// The `txn` handed to a `transaction()` closure.
#[derive(Clone)]
pub struct Txn {
    storage: Storage,
    state: Rc<Cell<TxnState>>,
    /// Savepoint depth below this transaction (SQLite).
    depth: usize,
    /// Writes not yet committed (KV back-end), `None` = delete.
    overlay: Rc<RefCell<BTreeMap<String, Option<Vec<u8>>>>>,
    kv: bool,
}

impl Txn {
    fn check(&self, op: &str) -> Result<()> {
        match self.state.get() {
            TxnState::Open => Ok(()),
            TxnState::RolledBack => Err(Error::app(format!("Cannot {op}() on rolled back transaction"))),
            TxnState::Committed => Err(Error::app(format!(
                "Cannot call {op}() on transaction that has already committed: did you move `txn` outside of the closure?"
            ))),
        }
    }

    fn guard<T: 'static>(&self, op: &str, f: impl FnOnce() -> StorageOp<T>) -> StorageOp<T> {
        match self.check(op) {
            Ok(()) => f(),
            Err(e) => StorageOp::failed(e),
        }
    }

    /// `txn.get(key)`: sees the transaction's own writes.
    pub fn get<T: DeserializeOwned + 'static>(&self, key: &str) -> StorageOp<Option<T>> {
        self.guard("get", || match self.overlay.borrow().get(key) {
            Some(Some(v)) => StorageOp::settled(None, super::decode(v).map(Some)),
            Some(None) => StorageOp::settled(None, Ok(None)),
            None => self.storage.get(key),
        })
    }

    /// `txn.put(key, value)`.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> StorageOp<()> {
        self.guard("put", || {
            if !self.kv {
                return self.storage.put(key, value);
            }
            match encode(value).and_then(|v| super::limits::value(&v).map(|_| v)) {
                Ok(v) => {
                    self.overlay.borrow_mut().insert(key.to_owned(), Some(v));
                    StorageOp::settled(None, Ok(()))
                }
                Err(e) => StorageOp::failed(e),
            }
        })
    }

    /// `txn.delete(key)`: whether it existed (as the transaction sees it).
    pub fn delete(&self, key: &str) -> StorageOp<bool> {
        self.guard("delete", || {
            if !self.kv {
                return self.storage.delete(key);
            }
            let before: StorageOp<Option<serde_json::Value>> = self.get(key);
            self.overlay.borrow_mut().insert(key.to_owned(), None);
            super::map_op(before, |v| Ok(v.is_some()))
        })
    }

    /// `txn.list(options)`: storage merged with the transaction's writes.
    pub fn list<T: DeserializeOwned + 'static>(&self, options: &ListOptions) -> StorageOp<BTreeMap<String, T>> {
        self.guard("list", || {
            if !self.kv {
                return self.storage.list(options);
            }
            let base: StorageOp<BTreeMap<String, serde_json::Value>> =
                self.storage.list(&ListOptions { limit: None, ..options.clone() });
            let overlay = self.overlay.borrow().clone();
            let options = options.clone();
            super::map_op(base, move |mut m| {
                let range = options.compile()?;
                for (k, v) in overlay {
                    let inside = range.as_ref().is_some_and(|r| {
                        let kb = k.as_bytes();
                        r.start.as_deref().is_none_or(|s| kb >= s) && r.end.as_deref().is_none_or(|e| kb < e)
                    });
                    match v {
                        Some(v) if inside => {
                            m.insert(k, super::decode(&v)?);
                        }
                        _ => {
                            m.remove(&k);
                        }
                    }
                }
                let mut out: Vec<(String, serde_json::Value)> = m.into_iter().collect();
                if options.reverse {
                    out.reverse();
                }
                out.truncate(options.limit.map_or(usize::MAX, |l| l as usize));
                out.into_iter()
                    .map(|(k, v)| Ok((k, serde_json::from_value(v).map_err(|e| Error::usage(e.to_string()))?)))
                    .collect()
            })
        })
    }

    /// `txn.rollback()`: discards the transaction's writes now; idempotent.
    pub fn rollback(&self) -> Result<()> {
        if self.state.get() == TxnState::RolledBack {
            return Ok(());
        }
        self.check("rollback")?;
        let core = self.storage.core()?;
        if !self.kv {
            let mut store = core.store.borrow_mut();
            let Store::Sqlite(s) = &mut *store else { unreachable!() };
            if s.depth() > self.depth + 1 {
                return Err(Error::app(
                    "Cannot roll back an outer transaction while a nested transaction is still running.",
                ));
            }
            drop(store);
            end_savepoint(&core, false)?;
        }
        self.overlay.borrow_mut().clear();
        self.state.set(TxnState::RolledBack);
        Ok(())
    }
}

/// Ends the innermost SQLite savepoint; an explicit root that committed is now durable.
fn end_savepoint(core: &ObjectCore, commit: bool) -> Result<()> {
    let ended = match &mut *core.store.borrow_mut() {
        Store::Sqlite(s) => s.end_savepoint(commit)?,
        Store::Kv(_) => None,
    };
    match ended {
        Some((batch, true)) => core.batch_durable(batch.no, &batch.keys(), batch.alarm_change()),
        Some((_, false)) => {
            // The root rolled back: nothing of it will ever be durable, so nothing waits.
            let mut out = core.output.borrow_mut();
            out.last_written = out.durable;
            out.last_any = out.durable;
        }
        None => {}
    }
    Ok(())
}

impl Storage {
    /// `transaction(closure)`: runs `body` as a critical section; resolves with its value
    /// after committing, or fails with its error after rolling back.
    pub fn transaction<T, F, Fut>(&self, body: F) -> impl Future<Output = Result<T>> + 'static
    where
        T: 'static,
        F: FnOnce(Txn) -> Fut + 'static,
        Fut: Future<Output = Result<T>> + 'static,
    {
        let storage = self.clone();
        let core = self.core();
        if let Ok(c) = &core {
            c.world.uses("transaction");
        }
        async move {
            let core = core?;
            let inner = core.clone();
            let section = block_concurrency_while(
                &core,
                Box::pin(async move {
                    let txn = begin(&inner, storage)?;
                    let result = body(txn.clone()).await;
                    // Ok either way: a failing closure fails the call, not the object.
                    Ok(finish(&inner, &txn, result))
                }),
            );
            section.await?
        }
    }

    /// `transactionSync(callback)` (SQLite only): runs `body` in a savepoint; its writes
    /// are undone if it fails.
    pub fn transaction_sync<T>(&self, body: impl FnOnce() -> Result<T>) -> Result<T> {
        let core = self.core()?;
        if !matches!(&*core.store.borrow(), Store::Sqlite(_)) {
            return Err(Error::app("Durable Object is not backed by SQL."));
        }
        core.world.uses("transaction");
        core.sqlite_begin(|s| s.begin_sync())?;
        let result = body();
        end_savepoint(&core, result.is_ok())?;
        result
    }
}

fn begin(core: &Rc<ObjectCore>, storage: Storage) -> Result<Txn> {
    let kv = matches!(&*core.store.borrow(), Store::Kv(_));
    let depth = if kv {
        let mut store = core.store.borrow_mut();
        let Store::Kv(s) = &mut *store else { unreachable!() };
        s.txn_depth += 1;
        s.txn_depth - 1
    } else {
        // An implicit batch still open is committed first (SEMANTICS.md §4.7).
        let open_implicit =
            matches!(&*core.store.borrow(), Store::Sqlite(s) if s.open_batch().is_some() && !s.in_explicit());
        if open_implicit {
            core.commit_open();
        }
        let depth = match &*core.store.borrow() {
            Store::Sqlite(s) => s.depth(),
            Store::Kv(_) => 0,
        };
        core.sqlite_begin(|s| s.begin_explicit())?;
        depth
    };
    Ok(Txn { storage, state: Rc::new(Cell::new(TxnState::Open)), depth, overlay: Rc::default(), kv })
}

fn finish<T>(core: &Rc<ObjectCore>, txn: &Txn, result: Result<T>) -> Result<T> {
    let rolled_back = txn.state.get() == TxnState::RolledBack;
    if rolled_back || result.is_err() {
        core.world.sometimes("transaction rolled back");
    }
    if txn.kv {
        if let Store::Kv(s) = &mut *core.store.borrow_mut() {
            s.txn_depth -= 1;
        }
        if result.is_ok() && !rolled_back {
            let writes: Vec<_> = std::mem::take(&mut *txn.overlay.borrow_mut()).into_iter().collect();
            kv_ops::write(core, writes, WriteOptions::default());
        }
    } else if !rolled_back {
        end_savepoint(core, result.is_ok())?;
    }
    // After the closure, `txn` is dead either way (workerd names the committed case).
    txn.state.set(if rolled_back { TxnState::RolledBack } else { TxnState::Committed });
    result
}
