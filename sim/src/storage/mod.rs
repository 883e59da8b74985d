//! The storage API an object sees (`state.storage()`), on the SQLite-backed back-end:
//! reads and writes execute when called, like a JavaScript promise that is already
//! settled, and return a [`StorageOp`] that may be awaited or dropped. Writes join the
//! object's open batch; the first write of a batch spawns its commit task.

pub mod sql;
pub(crate) mod sqlite;

use crate::config::GatePolicy;
use crate::error::{Error, Result};
use crate::host::ObjectCore;
use crate::strand::current_strand;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use sqlite::Range;

/// Options of [`Storage::list`] (do-semantics §4.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// First key included.
    pub start: Option<String>,
    /// Keys after this one (exclusive); not together with `start`.
    pub start_after: Option<String>,
    /// First key excluded.
    pub end: Option<String>,
    /// Only keys with this prefix.
    pub prefix: Option<String>,
    /// Descending order (start and end keep their meaning).
    pub reverse: bool,
    /// At most this many entries; must be positive.
    pub limit: Option<u64>,
}

impl ListOptions {
    /// Only keys starting with `p`.
    pub fn prefix(p: impl Into<String>) -> Self {
        ListOptions {
            prefix: Some(p.into()),
            ..Default::default()
        }
    }

    /// Compiles to a byte range as workerd's `compileListOptions` does; `None` = empty.
    pub(crate) fn compile(&self) -> Result<Option<Range>> {
        if self.start.is_some() && self.start_after.is_some() {
            return Err(Error::usage(
                "list() cannot be called with both start and startAfter values.",
            ));
        }
        if self.limit == Some(0) {
            return Err(Error::usage("List limit must be positive."));
        }
        let mut start = self.start.as_ref().map(|s| s.as_bytes().to_vec());
        if let Some(after) = &self.start_after {
            let mut k = after.as_bytes().to_vec();
            k.push(0);
            start = Some(k);
        }
        let mut end = self.end.as_ref().map(|s| s.as_bytes().to_vec());
        if let Some(p) = &self.prefix {
            let p = p.as_bytes().to_vec();
            if start.as_ref().is_none_or(|s| *s < p) {
                start = Some(p.clone());
            }
            if let Some(succ) = prefix_successor(&p) {
                if end.as_ref().is_none_or(|e| *e > succ) {
                    end = Some(succ);
                }
            }
        }
        if let (Some(s), Some(e)) = (&start, &end) {
            if e <= s {
                return Ok(None);
            }
        }
        Ok(Some(Range {
            start,
            end,
            reverse: self.reverse,
            limit: self.limit,
        }))
    }
}

/// The smallest key greater than every key with prefix `p`, if any.
fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut s = p.to_vec();
    while s.last() == Some(&0xff) {
        s.pop();
    }
    let last = s.last_mut()?;
    *last += 1;
    Some(s)
}

/// The outcome of a storage call, already decided when the call returned. Await it for
/// the value or drop it ("put without await"): the effect happened either way.
pub struct StorageOp<T> {
    result: Option<Result<T>>,
    delay: Option<NaiveDelay>,
}

/// With the input gate disabled, a storage await is a 1 ms wait that does not keep
/// others out. The hold is recorded (not enforced) so the input-gate checker can report
/// every event that slips in.
struct NaiveDelay {
    sleep: Pin<Box<dyn Future<Output = ()>>>,
    hold: Option<(Weak<ObjectCore>, u64)>,
}

impl Drop for NaiveDelay {
    fn drop(&mut self) {
        if let Some((core, strand)) = self.hold.take() {
            if let Some(core) = core.upgrade() {
                core.gate.borrow_mut().release(strand);
            }
        }
    }
}

impl<T> StorageOp<T> {
    fn settled(core: Option<&Rc<ObjectCore>>, result: Result<T>) -> Self {
        let delay = core
            .filter(|c| c.world.config().input_gate == GatePolicy::Disabled)
            .map(|c| {
                let hold = current_strand().map(|s| {
                    c.gate.borrow_mut().hold(s);
                    (Rc::downgrade(c), s)
                });
                NaiveDelay {
                    sleep: Box::pin(c.world.sleep(Duration::from_millis(1))),
                    hold,
                }
            });
        StorageOp {
            result: Some(result),
            delay,
        }
    }

    /// Whether the operation failed (without awaiting it).
    pub fn is_err(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }
}

impl<T> Unpin for StorageOp<T> {}

impl<T> Future for StorageOp<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        if let Some(d) = self.delay.as_mut() {
            if d.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.delay = None;
        }
        Poll::Ready(
            self.result
                .take()
                .expect("dosim: StorageOp polled after completion"),
        )
    }
}

/// `ctx.storage` of one object instance.
#[derive(Clone)]
pub struct Storage {
    core: Weak<ObjectCore>,
    incarnation: u64,
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(value)?)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::usage(format!(
            "stored value does not have the requested type: {e}"
        ))
    })
}

impl Storage {
    pub(crate) fn new(core: &Rc<ObjectCore>) -> Storage {
        Storage {
            core: Rc::downgrade(core),
            incarnation: core.incarnation(),
        }
    }

    /// The live core, if this instance is still the object's current one.
    fn core(&self) -> Result<Rc<ObjectCore>> {
        let core = self.core.upgrade().ok_or_else(Error::stale_storage)?;
        if core.incarnation() != self.incarnation {
            return Err(Error::stale_storage());
        }
        core.world.stats().storage_ops += 1;
        Ok(core)
    }

    fn op<T>(&self, f: impl FnOnce(&Rc<ObjectCore>) -> Result<T>) -> StorageOp<T> {
        match self.core() {
            Ok(core) => {
                let r = f(&core);
                StorageOp::settled(Some(&core), r)
            }
            Err(e) => StorageOp::settled(None, Err(e)),
        }
    }

    /// `get(key)`: the value, or `None`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> StorageOp<Option<T>> {
        self.op(|c| {
            c.store
                .borrow()
                .get(key.as_bytes())?
                .map(|b| decode(&b))
                .transpose()
        })
    }

    /// `get([keys])`: the keys that exist, in key order.
    pub fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> StorageOp<BTreeMap<String, T>> {
        self.op(|c| {
            let store = c.store.borrow();
            let mut out = BTreeMap::new();
            for k in keys {
                if let Some(b) = store.get(k.as_bytes())? {
                    out.insert((*k).to_owned(), decode(&b)?);
                }
            }
            Ok(out)
        })
    }

    /// `list(options)`: entries in key order (or reverse).
    pub fn list<T: DeserializeOwned>(
        &self,
        options: &ListOptions,
    ) -> StorageOp<BTreeMap<String, T>> {
        self.op(|c| {
            let Some(range) = options.compile()? else {
                return Ok(BTreeMap::new());
            };
            let rows = c.store.borrow().list(&range)?;
            rows.into_iter()
                .map(|(k, v)| Ok((sqlite::key_text(&k), decode(&v)?)))
                .collect()
        })
    }

    /// `list()` keeping the order of the result (for `reverse`).
    pub fn list_ordered<T: DeserializeOwned>(
        &self,
        options: &ListOptions,
    ) -> StorageOp<Vec<(String, T)>> {
        self.op(|c| {
            let Some(range) = options.compile()? else {
                return Ok(Vec::new());
            };
            let rows = c.store.borrow().list(&range)?;
            rows.into_iter()
                .map(|(k, v)| Ok((sqlite::key_text(&k), decode(&v)?)))
                .collect()
        })
    }

    /// `put(key, value)`: written now, durable at the next commit.
    pub fn put<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> StorageOp<()> {
        self.op(|c| {
            let entry = (key.as_bytes().to_vec(), encode(value)?);
            c.write(|s| s.put_all(std::slice::from_ref(&entry)))
                .map(drop)
        })
    }

    /// `put(entries)`: all or none.
    pub fn put_many<T: Serialize>(&self, entries: &[(&str, T)]) -> StorageOp<()> {
        self.op(|c| {
            let rows = entries
                .iter()
                .map(|(k, v)| Ok((k.as_bytes().to_vec(), encode(v)?)))
                .collect::<Result<Vec<_>>>()?;
            c.write(|s| s.put_all(&rows)).map(drop)
        })
    }

    /// `delete(key)`: whether the key existed.
    pub fn delete(&self, key: &str) -> StorageOp<bool> {
        self.op(|c| {
            c.write(|s| s.delete_all_of(&[key.as_bytes().to_vec()]))
                .map(|(n, _)| n > 0)
        })
    }

    /// `delete([keys])`: how many of the keys existed.
    pub fn delete_many(&self, keys: &[&str]) -> StorageOp<usize> {
        self.op(|c| {
            let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
            c.write(|s| s.delete_all_of(&keys)).map(|(n, _)| n)
        })
    }

    /// `sync()`: resolves when every write made before the call is durable. It is not a
    /// storage wait: other events may run meanwhile, even when nothing is pending
    /// (observed on workerd, do-semantics "Correction").
    pub fn sync(&self) -> impl Future<Output = Result<()>> + 'static {
        let core = self.core();
        async move {
            let core = core?;
            let needed = core.output.borrow().last_written;
            let inc = core.incarnation();
            crate::time::yield_now().await;
            core.wait_durable(inc, needed).await
        }
    }
}

/// A write's result carries the batch it opened, if any.
pub(crate) trait Opened {
    fn opened(&self) -> Option<u64>;
}

impl Opened for Option<u64> {
    fn opened(&self) -> Option<u64> {
        *self
    }
}

impl Opened for (usize, Option<u64>) {
    fn opened(&self) -> Option<u64> {
        self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(o: ListOptions) -> Option<(Option<String>, Option<String>)> {
        o.compile().unwrap().map(|r| {
            let t = |b: Option<Vec<u8>>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
            (t(r.start), t(r.end))
        })
    }

    #[test]
    fn list_options_compile_like_workerd() {
        let both = ListOptions {
            start: Some("a".into()),
            start_after: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(
            both.compile().unwrap_err().message,
            "list() cannot be called with both start and startAfter values."
        );
        let zero = ListOptions {
            limit: Some(0),
            ..Default::default()
        };
        assert_eq!(
            zero.compile().unwrap_err().message,
            "List limit must be positive."
        );
        assert_eq!(
            compile(ListOptions::prefix("ab")),
            Some((Some("ab".into()), Some("ac".into())))
        );
        let after = ListOptions {
            start_after: Some("k".into()),
            ..Default::default()
        };
        assert_eq!(compile(after), Some((Some("k\0".into()), None)));
        let empty = ListOptions {
            start: Some("z".into()),
            end: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(compile(empty), None);
        let past = ListOptions {
            start: Some("b".into()),
            prefix: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(compile(past), None);
    }

    #[test]
    fn prefix_successor_strips_ff() {
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }
}
