//! Draws: the random choices a test's workload makes (how many clients, which call,
//! which key), taken from a recorded sequence so that a failing run shrinks and replays.
//! A fresh run draws from the seed and records every choice; a saved or shrunk case
//! replays its recorded choices, and past their end every draw is the range's minimum.

use crate::sim::faults::Decisions;
use crate::sim::World;
use std::cell::{Cell, RefCell};
use std::ops::{Range, RangeInclusive};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Stream of the decision generator that fresh draws come from (apart from the harness's).
const DRAW_STREAM: u64 = 0x6472_6177_7300;

/// The choice source of one run, kept in the run's world.
pub(crate) struct Draws {
    given: Option<Vec<u64>>,
    next: Cell<usize>,
    rng: RefCell<Decisions>,
    used: Arc<Mutex<Vec<u64>>>,
}

impl Draws {
    /// Choices of `seed`: replayed from `given` when set, drawn fresh otherwise; every
    /// choice made lands in `used` (shared with the test thread, which reads it after).
    pub(crate) fn new(seed: u64, given: Option<Vec<u64>>, used: Arc<Mutex<Vec<u64>>>) -> Draws {
        Draws { given, next: Cell::new(0), rng: RefCell::new(Decisions::new(seed, DRAW_STREAM)), used }
    }

    /// An offset in `0..n` (`n >= 1`).
    fn choose(&self, n: u64) -> u64 {
        let i = self.next.replace(self.next.get() + 1);
        let v = match &self.given {
            // A replayed choice may no longer fit if the test changed: clamp it.
            Some(given) => given.get(i).map_or(0, |v| (*v).min(n - 1)),
            None => self.rng.borrow_mut().between(0, n - 1),
        };
        self.used.lock().unwrap_or_else(|p| p.into_inner()).push(v);
        v
    }

    fn of(world: &World) -> Rc<Draws> {
        if let Some(d) = world.extension::<Draws>() {
            return d;
        }
        // A world not started by `dosim::testing` (a plain `sim::run`): draw from its seed.
        let d = Rc::new(Draws::new(world.seed(), None, Arc::default()));
        world.set_extension(d.clone());
        d
    }
}

/// A range a value can be drawn from: `a..b` and `a..=b` of the integer types.
pub trait DrawRange {
    /// The type drawn.
    type Item;
    /// Lowest and highest value, inclusive (`None` if the range is empty).
    fn bounds(&self) -> Option<(i128, i128)>;
    /// The value `v` (inside the bounds) as the item type.
    fn item(v: i128) -> Self::Item;
}

macro_rules! draw_ranges {
    ($($t:ty),*) => {$(
        impl DrawRange for Range<$t> {
            type Item = $t;
            fn bounds(&self) -> Option<(i128, i128)> {
                (self.start < self.end).then(|| (self.start as i128, self.end as i128 - 1))
            }
            fn item(v: i128) -> $t {
                v as $t
            }
        }
        impl DrawRange for RangeInclusive<$t> {
            type Item = $t;
            fn bounds(&self) -> Option<(i128, i128)> {
                (self.start() <= self.end()).then(|| (*self.start() as i128, *self.end() as i128))
            }
            fn item(v: i128) -> $t {
                v as $t
            }
        }
    )*};
}

draw_ranges!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Random choices for a workload, recorded so that a failure shrinks (toward each range's
/// minimum, and toward fewer draws) and replays. Implemented for [`World`]: inside a test
/// run, `world.draw(1..=4)`.
pub trait Draw {
    /// A value of `range`; shrinks toward its start.
    fn draw<R: DrawRange>(&self, range: R) -> R::Item;
    /// `true` or `false`; shrinks toward `false`.
    fn draw_bool(&self) -> bool;
    /// One of `items` (not empty); shrinks toward the first.
    fn pick<'a, T>(&self, items: &'a [T]) -> &'a T;
}

impl Draw for World {
    fn draw<R: DrawRange>(&self, range: R) -> R::Item {
        let Some((lo, hi)) = range.bounds() else { panic!("dosim: draw() from an empty range") };
        let span = u64::try_from(hi - lo).unwrap_or(u64::MAX - 1) + 1;
        R::item(lo + i128::from(Draws::of(self).choose(span)))
    }

    fn draw_bool(&self) -> bool {
        Draws::of(self).choose(2) == 1
    }

    fn pick<'a, T>(&self, items: &'a [T]) -> &'a T {
        assert!(!items.is_empty(), "dosim: pick() from an empty slice");
        &items[Draws::of(self).choose(items.len() as u64) as usize]
    }
}
