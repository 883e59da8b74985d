//! `getAlarm` / `setAlarm` / `deleteAlarm` (SEMANTICS.md §6.1, §6.3): the alarm is an
//! ordinary write (coalesced, gated by the output gate, rolled back with transactions);
//! past times are clamped to now; inside the alarm handler `get_alarm` reads `None` unless
//! the handler set one.

use super::{Storage, StorageOp, WriteOptions};
use crate::error::Error;

impl Storage {
    /// `getAlarm()`: the alarm time in ms, or `None`.
    pub fn get_alarm(&self) -> StorageOp<Option<u64>> {
        self.with(|c| {
            let hidden = {
                let st = c.alarm.borrow();
                st.running.is_some() && !st.set_in_handler
            };
            let r = if hidden { Ok(None) } else { c.stored_alarm() };
            StorageOp::settled(Some(c), r)
        })
    }

    /// `setAlarm(time)`: one alarm per object; a new one replaces the old.
    pub fn set_alarm(&self, time_ms: u64) -> StorageOp<()> {
        self.set_alarm_with(time_ms, WriteOptions::default())
    }

    /// `setAlarm(time, options)`.
    pub fn set_alarm_with(&self, time_ms: u64, options: WriteOptions) -> StorageOp<()> {
        if time_ms == 0 {
            return StorageOp::failed(Error::usage("setAlarm() cannot be called with an alarm time <= 0"));
        }
        self.change_alarm(Some(time_ms), options)
    }

    /// `deleteAlarm()`.
    pub fn delete_alarm(&self) -> StorageOp<()> {
        self.change_alarm(None, WriteOptions::default())
    }

    fn change_alarm(&self, time: Option<u64>, options: WriteOptions) -> StorageOp<()> {
        self.with(|c| {
            // Times in the past mean "now" (workerd: "fudge times set in the past").
            let time = time.map(|t| t.max(c.world.now().as_millis()));
            {
                let mut st = c.alarm.borrow_mut();
                if st.running.is_some() {
                    st.set_in_handler = true;
                }
            }
            let r = match c.stored_alarm() {
                // Setting the alarm it already has is no write at all (T39).
                Ok(current) if current == time => Ok(()),
                Ok(_) => c.write_alarm(time, !options.allow_unconfirmed),
                Err(e) => Err(e),
            };
            StorageOp::settled(Some(c), r)
        })
    }
}
