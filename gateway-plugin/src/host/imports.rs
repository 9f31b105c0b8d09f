//! Every call into the host: the proxy-wasm ABI 0.2.1 imports (and
//! Higress's Redis ones), as functions that never panic.
//!
//! `proxy_wasm::hostcalls` panics on any status it does not expect (and on a
//! header value that is not UTF-8), and a panic in Wasm kills the whole VM with
//! every request on it. This module declares the same imports itself, reads the
//! status as a plain `u32`, and turns every failure into a [`HostError`]. Two
//! calls go through the `proxy-wasm` SDK on purpose: an HTTP callout (only the
//! SDK's call records its token in the SDK's table) and pointing the SDK's
//! "current context" at a root (its own export, `proxy_on_queue_ready`).

use super::wire::{
    bytes_to_string, decode_pairs, decode_pairs_bytes, encode_pairs, encode_property_path,
};
use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::fmt;
use std::ptr::null_mut;
use std::time::Duration;

/// A host call answered with a status other than `Ok`.
///
/// The codes are the ABI's (`WasmResult` in Envoy): 1 not found, 2 bad
/// argument, 3 serialization failure, 4 parse failure, 7 empty, 8 CAS
/// mismatch, 10 internal failure, 12 unimplemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    /// The host call that failed, e.g. `proxy_add_header_map_value`.
    pub call: &'static str,
    /// The raw status the host returned.
    pub status: u32,
}

impl HostError {
    /// The ABI's name for the status, e.g. `BadArgument`.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            1 => "NotFound",
            2 => "BadArgument",
            3 => "SerializationFailure",
            4 => "ParseFailure",
            7 => "Empty",
            8 => "CasMismatch",
            10 => "InternalFailure",
            12 => "Unimplemented",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed with status {} ({})",
            self.call,
            self.status,
            self.status_name()
        )
    }
}

impl std::error::Error for HostError {}

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

/// Which stream `proxy_continue_stream` resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum StreamType {
    HttpRequest = 0,
    HttpResponse = 1,
}

#[cfg_attr(target_arch = "wasm32", link(wasm_import_module = "env"))]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_set_header_map_pairs(map_type: u32, map_data: *const u8, map_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    // Higress's Redis extension (higress-group/proxy-wasm-go-sdk,
    // proxywasm/internal/abi_hostcalls.go).
    fn proxy_redis_init(
        cluster_data: *const u8,
        cluster_size: usize,
        username_data: *const u8,
        username_size: usize,
        password_data: *const u8,
        password_size: usize,
        timeout_ms: u32,
    ) -> u32;
    fn proxy_redis_call(
        cluster_data: *const u8,
        cluster_size: usize,
        query_data: *const u8,
        query_size: usize,
        return_token: *mut u32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_get_metric(metric_id: u32, return_value: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

/// The kinds of metric (`MetricType` in the ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// Only goes up.
    Counter = 0,
    /// Goes up and down.
    Gauge = 1,
    /// A distribution of recorded values.
    Histogram = 2,
}

/// Sets the current root context's tick period (0: no ticks).
pub fn set_tick_period(period_ms: u32) -> Result<(), HostError> {
    // SAFETY: a plain value.
    check("proxy_set_tick_period_milliseconds", unsafe {
        proxy_set_tick_period_milliseconds(period_ms)
    })
}

/// Defines a metric (or finds the one of that name); its id.
pub fn define_metric(kind: MetricType, name: &str) -> Result<u32, HostError> {
    let mut id = 0;
    // SAFETY: the name is a live slice; `id` outlives the call.
    let status = unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) };
    check("proxy_define_metric", status).map(|()| id)
}

/// Adds `offset` to a counter (positive) or gauge.
pub fn increment_metric(id: u32, offset: i64) -> Result<(), HostError> {
    // SAFETY: plain values.
    check("proxy_increment_metric", unsafe {
        proxy_increment_metric(id, offset)
    })
}

/// Sets a gauge, records a histogram value, or adds to a counter.
pub fn record_metric(id: u32, value: u64) -> Result<(), HostError> {
    // SAFETY: plain values.
    check("proxy_record_metric", unsafe {
        proxy_record_metric(id, value)
    })
}

/// A metric's value.
pub fn get_metric(id: u32) -> Result<u64, HostError> {
    let mut value = 0;
    // SAFETY: `value` outlives the call.
    let status = unsafe { proxy_get_metric(id, &mut value) };
    check("proxy_get_metric", status).map(|()| value)
}

fn check(call: &'static str, status: u32) -> Result<(), HostError> {
    if status == OK {
        Ok(())
    } else {
        Err(HostError { call, status })
    }
}

/// Takes ownership of a buffer the host allocated through
/// `proxy_on_memory_allocate` (the `proxy-wasm` crate's allocator, which hands
/// out a boxed slice of exactly `size` bytes).
///
/// # Safety
/// `data` must be null or come from `proxy_on_memory_allocate(size)`.
unsafe fn take_host_bytes(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

/// Writes a message to the host log.
pub fn log(level: LogLevel, message: &str) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_log", unsafe {
        proxy_log(level as u32, message.as_ptr(), message.len())
    })
}

/// The host's current log level for this plugin.
pub fn log_level() -> Result<LogLevel, HostError> {
    let mut level = 0u32;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_get_log_level", unsafe {
        proxy_get_log_level(&mut level)
    })?;
    Ok(match level {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        4 => LogLevel::Error,
        _ => LogLevel::Critical,
    })
}

/// Reads `max_size` bytes from `start` of a host buffer; `Ok(None)` when the
/// host has no such buffer.
pub fn get_buffer(
    buffer_type: BufferType,
    start: usize,
    max_size: usize,
) -> Result<Option<Vec<u8>>, HostError> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    let status = unsafe {
        proxy_get_buffer_bytes(buffer_type as u32, start, max_size, &mut data, &mut size)
    };
    match status {
        OK if data.is_null() => Ok(None),
        // SAFETY: the host wrote `size` bytes at `data`, allocated with this
        // module's allocator (`proxy_on_memory_allocate`), and handed them over.
        OK => Ok(Some(unsafe { take_host_bytes(data, size) })),
        NOT_FOUND => Ok(None),
        status => Err(HostError {
            call: "proxy_get_buffer_bytes",
            status,
        }),
    }
}

/// Replaces `size` bytes at `start` of a host buffer with `value`.
pub fn set_buffer(
    buffer_type: BufferType,
    start: usize,
    size: usize,
    value: &[u8],
) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_set_buffer_bytes", unsafe {
        proxy_set_buffer_bytes(buffer_type as u32, start, size, value.as_ptr(), value.len())
    })
}

/// Every entry of a header map, in the host's order. Lossy: values that
/// are not UTF-8 get U+FFFD (see [`get_map_with_bytes`]).
pub fn get_map(map_type: MapType) -> Result<Vec<(String, String)>, HostError> {
    let bytes = get_map_bytes(map_type)?;
    decode_pairs(&bytes).ok_or(HostError {
        call: "proxy_get_header_map_pairs",
        status: 3,
    })
}

/// A header map as the host encodes it (see [`decode_pairs`]).
pub(crate) fn get_map_bytes(map_type: MapType) -> Result<Vec<u8>, HostError> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_get_header_map_pairs", unsafe {
        proxy_get_header_map_pairs(map_type as u32, &mut data, &mut size)
    })?;
    // SAFETY: the host wrote `size` bytes at `data`, allocated with this
    // module's allocator (`proxy_on_memory_allocate`), and handed them over.
    Ok(unsafe { take_host_bytes(data, size) })
}

/// Every entry of a header map, values byte for byte.
pub fn get_map_with_bytes(map_type: MapType) -> Result<Vec<(String, Vec<u8>)>, HostError> {
    let bytes = get_map_bytes(map_type)?;
    decode_pairs_bytes(&bytes).ok_or(HostError {
        call: "proxy_get_header_map_pairs",
        status: 3,
    })
}

/// Replaces a whole header map.
pub fn set_map(map_type: MapType, map: &[(&str, &str)]) -> Result<(), HostError> {
    let bytes = encode_pairs(map);
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_set_header_map_pairs", unsafe {
        proxy_set_header_map_pairs(map_type as u32, bytes.as_ptr(), bytes.len())
    })
}

/// One header's value; `Ok(None)` when it is absent. Lossy: bytes that are
/// not UTF-8 become U+FFFD (see [`get_map_value_bytes`]).
pub fn get_map_value(map_type: MapType, key: &str) -> Result<Option<String>, HostError> {
    Ok(get_map_value_bytes(map_type, key)?.map(bytes_to_string))
}

/// One header's value, byte for byte; `Ok(None)` when it is absent.
pub fn get_map_value_bytes(map_type: MapType, key: &str) -> Result<Option<Vec<u8>>, HostError> {
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    let status = unsafe {
        proxy_get_header_map_value(
            map_type as u32,
            key.as_ptr(),
            key.len(),
            &mut data,
            &mut size,
        )
    };
    match status {
        // SAFETY: the host wrote `size` bytes at `data`, allocated with this
        // module's allocator (`proxy_on_memory_allocate`), and handed them over.
        OK => Ok(Some(unsafe { take_host_bytes(data, size) })),
        NOT_FOUND => Ok(None),
        status => Err(HostError {
            call: "proxy_get_header_map_value",
            status,
        }),
    }
}

/// Sets a header, replacing every value it had.
pub fn replace_map_value(map_type: MapType, key: &str, value: &str) -> Result<(), HostError> {
    replace_map_value_bytes(map_type, key, value.as_bytes())
}

/// [`replace_map_value`] with a value of any bytes.
pub fn replace_map_value_bytes(
    map_type: MapType,
    key: &str,
    value: &[u8],
) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_replace_header_map_value", unsafe {
        proxy_replace_header_map_value(
            map_type as u32,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// Removes every value of a header.
pub fn remove_map_value(map_type: MapType, key: &str) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_remove_header_map_value", unsafe {
        proxy_remove_header_map_value(map_type as u32, key.as_ptr(), key.len())
    })
}

/// Adds a value to a header, keeping the values it had.
pub fn add_map_value(map_type: MapType, key: &str, value: &str) -> Result<(), HostError> {
    add_map_value_bytes(map_type, key, value.as_bytes())
}

/// [`add_map_value`] with a value of any bytes.
pub fn add_map_value_bytes(map_type: MapType, key: &str, value: &[u8]) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_add_header_map_value", unsafe {
        proxy_add_header_map_value(
            map_type as u32,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// A host property such as `["route_name"]` or `["request", "path"]`;
/// `Ok(None)` when the host has no value for it.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
    let path = encode_property_path(path);
    let mut data = null_mut();
    let mut size = 0;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    let status = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    match status {
        OK if data.is_null() => Ok(None),
        // SAFETY: the host wrote `size` bytes at `data`, allocated with this
        // module's allocator (`proxy_on_memory_allocate`), and handed them over.
        OK => Ok(Some(unsafe { take_host_bytes(data, size) })),
        NOT_FOUND => Ok(None),
        status => Err(HostError {
            call: "proxy_get_property",
            status,
        }),
    }
}

/// A property Higress sets under `name` (`route_name`, `cluster_name`) and
/// upstream Envoy only under `xds.<name>` (checked on Envoy 1.40, where the
/// plain one is empty at request headers): the first that is not empty, as
/// text; empty if neither is.
pub fn gateway_name_property(name: &str) -> String {
    for path in [&[name][..], &["xds", name][..]] {
        match get_property(path) {
            Ok(Some(value)) if !value.is_empty() => {
                return String::from_utf8_lossy(&value).into_owned()
            }
            Ok(_) => {}
            Err(err) => log::debug!("cannot read property {}: {err}", path.join(".")),
        }
    }
    String::new()
}

/// Sets a host property (e.g. Higress's `["clear_route_cache"]`).
pub fn set_property(path: &[&str], value: &[u8]) -> Result<(), HostError> {
    let path = encode_property_path(path);
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_set_property", unsafe {
        proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len())
    })
}

/// Resumes a paused request or response.
pub(crate) fn continue_stream(stream: StreamType) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_continue_stream", unsafe {
        proxy_continue_stream(stream as u32)
    })
}

/// Higress's buffer type holding the reply to a Redis call.
const REDIS_CALL_RESPONSE_BUFFER: u32 = 9;

/// Opens (or re-opens) Higress's Redis connection for `cluster`.
pub(crate) fn redis_init(
    cluster: &str,
    username: &str,
    password: &str,
    timeout_ms: u32,
) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_redis_init", unsafe {
        proxy_redis_init(
            cluster.as_ptr(),
            cluster.len(),
            username.as_ptr(),
            username.len(),
            password.as_ptr(),
            password.len(),
            timeout_ms,
        )
    })
}

/// Sends one RESP command to `cluster`: the callout's token, or the host's
/// status.
pub(crate) fn dispatch_redis_call(cluster: &str, query: &[u8]) -> Result<u32, u32> {
    let mut token = 0;
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    let status = unsafe {
        proxy_redis_call(
            cluster.as_ptr(),
            cluster.len(),
            query.as_ptr(),
            query.len(),
            &mut token,
        )
    };
    match status {
        OK => Ok(token),
        status => Err(status),
    }
}

/// The reply to the Redis call being answered.
pub(crate) fn get_redis_reply(size: usize) -> Result<Vec<u8>, HostError> {
    let mut data = null_mut();
    let mut len = 0;
    let status =
        // SAFETY: every pointer comes with its length from a live slice or
        // local that outlives the call; out-parameters point at locals.
        unsafe { proxy_get_buffer_bytes(REDIS_CALL_RESPONSE_BUFFER, 0, size, &mut data, &mut len) };
    match status {
        // SAFETY: the host wrote `size` bytes at `data`, allocated with this
        // module's allocator (`proxy_on_memory_allocate`), and handed them over.
        OK => Ok(unsafe { take_host_bytes(data, len) }),
        status => Err(HostError {
            call: "proxy_get_buffer_bytes",
            status,
        }),
    }
}

/// Makes later host calls of this callback act on `context_id`.
pub(crate) fn set_effective_context(context_id: u32) -> Result<(), HostError> {
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_set_effective_context", unsafe {
        proxy_set_effective_context(context_id)
    })
}

/// Answers the downstream client directly (`grpc_status` -1: not gRPC).
pub fn send_local_response(
    status_code: u32,
    details: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), HostError> {
    let headers = encode_pairs(headers);
    // SAFETY: every pointer comes with its length from a live slice or
    // local that outlives the call; out-parameters point at locals.
    check("proxy_send_local_response", unsafe {
        proxy_send_local_response(
            status_code,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Dispatches an HTTP callout through the SDK's own host call (not one of
/// ours) because only it records the token in the SDK's table, without
/// which the SDK's dispatcher refuses the answer. The token, or the host's
/// status.
pub(crate) fn dispatch_http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<u32, u32> {
    proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, body, Vec::new(), timeout)
        .map_err(|status| status as u32)
}

/// The queue id that `proxy_on_queue_ready` is called with to point the SDK's
/// record of "the current context" at a root; the root ignores it.
pub(crate) const SDK_ROOT_MARKER_QUEUE: u32 = u32::MAX;

extern "C" {
    // The proxy-wasm SDK's own export (linked in this module, not imported
    // from the host), called to set its "current context" without host calls.
    fn proxy_on_queue_ready(context_id: u32, queue_id: u32);
}

/// Points the SDK's record of "the current context" at root `root`, so the
/// SDK records the next HTTP callout against it.
///
/// # Safety
/// `root` must be a live root context the SDK knows, and no SDK callback of
/// a root may be running (the SDK borrows its table of roots then); no
/// borrow of the caller's may be held across the call.
pub(crate) unsafe fn point_sdk_at_root(root: u32) {
    // SAFETY: the caller's contract (above): the SDK's export, called with
    // a root it knows, while its root table is free.
    unsafe { proxy_on_queue_ready(root, SDK_ROOT_MARKER_QUEUE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_error_names_the_call_and_status() {
        let err = HostError {
            call: "proxy_add_header_map_value",
            status: 2,
        };
        assert_eq!(
            err.to_string(),
            "proxy_add_header_map_value failed with status 2 (BadArgument)"
        );
    }
}

/// Native unit tests link this crate without a proxy-wasm host: every host
/// call answers `Unimplemented` (12), which the code above turns into errors.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod unit_test_host {
    const UNIMPLEMENTED: u32 = 12;

    macro_rules! unimplemented_host_calls {
        ($($name:ident($($arg:ty),*);)*) => {$(
            #[no_mangle]
            extern "C" fn $name($(_: $arg),*) -> u32 {
                UNIMPLEMENTED
            }
        )*};
    }

    unimplemented_host_calls! {
        proxy_get_buffer_bytes(u32, usize, usize, *mut *mut u8, *mut usize);
        proxy_continue_stream(u32);
        proxy_set_effective_context(u32);
        proxy_get_header_map_pairs(u32, *mut *mut u8, *mut usize);
        proxy_http_call(*const u8, usize, *const u8, usize, *const u8, usize, *const u8, usize, u32, *mut u32);
        proxy_redis_init(*const u8, usize, *const u8, usize, *const u8, usize, u32);
        proxy_redis_call(*const u8, usize, *const u8, usize, *mut u32);
        proxy_define_metric(u32, *const u8, usize, *mut u32);
        proxy_increment_metric(u32, i64);
        proxy_record_metric(u32, u64);
        proxy_get_metric(u32, *mut u64);
        proxy_set_tick_period_milliseconds(u32);
    }
}
