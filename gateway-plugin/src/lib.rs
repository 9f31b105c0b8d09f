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
// `pub` means public API: an item only the crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// Every `unsafe` block (the host ABI) says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

mod body;
mod callout;
pub mod cluster;
mod config;
mod context;
mod direction;
mod executor;
mod gjson;
pub mod host;
mod http_client;
pub mod ip;
mod logger;
#[cfg(feature = "mcp")]
pub mod mcp;
// Only what the `__` macros expand to (re-exported under `__private`).
#[doc(hidden)]
mod lookup;
mod metrics;
mod plugin;
pub mod query;
mod rebuild;
mod redis;
mod resp;
mod root;
mod rules;
mod stream;
#[cfg(feature = "template")]
pub mod template;
mod tick;

pub use config::ConfigError;
pub use context::HttpContext;
pub use gjson::{Gjson, Json};
pub use http_client::{
    HttpCall, HttpCallError, HttpClient, HttpResponse, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT,
};
pub use metrics::{Counter, Gauge, Histogram, MetricError};
pub use plugin::{Chunk, IntoChunk};
pub use proxy_wasm::types::Action;
pub use redis::{RedisArg, RedisCall, RedisClient, RedisCommand, RedisError, RedisOptions};
pub use resp::{RespError, RespValue};

// The attribute macros (their docs are on them, in gateway-plugin-macros).
pub use gateway_plugin_macros::{
    on_request_body, on_request_headers, on_response_body, on_response_headers, on_stream_done,
    on_tick, parse_config, parse_rule_config, plugin,
};

#[cfg(feature = "mcp")]
pub use gateway_plugin_macros::{mcp_server, mcp_tool};
#[cfg(feature = "mcp")]
pub use schemars;

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
    pub use crate::query::Query;
    pub use crate::{
        on_request_body, on_request_headers, on_response_body, on_response_headers, on_stream_done,
        on_tick, parse_config, parse_rule_config, plugin, Action, Chunk, ConfigError, Counter,
        Gauge, Gjson, Histogram, HttpCallError, HttpClient, HttpContext, HttpResponse, Json,
        MetricError, RedisArg, RedisClient, RedisError, RedisOptions, RespValue,
    };
    // `log::info!(..)` and bare `info!(..)` both work without a `log` dependency.
    pub use log::{self, debug, error, info, trace, warn};
    pub use serde::Deserialize;
    // So `#[parse_config] fn parse(json: &serde_json::Value)` reads as in the
    // docs without a `serde_json` dependency.
    pub use serde_json;
    // Several callouts at once: `future::zip(a.get(..), b.get(..)).await`.
    #[cfg(feature = "mcp")]
    pub use crate::{mcp_server, mcp_tool};
    pub use futures_lite::future;
    #[cfg(feature = "mcp")]
    pub use schemars::JsonSchema;
}

/// What generated code calls. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::body::into_chunk;
    pub use crate::callout::live_counts;
    pub use crate::config::{ParseConfig, ParseRuleConfig};
    pub use crate::executor::boxed_task;
    pub use crate::host::exports::start;
    pub use crate::plugin::{
        assert_plugin, into_action, BodyHandler, ChunkFuture, ChunkHandler, Handlers,
        HeadersHandler, IntoAction, IsHttpContext, OnRequestBody, OnRequestBodyStreaming,
        OnRequestHeaders, OnResponseBody, OnResponseBodyStreaming, OnResponseHeaders, OnStreamDone,
        Plugin,
    };
    pub use crate::rules::RuleSet;
    pub use crate::tick::{tick_context, OnTick, Tick, TickHandler, Ticks};
    pub use crate::{
        __handlers as handlers, __has_ticks as has_ticks, __may_have_rules as may_have_rules,
        __parse_config as parse_config, __parse_rules as parse_rules, __ticks as ticks,
    };
    pub use proxy_wasm;
    pub use serde;
    pub use serde_json;

    /// Config parsing: what `#[plugin]` and `#[parse_config]` expand to.
    pub mod config {
        pub use crate::config::{
            from_default, from_parse_fn, from_parse_rule_fn, from_serde, from_serde_or_default,
            from_serde_value, parse_json, ParseConfig, ParseRuleConfig,
        };
    }
    /// The compile-time handler lookup the `__` macros expand to.
    pub mod lookup {
        pub use crate::lookup::*;
    }
    /// The plugin API: the phase traits the attributes implement.
    pub mod plugin {
        pub use crate::plugin::*;
    }
    /// What `#[mcp_server]` and `#[mcp_tool]` expand to.
    #[cfg(feature = "mcp")]
    pub mod mcp {
        pub use crate::mcp::__private::*;
        pub use crate::mcp::{
            IntoToolResult, McpServer, Tool, ToolArguments, ToolCall, ToolFuture,
        };
    }
    /// `#[on_tick]`'s slots.
    pub mod tick {
        pub use crate::tick::*;
    }
}

#[cfg(test)]
mod tests {
    /// Every error type a plugin can meet is a plain `std` error: `?` into
    /// `Box<dyn Error + Send + Sync>` and `anyhow` work.
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}

    #[test]
    fn error_types_are_send_sync_static_errors() {
        is_error::<crate::ConfigError>();
        is_error::<crate::HttpCallError>();
        is_error::<crate::RedisError>();
        is_error::<crate::RespError>();
        is_error::<crate::MetricError>();
        is_error::<crate::host::HostError>();
    }
}
