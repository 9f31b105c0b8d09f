//! The one door to the gateway: every call into the host is in `imports.rs`
//! (as functions that never panic, returning a [`HostError`] for a status
//! other than `Ok`), every call the host makes into the plugin in
//! `exports.rs`, and the host calls' wire formats in `wire.rs`.
//!
//! The public functions here are the host calls a plugin may make itself
//! when [`HttpContext`](crate::HttpContext) has no method for what it needs.

pub(crate) mod exports;
mod imports;
mod wire;

pub use imports::{
    add_map_value, add_map_value_bytes, define_metric, gateway_name_property, get_buffer, get_map,
    get_map_value, get_map_value_bytes, get_map_with_bytes, get_metric, get_property,
    increment_metric, log, log_level, record_metric, remove_map_value, replace_map_value,
    replace_map_value_bytes, send_local_response, set_buffer, set_map, set_property,
    set_tick_period, HostError, MetricType,
};
pub use proxy_wasm::types::{BufferType, LogLevel, MapType};

pub(crate) use imports::{
    continue_stream, dispatch_http_call, dispatch_redis_call, get_map_bytes, get_redis_reply,
    point_sdk_at_root, redis_init, set_effective_context, StreamType,
};
pub(crate) use wire::{decode_pairs, encode_pairs, visit_pairs};
