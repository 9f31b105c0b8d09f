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
//! and `__ticks!` probes every slot at compile time (as `__handlers!` does
//! for the phases), so a plugin without ticks carries none of this.

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

/// The compile-time probe behind `__ticks!`.
#[doc(hidden)]
pub mod probe {
    use super::*;
    pub use crate::config::probe::Probe;

    macro_rules! slots {
        ($(($has:ident, $none:ident, $method:ident, $slot:literal),)*) => {$(
            pub trait $has<C> {
                fn $method(&self) -> Option<Tick<C>>;
            }
            impl<C: OnTick<$slot>> $has<C> for &Probe<C> {
                #[inline(always)]
                fn $method(&self) -> Option<Tick<C>> {
                    Some(<C as OnTick<$slot>>::TICK)
                }
            }
            pub trait $none<C> {
                fn $method(&self) -> Option<Tick<C>>;
            }
            impl<C> $none<C> for Probe<C> {
                #[inline(always)]
                fn $method(&self) -> Option<Tick<C>> {
                    None
                }
            }
        )*};
    }

    slots! {
        (Has0, No0, tick_0, 0),
        (Has1, No1, tick_1, 1),
        (Has2, No2, tick_2, 2),
        (Has3, No3, tick_3, 3),
        (Has4, No4, tick_4, 4),
        (Has5, No5, tick_5, 5),
        (Has6, No6, tick_6, 6),
        (Has7, No7, tick_7, 7),
        (Has8, No8, tick_8, 8),
        (Has9, No9, tick_9, 9),
        (Has10, No10, tick_10, 10),
        (Has11, No11, tick_11, 11),
        (Has12, No12, tick_12, 12),
        (Has13, No13, tick_13, 13),
        (Has14, No14, tick_14, 14),
        (Has15, No15, tick_15, 15),
        (Has16, No16, tick_16, 16),
        (Has17, No17, tick_17, 17),
        (Has18, No18, tick_18, 18),
        (Has19, No19, tick_19, 19),
        (Has20, No20, tick_20, 20),
        (Has21, No21, tick_21, 21),
        (Has22, No22, tick_22, 22),
        (Has23, No23, tick_23, 23),
        (Has24, No24, tick_24, 24),
        (Has25, No25, tick_25, 25),
        (Has26, No26, tick_26, 26),
        (Has27, No27, tick_27, 27),
        (Has28, No28, tick_28, 28),
        (Has29, No29, tick_29, 29),
        (Has30, No30, tick_30, 30),
        (Has31, No31, tick_31, 31),
        (Has32, No32, tick_32, 32),
        (Has33, No33, tick_33, 33),
        (Has34, No34, tick_34, 34),
        (Has35, No35, tick_35, 35),
        (Has36, No36, tick_36, 36),
        (Has37, No37, tick_37, 37),
        (Has38, No38, tick_38, 38),
        (Has39, No39, tick_39, 39),
        (Has40, No40, tick_40, 40),
        (Has41, No41, tick_41, 41),
        (Has42, No42, tick_42, 42),
        (Has43, No43, tick_43, 43),
        (Has44, No44, tick_44, 44),
        (Has45, No45, tick_45, 45),
        (Has46, No46, tick_46, 46),
        (Has47, No47, tick_47, 47),
        (Has48, No48, tick_48, 48),
        (Has49, No49, tick_49, 49),
        (Has50, No50, tick_50, 50),
        (Has51, No51, tick_51, 51),
        (Has52, No52, tick_52, 52),
        (Has53, No53, tick_53, 53),
        (Has54, No54, tick_54, 54),
        (Has55, No55, tick_55, 55),
        (Has56, No56, tick_56, 56),
        (Has57, No57, tick_57, 57),
        (Has58, No58, tick_58, 58),
        (Has59, No59, tick_59, 59),
        (Has60, No60, tick_60, 60),
        (Has61, No61, tick_61, 61),
        (Has62, No62, tick_62, 62),
        (Has63, No63, tick_63, 63),
    }
}

/// The tick handlers of a concrete config type, by slot.
#[doc(hidden)]
#[macro_export]
macro_rules! __ticks {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::tick::probe::*;
        [
            (&&Probe::<$ty>::new()).tick_0(),
            (&&Probe::<$ty>::new()).tick_1(),
            (&&Probe::<$ty>::new()).tick_2(),
            (&&Probe::<$ty>::new()).tick_3(),
            (&&Probe::<$ty>::new()).tick_4(),
            (&&Probe::<$ty>::new()).tick_5(),
            (&&Probe::<$ty>::new()).tick_6(),
            (&&Probe::<$ty>::new()).tick_7(),
            (&&Probe::<$ty>::new()).tick_8(),
            (&&Probe::<$ty>::new()).tick_9(),
            (&&Probe::<$ty>::new()).tick_10(),
            (&&Probe::<$ty>::new()).tick_11(),
            (&&Probe::<$ty>::new()).tick_12(),
            (&&Probe::<$ty>::new()).tick_13(),
            (&&Probe::<$ty>::new()).tick_14(),
            (&&Probe::<$ty>::new()).tick_15(),
            (&&Probe::<$ty>::new()).tick_16(),
            (&&Probe::<$ty>::new()).tick_17(),
            (&&Probe::<$ty>::new()).tick_18(),
            (&&Probe::<$ty>::new()).tick_19(),
            (&&Probe::<$ty>::new()).tick_20(),
            (&&Probe::<$ty>::new()).tick_21(),
            (&&Probe::<$ty>::new()).tick_22(),
            (&&Probe::<$ty>::new()).tick_23(),
            (&&Probe::<$ty>::new()).tick_24(),
            (&&Probe::<$ty>::new()).tick_25(),
            (&&Probe::<$ty>::new()).tick_26(),
            (&&Probe::<$ty>::new()).tick_27(),
            (&&Probe::<$ty>::new()).tick_28(),
            (&&Probe::<$ty>::new()).tick_29(),
            (&&Probe::<$ty>::new()).tick_30(),
            (&&Probe::<$ty>::new()).tick_31(),
            (&&Probe::<$ty>::new()).tick_32(),
            (&&Probe::<$ty>::new()).tick_33(),
            (&&Probe::<$ty>::new()).tick_34(),
            (&&Probe::<$ty>::new()).tick_35(),
            (&&Probe::<$ty>::new()).tick_36(),
            (&&Probe::<$ty>::new()).tick_37(),
            (&&Probe::<$ty>::new()).tick_38(),
            (&&Probe::<$ty>::new()).tick_39(),
            (&&Probe::<$ty>::new()).tick_40(),
            (&&Probe::<$ty>::new()).tick_41(),
            (&&Probe::<$ty>::new()).tick_42(),
            (&&Probe::<$ty>::new()).tick_43(),
            (&&Probe::<$ty>::new()).tick_44(),
            (&&Probe::<$ty>::new()).tick_45(),
            (&&Probe::<$ty>::new()).tick_46(),
            (&&Probe::<$ty>::new()).tick_47(),
            (&&Probe::<$ty>::new()).tick_48(),
            (&&Probe::<$ty>::new()).tick_49(),
            (&&Probe::<$ty>::new()).tick_50(),
            (&&Probe::<$ty>::new()).tick_51(),
            (&&Probe::<$ty>::new()).tick_52(),
            (&&Probe::<$ty>::new()).tick_53(),
            (&&Probe::<$ty>::new()).tick_54(),
            (&&Probe::<$ty>::new()).tick_55(),
            (&&Probe::<$ty>::new()).tick_56(),
            (&&Probe::<$ty>::new()).tick_57(),
            (&&Probe::<$ty>::new()).tick_58(),
            (&&Probe::<$ty>::new()).tick_59(),
            (&&Probe::<$ty>::new()).tick_60(),
            (&&Probe::<$ty>::new()).tick_61(),
            (&&Probe::<$ty>::new()).tick_62(),
            (&&Probe::<$ty>::new()).tick_63(),
        ]
    }};
}

/// Whether a concrete config type has any tick handler: an `||` of
/// constants, so code behind it folds away in plugins without ticks.
#[doc(hidden)]
#[macro_export]
macro_rules! __has_ticks {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::tick::probe::*;
        false
            || (&&Probe::<$ty>::new()).tick_0().is_some()
            || (&&Probe::<$ty>::new()).tick_1().is_some()
            || (&&Probe::<$ty>::new()).tick_2().is_some()
            || (&&Probe::<$ty>::new()).tick_3().is_some()
            || (&&Probe::<$ty>::new()).tick_4().is_some()
            || (&&Probe::<$ty>::new()).tick_5().is_some()
            || (&&Probe::<$ty>::new()).tick_6().is_some()
            || (&&Probe::<$ty>::new()).tick_7().is_some()
            || (&&Probe::<$ty>::new()).tick_8().is_some()
            || (&&Probe::<$ty>::new()).tick_9().is_some()
            || (&&Probe::<$ty>::new()).tick_10().is_some()
            || (&&Probe::<$ty>::new()).tick_11().is_some()
            || (&&Probe::<$ty>::new()).tick_12().is_some()
            || (&&Probe::<$ty>::new()).tick_13().is_some()
            || (&&Probe::<$ty>::new()).tick_14().is_some()
            || (&&Probe::<$ty>::new()).tick_15().is_some()
            || (&&Probe::<$ty>::new()).tick_16().is_some()
            || (&&Probe::<$ty>::new()).tick_17().is_some()
            || (&&Probe::<$ty>::new()).tick_18().is_some()
            || (&&Probe::<$ty>::new()).tick_19().is_some()
            || (&&Probe::<$ty>::new()).tick_20().is_some()
            || (&&Probe::<$ty>::new()).tick_21().is_some()
            || (&&Probe::<$ty>::new()).tick_22().is_some()
            || (&&Probe::<$ty>::new()).tick_23().is_some()
            || (&&Probe::<$ty>::new()).tick_24().is_some()
            || (&&Probe::<$ty>::new()).tick_25().is_some()
            || (&&Probe::<$ty>::new()).tick_26().is_some()
            || (&&Probe::<$ty>::new()).tick_27().is_some()
            || (&&Probe::<$ty>::new()).tick_28().is_some()
            || (&&Probe::<$ty>::new()).tick_29().is_some()
            || (&&Probe::<$ty>::new()).tick_30().is_some()
            || (&&Probe::<$ty>::new()).tick_31().is_some()
            || (&&Probe::<$ty>::new()).tick_32().is_some()
            || (&&Probe::<$ty>::new()).tick_33().is_some()
            || (&&Probe::<$ty>::new()).tick_34().is_some()
            || (&&Probe::<$ty>::new()).tick_35().is_some()
            || (&&Probe::<$ty>::new()).tick_36().is_some()
            || (&&Probe::<$ty>::new()).tick_37().is_some()
            || (&&Probe::<$ty>::new()).tick_38().is_some()
            || (&&Probe::<$ty>::new()).tick_39().is_some()
            || (&&Probe::<$ty>::new()).tick_40().is_some()
            || (&&Probe::<$ty>::new()).tick_41().is_some()
            || (&&Probe::<$ty>::new()).tick_42().is_some()
            || (&&Probe::<$ty>::new()).tick_43().is_some()
            || (&&Probe::<$ty>::new()).tick_44().is_some()
            || (&&Probe::<$ty>::new()).tick_45().is_some()
            || (&&Probe::<$ty>::new()).tick_46().is_some()
            || (&&Probe::<$ty>::new()).tick_47().is_some()
            || (&&Probe::<$ty>::new()).tick_48().is_some()
            || (&&Probe::<$ty>::new()).tick_49().is_some()
            || (&&Probe::<$ty>::new()).tick_50().is_some()
            || (&&Probe::<$ty>::new()).tick_51().is_some()
            || (&&Probe::<$ty>::new()).tick_52().is_some()
            || (&&Probe::<$ty>::new()).tick_53().is_some()
            || (&&Probe::<$ty>::new()).tick_54().is_some()
            || (&&Probe::<$ty>::new()).tick_55().is_some()
            || (&&Probe::<$ty>::new()).tick_56().is_some()
            || (&&Probe::<$ty>::new()).tick_57().is_some()
            || (&&Probe::<$ty>::new()).tick_58().is_some()
            || (&&Probe::<$ty>::new()).tick_59().is_some()
            || (&&Probe::<$ty>::new()).tick_60().is_some()
            || (&&Probe::<$ty>::new()).tick_61().is_some()
            || (&&Probe::<$ty>::new()).tick_62().is_some()
            || (&&Probe::<$ty>::new()).tick_63().is_some()
    }};
}
