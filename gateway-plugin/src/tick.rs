//! Tick handlers: `#[on_tick(period_ms = N)]` functions, run on the root
//! context's timer with the global config, as Go's `RegisterTickFunc`.
//!
//! Several handlers with different periods share the host's one timer: the
//! root sets its period to the periods' greatest common divisor and runs each
//! handler on the first tick, then every `period_ms`. An `async` handler is a
//! task whose callouts are made on behalf of the root; while one run still
//! waits, its next turns are skipped, not stacked.
//!
//! How handlers are found: each `#[on_tick]` implements [`OnTick`] for the
//! config type at a slot picked from its function's name (`SLOTS` slots),
//! and `__ticks!` (`lookup.rs`) probes every slot at compile time (as
//! `__handlers!` does for the phases), so a plugin without ticks carries
//! none of this.

use crate::context::HttpContext;
use crate::executor::TaskFuture;
use std::rc::Rc;

/// The context an async tick task gives back (it has no stream).
pub fn tick_context() -> HttpContext {
    HttpContext::new(0)
}

/// How many tick handlers a plugin may have (their names pick the slots).
/// At most 64: a root keeps which are running as the bits of a `u64`.
pub const SLOTS: usize = 64;
const _: () = assert!(SLOTS <= 64);

/// A tick handler, sync or async.
pub enum TickHandler<C> {
    /// `fn(config: &C)`
    Sync(fn(&C)),
    /// `async fn(config: &C)`, wrapped so its future owns an `Rc` of the config.
    Async(fn(Rc<C>) -> TaskFuture),
}

/// One `#[on_tick]` handler and its period.
pub struct Tick<C> {
    /// How often it runs.
    pub period_ms: u32,
    /// What runs.
    pub handler: TickHandler<C>,
}

// Derived Clone/Copy would require `C: Copy`.
impl<C> Clone for TickHandler<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for TickHandler<C> {}
impl<C> Clone for Tick<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Tick<C> {}

/// Implemented by `#[on_tick]` at the slot its function's name picks.
pub trait OnTick<const SLOT: usize>: Sized {
    /// The handler.
    const TICK: Tick<Self>;
}

/// The ticks of a plugin, one optional handler per slot.
pub type Ticks<C> = [Option<Tick<C>>; SLOTS];

/// What a root does with its tick handlers: the host period (their periods'
/// greatest common divisor) and which runs are due.
pub(crate) struct TickState {
    pub(crate) host_period_ms: u32,
    elapsed_ms: u64,
}

fn gcd(a: u32, b: u32) -> u32 {
    match b {
        0 => a,
        b => gcd(b, a % b),
    }
}

impl TickState {
    /// `None` if there are no tick handlers.
    pub(crate) fn new<C>(ticks: &Ticks<C>) -> Option<TickState> {
        let host_period_ms = ticks.iter().flatten().map(|t| t.period_ms).fold(0, gcd);
        (host_period_ms > 0).then_some(TickState {
            host_period_ms,
            elapsed_ms: 0,
        })
    }

    /// Advances one host tick; calls `due(slot)` for every handler whose
    /// turn it is (each runs on the first tick, then every `period_ms`).
    pub(crate) fn advance<C>(&mut self, ticks: &Ticks<C>, mut due: impl FnMut(usize, &Tick<C>)) {
        for (slot, tick) in ticks.iter().enumerate() {
            if let Some(tick) = tick {
                if self.elapsed_ms % u64::from(tick.period_ms.max(1)) == 0 {
                    due(slot, tick);
                }
            }
        }
        self.elapsed_ms += u64::from(self.host_period_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(period_ms: u32) -> Option<Tick<()>> {
        Some(Tick {
            period_ms,
            handler: TickHandler::Sync(|_| {}),
        })
    }

    #[test]
    fn periods_share_one_timer_in_the_right_ratio() {
        let mut ticks: Ticks<()> = [None; SLOTS];
        ticks[3] = tick(100);
        ticks[40] = tick(300);
        ticks[7] = tick(250);
        let mut state = TickState::new(&ticks).unwrap();
        assert_eq!(state.host_period_ms, 50);
        let mut runs = [0; SLOTS];
        for _ in 0..30 {
            // 1.5 s of host ticks
            state.advance(&ticks, |slot, _| runs[slot] += 1);
        }
        assert_eq!((runs[3], runs[40], runs[7]), (15, 5, 6));
        assert!(TickState::new::<()>(&[None; SLOTS]).is_none());
    }
}
