//! Write HTTP plugins for proxy-wasm gateways (Higress, Envoy) as annotated
//! Rust functions.
//!
//! ```no_run
//! use gateway_plugin::prelude::*;
//!
//! #[plugin(name = "my-plugin")]
//! #[derive(Deserialize, Default)]
//! #[serde(rename_all = "camelCase")]
//! pub struct MyConfig {
//!     #[serde(default)]
//!     mock_enable: bool,
//! }
//!
//! #[on_request_headers]
//! fn on_request_headers(ctx: &mut HttpContext, config: &MyConfig) -> Action {
//!     ctx.add_request_header("hello", "world");
//!     if config.mock_enable {
//!         return ctx.send_response(200, &[], b"hello world");
//!     }
//!     Action::Continue
//! }
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip1 --release` and load the
//! `.wasm` into Envoy's or Higress's Wasm filter; see the README.
//!
//! - [`plugin`](macro@plugin) marks the configuration type and generates the
//!   proxy-wasm entry point, the root context and the HTTP context.
//! - [`on_request_headers`](macro@on_request_headers),
//!   [`on_request_body`](macro@on_request_body),
//!   [`on_response_headers`](macro@on_response_headers),
//!   [`on_response_body`](macro@on_response_body) and
//!   [`on_stream_done`](macro@on_stream_done) mark the phase handlers; the
//!   body ones take the whole body or, with `(streaming)`, each chunk as it
//!   arrives ([`Chunk`]).
//! - [`parse_config`](macro@parse_config) replaces serde for the config.
//! - [`HttpContext`] is what a handler sees of the stream.
//! - Logging is the `log` crate's macros; lines reach the gateway log as
//!   `[my-plugin] message`, at the gateway's log level.

#![warn(missing_docs)]

mod body;
pub mod cluster;
pub mod config;
mod context;
mod executor;
mod gjson;
pub mod host;
mod http_client;
mod logger;
mod metrics;
#[doc(hidden)]
pub mod plugin;
mod redis;
pub mod resp;
mod rules;
pub mod tick;

pub use body::{Chunk, IntoChunk};
pub use config::ConfigError;
pub use context::HttpContext;
pub use executor::live_counts;
pub use gjson::{Gjson, Json};
pub use http_client::{HttpCall, HttpCallError, HttpClient, HttpResponse, DEFAULT_TIMEOUT};
pub use metrics::{Counter, Gauge, Histogram, MetricError};
pub use proxy_wasm::types::Action;
pub use redis::{RedisCall, RedisClient, RedisError, RedisOptions};
pub use resp::{RespError, RespValue};

/// Marks the plugin's configuration type and generates the plugin.
///
/// `#[plugin(name = "my-plugin")]` goes on a struct or enum, before its
/// `#[derive(..)]`. The configuration comes from the gateway as JSON:
///
/// - with a [`parse_config`](macro@parse_config) function, that function
///   builds it;
/// - else with `#[derive(Deserialize)]`, serde does (an empty configuration is
///   `Default::default()` where the type implements `Default`);
/// - else a type that only implements `Default` is a plugin without
///   configuration.
///
/// A configuration that does not fit is refused when the gateway loads it,
/// with `[my-plugin] invalid configuration at <field>: <reason>` in its log.
/// The `Deserialize` derive needs no `serde` dependency of the plugin crate.
///
/// Where the crate is not a direct dependency named `gateway_plugin` (a
/// renamed dependency, `gw = { package = "gateway-plugin", .. }`, or a
/// company crate that re-exports it), every attribute takes
/// `crate = path`, as serde's and tokio's do:
/// `#[plugin(name = "x", crate = gw)]`, `#[on_request_headers(crate = gw)]`,
/// `#[parse_config(crate = "my_company::gateway")]`.
pub use gateway_plugin_macros::plugin;

/// Marks the request-headers handler: `fn(ctx: &mut HttpContext, config: &C) -> Action`.
pub use gateway_plugin_macros::on_request_headers;

/// Marks a request-body handler, whole-body or streaming.
///
/// **Whole body**: `fn(ctx: &mut HttpContext, config: &C, body: &[u8]) -> Action`
/// (or `async fn`). The gateway buffers the whole request body; the handler
/// runs once, at its end (last chunk or trailers), and may read, replace,
/// append or prepend the body. Requests without a body never call it.
///
/// **Streaming**: `#[on_request_body(streaming)]` on
/// `fn(ctx: &mut HttpContext, config: &C, chunk: &[u8], end_of_stream: bool) -> Vec<u8>`
/// (or `-> Chunk`, `String`; or `async fn`): called for each chunk as it
/// arrives; what it returns goes on in its place at once (`Chunk::Pass`:
/// unchanged, no copy). `end_of_stream` is true on exactly one call, the
/// last (an empty chunk when the body ends with trailers: what that call
/// returns is added only while chunks are held, else dropped with a
/// warning, as the gateway keeps no body to add to). An `async`
/// handler that awaits holds its chunk and every later one; they reach it
/// in order afterwards, and the body's end does not go on before them.
///
/// A plugin may have both kinds for one phase: streaming is used unless a
/// headers handler calls [`HttpContext::buffer_request_body`] for the
/// stream. With only a streaming handler, `buffer_request_body` runs it
/// once, with the whole body.
///
/// **Binary bodies** are passed on untouched, as Higress's Go SDK does: a
/// `content-type` with `octet-stream` or `grpc`, any `content-encoding`,
/// or a WebSocket upgrade. `#[on_request_body(binary)]` (also
/// `(streaming, binary)`) lets them reach the handler.
///
/// The request headers have gone on by then: Envoy's proxy-wasm host turns
/// a header pause into a full stop that also holds the body back, so header
/// changes belong in `#[on_request_headers]`, unless the handler is marked
/// `hold_headers` (`#[on_request_body(hold_headers)]`): the headers then
/// wait, still changeable, until the body handler returns. That needs a
/// gateway that lets a plugin hold headers while the body comes (Higress;
/// Envoy 1.35+ with `allow_on_headers_stop_iteration: true`); on one that
/// does not, the plugin's log says so once and the headers go first again.
/// Because the body may change length, the framework removes
/// `content-length` from requests whose body it reads; the body then travels
/// chunked.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_request_body(streaming)]
/// fn upper(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8], _end: bool) -> Vec<u8> {
///     chunk.to_ascii_uppercase()
/// }
/// ```
pub use gateway_plugin_macros::on_request_body;

/// Marks the response-headers handler: `fn(ctx: &mut HttpContext, config: &C) -> Action`.
pub use gateway_plugin_macros::on_response_headers;

/// Marks a response-body handler, whole-body or streaming: the same forms
/// and options as [`on_request_body`](macro@on_request_body)
/// (`#[on_response_body(streaming)]`, `binary`), for the response; the
/// response headers have gone to the client by then.
///
/// A streaming handler is how a plugin reads or rewrites an LLM's
/// server-sent events as they stream, each going on as soon as it returns:
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_response_body(streaming)]
/// fn count_events(ctx: &mut HttpContext, _config: &Config, chunk: &[u8], end: bool) -> Chunk {
///     let events = ctx.get::<usize>().copied().unwrap_or(0);
///     let events = events + chunk.windows(2).filter(|w| w == b"\n\n").count();
///     if end {
///         info!("{events} events");
///     }
///     ctx.set(events);
///     Chunk::Pass
/// }
/// ```
pub use gateway_plugin_macros::on_response_body;

/// Marks the handler that runs when the stream is done (the log phase):
/// `fn(ctx: &mut HttpContext, config: &C)`, with or without `-> Action`
/// (the action is ignored: there is nothing left to continue).
pub use gateway_plugin_macros::on_stream_done;

/// Marks the function that builds the config from the gateway's JSON:
/// `fn(json: &serde_json::Value) -> Result<C, E>` with `E: Display`. Its
/// error is logged as `[my-plugin] invalid configuration: <error>`.
pub use gateway_plugin_macros::parse_config;

/// Marks the function that builds a rule's config (Higress's `_rules_`)
/// from the rule's JSON and the global config, as Go's
/// `ParseOverrideConfig`: `fn(json: &serde_json::Value, global: &C) ->
/// Result<C, E>` with `E: Display`. Without one, a rule is parsed alone by
/// the plugin's parser. A rule's error names it: `[my-plugin] invalid
/// configuration at _rules_[0]: <error>`.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// use gateway_plugin::serde_json::Value;
///
/// #[plugin(name = "key-auth")]
/// pub struct KeyAuth {
///     consumers: Vec<String>, // global only
///     allow: Vec<String>,     // per route
/// }
///
/// fn names(json: &Value, key: &str) -> Vec<String> {
///     let list = json[key].as_array().map(Vec::as_slice).unwrap_or_default();
///     list.iter().filter_map(|v| v.as_str().map(String::from)).collect()
/// }
///
/// #[parse_config]
/// fn parse(json: &Value) -> Result<KeyAuth, String> {
///     Ok(KeyAuth { consumers: names(json, "consumers"), allow: Vec::new() })
/// }
///
/// #[parse_rule_config]
/// fn parse_rule(json: &Value, global: &KeyAuth) -> Result<KeyAuth, String> {
///     if json.get("consumers").is_some() {
///         return Err("consumers are configured globally, not per rule".into());
///     }
///     Ok(KeyAuth { consumers: global.consumers.clone(), allow: names(json, "allow") })
/// }
/// ```
pub use gateway_plugin_macros::parse_rule_config;

/// Marks a function the root context's timer runs every `period_ms` with the
/// global config, as Go's `RegisterTickFunc`: `fn(config: &C)` or `async
/// fn(config: &C)` (which may await callouts, made on behalf of the root).
/// Several handlers with different periods share the host's one timer; each
/// runs on the first tick, then every `period_ms`; an async run still
/// waiting makes its next turns skip, not stack. (Handlers are told apart by
/// their function's name: two whose names land on the same one of the 64
/// slots are refused as conflicting implementations of `OnTick`; rename one.)
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "refresher")]
/// #[derive(Deserialize, Default)]
/// pub struct Config {}
///
/// #[on_tick(period_ms = 1000)]
/// fn every_second(_config: &Config) {
///     debug!("tick");
/// }
/// ```
pub use gateway_plugin_macros::on_tick;

pub use futures_lite;
pub use log;
pub use proxy_wasm;
pub use serde;
pub use serde_json;

/// Everything a plugin needs: `use gateway_plugin::prelude::*;`.
pub mod prelude {
    pub use crate::cluster::{
        Cluster, ConsulCluster, DnsCluster, FqdnCluster, K8sCluster, NacosCluster, RouteCluster,
        StaticIpCluster, TargetCluster,
    };
    pub use crate::{
        on_request_body, on_request_headers, on_response_body, on_response_headers, on_stream_done,
        on_tick, parse_config, parse_rule_config, plugin, Action, Chunk, ConfigError, Counter,
        Gauge, Gjson, Histogram, HttpCallError, HttpClient, HttpContext, HttpResponse, MetricError,
        RedisClient, RedisError, RedisOptions, RespValue,
    };
    // `log::info!(..)` and bare `info!(..)` both work without a `log` dependency.
    pub use log::{self, debug, error, info, trace, warn};
    pub use serde::Deserialize;
    // So `#[parse_config] fn parse(json: &serde_json::Value)` reads as in the
    // docs without a `serde_json` dependency.
    pub use serde_json;
    // Several callouts at once: `future::zip(a.get(..), b.get(..)).await`.
    pub use futures_lite::future;
}

/// What generated code calls. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::body::{into_chunk, ChunkFuture, ChunkHandler};
    pub use crate::config;
    pub use crate::config::{ParseConfig, ParseRuleConfig};
    pub use crate::executor::boxed_task;
    pub use crate::plugin;
    pub use crate::plugin::{
        assert_plugin, into_action, start, BodyHandler, Handlers, HeadersHandler, IntoAction,
        IsHttpContext, OnRequestBody, OnRequestBodyStreaming, OnRequestHeaders, OnResponseBody,
        OnResponseBodyStreaming, OnResponseHeaders, OnStreamDone, Plugin,
    };
    pub use crate::rules::RuleSet;
    pub use crate::tick;
    pub use crate::tick::{tick_context, OnTick, Tick, TickHandler, Ticks};
    pub use crate::{
        __handlers as handlers, __has_ticks as has_ticks, __may_have_rules as may_have_rules,
        __parse_config as parse_config, __parse_rules as parse_rules, __ticks as ticks,
    };
    pub use proxy_wasm;
    pub use serde;
    pub use serde_json;
}
