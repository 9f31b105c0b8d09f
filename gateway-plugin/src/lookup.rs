//! The compile-time handler lookup: which phase, tick and configuration
//! functions a config type has, found without specialization.
//!
//! Each `#[on_*]` attribute implements a trait for the config type (`On*`
//! in `plugin.rs`, `OnTick<SLOT>` in `tick.rs`, `ParseConfig` in
//! `config.rs`). The `__` macros below, expanded in the plugin's crate for
//! the concrete type, call a method on `&&Probe<C>`: autoderef picks the
//! impl on `&Probe<C>` when the trait is implemented (the handler), else
//! the one on `Probe<C>` (none). The configuration sources are tiers of
//! the same trick, deeper references first: `#[parse_config]`, serde with
//! `Default`, serde, `Default` alone, and none (an error that says what to
//! do). Every answer is a constant, so a phase without a handler costs
//! nothing at run time.

pub use crate::config::probe::{ConfigSource, NoConfigSource};
use crate::config::{
    from_default, from_serde, from_serde_or_default, from_serde_value, is_blank, parse_json,
    ConfigError, ParseConfig, ParseRuleConfig, ParseRuleFn,
};
use crate::plugin::{
    BodyHandler, ChunkHandler, HeadersHandler, OnRequestBody, OnRequestBodyStreaming,
    OnRequestHeaders, OnResponseBody, OnResponseBodyStreaming, OnResponseHeaders, OnStreamDone,
};
use crate::rules::{self, RuleSet};
use crate::tick::{OnTick, Tick};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// What the lookup's methods are called on, behind enough references for
/// every tier.
pub struct Probe<C>(PhantomData<C>);

impl<C> Probe<C> {
    #[allow(clippy::new_without_default)]
    #[inline(always)]
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

/// Two-tier lookups: `$has` answers `$found` for a type with `$bound`, `$none`
/// answers `$missing` for any other.
macro_rules! probe {
    ($($has:ident / $none:ident: fn $method:ident() -> $ty:ty,
        where C: $bound:path => $found:expr, else $missing:expr;)*) => {$(
        pub trait $has<C> {
            fn $method(&self) -> $ty;
        }
        impl<C: $bound> $has<C> for &Probe<C> {
            #[inline(always)]
            fn $method(&self) -> $ty {
                $found
            }
        }
        pub trait $none<C> {
            fn $method(&self) -> $ty;
        }
        impl<C> $none<C> for Probe<C> {
            #[inline(always)]
            fn $method(&self) -> $ty {
                $missing
            }
        }
    )*};
}

// ---- phases: `__handlers!` ----------------------------------------------------

probe! {
    HasRequestHeaders / NoRequestHeaders: fn request_headers() -> Option<HeadersHandler<C>>,
        where C: OnRequestHeaders => Some(C::HANDLER), else None;
    HasRequestBody / NoRequestBody: fn request_body() -> Option<BodyHandler<C>>,
        where C: OnRequestBody => Some(C::HANDLER), else None;
    HasResponseHeaders / NoResponseHeaders: fn response_headers() -> Option<HeadersHandler<C>>,
        where C: OnResponseHeaders => Some(C::HANDLER), else None;
    HasResponseBody / NoResponseBody: fn response_body() -> Option<BodyHandler<C>>,
        where C: OnResponseBody => Some(C::HANDLER), else None;
    HasRequestChunk / NoRequestChunk: fn request_chunk() -> Option<ChunkHandler<C>>,
        where C: OnRequestBodyStreaming => Some(C::HANDLER), else None;
    HasResponseChunk / NoResponseChunk: fn response_chunk() -> Option<ChunkHandler<C>>,
        where C: OnResponseBodyStreaming => Some(C::HANDLER), else None;
    HasStreamDone / NoStreamDone: fn stream_done() -> Option<HeadersHandler<C>>,
        where C: OnStreamDone => Some(C::HANDLER), else None;

    HasRequestBodyBinary / NoRequestBodyBinary: fn request_body_binary() -> bool,
        where C: OnRequestBody => C::BINARY, else false;
    HasRequestChunkBinary / NoRequestChunkBinary: fn request_chunk_binary() -> bool,
        where C: OnRequestBodyStreaming => C::BINARY, else false;
    HasResponseBodyBinary / NoResponseBodyBinary: fn response_body_binary() -> bool,
        where C: OnResponseBody => C::BINARY, else false;
    HasResponseChunkBinary / NoResponseChunkBinary: fn response_chunk_binary() -> bool,
        where C: OnResponseBodyStreaming => C::BINARY, else false;

    HasRequestBodyHold / NoRequestBodyHold: fn request_body_hold() -> bool,
        where C: OnRequestBody => C::HOLD_HEADERS, else false;
    HasRequestChunkHold / NoRequestChunkHold: fn request_chunk_hold() -> bool,
        where C: OnRequestBodyStreaming => C::HOLD_HEADERS, else false;
    HasResponseBodyHold / NoResponseBodyHold: fn response_body_hold() -> bool,
        where C: OnResponseBody => C::HOLD_HEADERS, else false;
    HasResponseChunkHold / NoResponseChunkHold: fn response_chunk_hold() -> bool,
        where C: OnResponseBodyStreaming => C::HOLD_HEADERS, else false;
}

/// The `Handlers` of a concrete config type.
#[doc(hidden)]
#[macro_export]
macro_rules! __handlers {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::lookup::*;
        $crate::__private::Handlers::<$ty> {
            request_headers: (&&Probe::<$ty>::new()).request_headers(),
            request_body: (&&Probe::<$ty>::new()).request_body(),
            request_chunk: (&&Probe::<$ty>::new()).request_chunk(),
            response_headers: (&&Probe::<$ty>::new()).response_headers(),
            response_body: (&&Probe::<$ty>::new()).response_body(),
            response_chunk: (&&Probe::<$ty>::new()).response_chunk(),
            stream_done: (&&Probe::<$ty>::new()).stream_done(),
            binary: [
                (&&Probe::<$ty>::new()).request_body_binary()
                    || (&&Probe::<$ty>::new()).request_chunk_binary(),
                (&&Probe::<$ty>::new()).response_body_binary()
                    || (&&Probe::<$ty>::new()).response_chunk_binary(),
            ],
            hold_headers: [
                (&&Probe::<$ty>::new()).request_body_hold()
                    || (&&Probe::<$ty>::new()).request_chunk_hold(),
                (&&Probe::<$ty>::new()).response_body_hold()
                    || (&&Probe::<$ty>::new()).response_chunk_hold(),
            ],
        }
    }};
}

// ---- ticks: `__ticks!`, `__has_ticks!` ------------------------------------------

/// One lookup per tick slot (`tick_N` finds `OnTick<N>`).
macro_rules! tick_slots {
    ($(($has:ident, $none:ident, $method:ident, $slot:literal),)*) => {
        probe! {$(
            $has / $none: fn $method() -> Option<Tick<C>>,
                where C: OnTick<$slot> => Some(<C as OnTick<$slot>>::TICK), else None;
        )*}
    };
}

tick_slots! {
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

/// The tick handlers of a concrete config type, by slot.
#[doc(hidden)]
#[macro_export]
macro_rules! __ticks {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::lookup::*;
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
        use $crate::__private::lookup::*;
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

// ---- configuration sources: `__parse_config!`, `__parse_rules!` -------------------

/// One tier of configuration source: `$tier` is implemented for `$probe`
/// (its depth of references is its rank) when `C` has `$bounds`. The last
/// tier, none, is `config::probe::NoConfigSource`.
macro_rules! config_sources {
    ($($(#[$doc:meta])* $tier:ident for $probe:ty, where C: [$($bounds:tt)*];
        may_have_rules: $rules:expr;
        parse_config($raw:ident) $parse:block
        parse_rules($rules_raw:ident, $rule:pat, $merge:pat) $parse_rules:block
    )*) => {$(
        $(#[$doc])*
        pub trait $tier<C> {
            fn parse_config(&self, raw: &[u8]) -> Result<C, ConfigError>;
            /// Whether the configuration may hold `_rules_` (constant per type).
            fn may_have_rules(&self) -> bool;
            fn parse_rules(
                &self,
                raw: &[u8],
                rule: Option<ParseRuleFn<C>>,
                merge: bool,
            ) -> Result<RuleSet<C>, ConfigError>;
        }
        impl<C: $($bounds)*> $tier<C> for $probe {
            #[inline(always)]
            fn may_have_rules(&self) -> bool {
                $rules
            }
            fn parse_config(&self, $raw: &[u8]) -> Result<C, ConfigError>
            $parse
            fn parse_rules(
                &self,
                $rules_raw: &[u8],
                $rule: Option<ParseRuleFn<C>>,
                $merge: bool,
            ) -> Result<RuleSet<C>, ConfigError>
            $parse_rules
        }
    )*};
}

config_sources! {
    /// A `#[parse_config]` function.
    ViaParseFn for &&&&Probe<C>, where C: [ParseConfig];
        may_have_rules: true;
        parse_config(raw) { C::parse_config(&parse_json(raw)?) }
        parse_rules(raw, rule, merge) { rules::parse_merging(raw, C::parse_config, rule, merge) }

    /// serde, an empty configuration meaning `Default`.
    ViaSerdeOrDefault for &&&Probe<C>, where C: [DeserializeOwned + Default];
        may_have_rules: true;
        parse_config(raw) { from_serde_or_default(raw) }
        parse_rules(raw, rule, merge) {
            match is_blank(raw) {
                true => Ok(RuleSet::global(C::default())),
                false => rules::parse_merging(raw, from_serde_value::<C>, rule, merge),
            }
        }

    /// serde.
    ViaSerde for &&Probe<C>, where C: [DeserializeOwned];
        may_have_rules: true;
        parse_config(raw) { from_serde(raw) }
        parse_rules(raw, rule, merge) { rules::parse_merging(raw, from_serde_value::<C>, rule, merge) }

    /// `Default` alone: a plugin that takes no configuration, and no
    /// `_rules_` either (no JSON parser here, so it stays small).
    ViaDefault for &Probe<C>, where C: [Default];
        may_have_rules: false;
        parse_config(raw) { from_default(raw) }
        parse_rules(raw, _rule, _merge) { from_default(raw).map(RuleSet::global) }
}

/// No source: the `ConfigSource` bound (which no type meets) reports the
/// one error, naming what to do.
impl<C> NoConfigSource<C> for Probe<C> {
    type Rules = RuleSet<C>;
    fn may_have_rules(&self) -> bool {
        false
    }
    fn parse_config(&self, _raw: &[u8]) -> Result<C, ConfigError>
    where
        C: ConfigSource,
    {
        unreachable!("ConfigSource has no implementations")
    }
    fn parse_rules(
        &self,
        _raw: &[u8],
        _rule: Option<ParseRuleFn<C>>,
        _merge: bool,
    ) -> Result<RuleSet<C>, ConfigError>
    where
        C: ConfigSource,
    {
        unreachable!("ConfigSource has no implementations")
    }
}

probe! {
    /* A `#[parse_rule_config]` function, if the type has one. */
    HasRuleParser / NoRuleParser: fn rule_parser() -> Option<ParseRuleFn<C>>,
        where C: ParseRuleConfig => Some(C::parse_rule_config), else None;
}

/// Picks the configuration source of a concrete type (autoderef
/// specialization: the first tier whose bounds hold wins).
#[doc(hidden)]
#[macro_export]
macro_rules! __parse_config {
    ($ty:ty, $raw:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::lookup::{
            NoConfigSource as _, ViaDefault as _, ViaParseFn as _, ViaSerde as _,
            ViaSerdeOrDefault as _,
        };
        (&&&&&$crate::__private::lookup::Probe::<$ty>::new()).parse_config($raw)
    }};
}

/// Whether a concrete type's configuration may hold `_rules_`: not for a
/// plugin that takes no configuration, whose `.wasm` then carries no matcher.
#[doc(hidden)]
#[macro_export]
macro_rules! __may_have_rules {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::lookup::{
            NoConfigSource as _, ViaDefault as _, ViaParseFn as _, ViaSerde as _,
            ViaSerdeOrDefault as _,
        };
        (&&&&&$crate::__private::lookup::Probe::<$ty>::new()).may_have_rules()
    }};
}

/// Parses the configuration of a concrete type with its `_rules_`.
#[doc(hidden)]
#[macro_export]
macro_rules! __parse_rules {
    ($ty:ty, $raw:expr, $merge:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::lookup::{
            HasRuleParser as _, NoConfigSource as _, NoRuleParser as _, ViaDefault as _,
            ViaParseFn as _, ViaSerde as _, ViaSerdeOrDefault as _,
        };
        let rule = (&&$crate::__private::lookup::Probe::<$ty>::new()).rule_parser();
        (&&&&&$crate::__private::lookup::Probe::<$ty>::new()).parse_rules($raw, rule, $merge)
    }};
}
