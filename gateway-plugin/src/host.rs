//! The proxy-wasm ABI 0.2.1 host calls, as functions that never panic.
//!
//! `proxy_wasm::hostcalls` panics on any status it does not expect (and on a
//! header value that is not UTF-8), and a panic in Wasm kills the whole VM with
//! every request on it. This module declares the same imports itself, reads the
//! status as a plain `u32`, and turns every failure into a [`HostError`]. The
//! wire formats the host uses (header-map pairs, property paths) are private
//! to the crate, pure and unit-tested.

use std::fmt;
use std::ptr::null_mut;

pub use proxy_wasm::types::{BufferType, LogLevel, MapType};

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

fn bytes_to_string(bytes: Vec<u8>) -> String {
    // Header values are bytes on the wire; a value that is not UTF-8 must not
    // kill the VM, so it is read lossily.
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Encodes header pairs the way the ABI wants them: a little-endian `u32`
/// count, a `(key_len, value_len)` `u32` pair per entry, then each key and
/// value followed by a NUL.
pub(crate) fn encode_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(map: &[(K, V)]) -> Vec<u8> {
    let size = 4 + map
        .iter()
        .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 10)
        .sum::<usize>();
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (key, value) in map {
        bytes.extend_from_slice(&(key.as_ref().len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(value.as_ref().len() as u32).to_le_bytes());
    }
    for (key, value) in map {
        bytes.extend_from_slice(key.as_ref());
        bytes.push(0);
        bytes.extend_from_slice(value.as_ref());
        bytes.push(0);
    }
    bytes
}

/// Decodes [`encode_pairs`]'s format; `None` when the bytes are truncated or
/// inconsistent. Empty input is an empty map.
pub(crate) fn decode_pairs(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut map = Vec::new();
    visit_pairs(bytes, |key, value| {
        map.push((
            bytes_to_string(key.to_vec()),
            bytes_to_string(value.to_vec()),
        ));
        false
    })?;
    Some(map)
}

/// Decodes [`encode_pairs`]'s format keeping values byte for byte (names
/// are read lossily: a gateway only lets tokens through as names).
pub(crate) fn decode_pairs_bytes(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut map = Vec::new();
    visit_pairs(bytes, |key, value| {
        map.push((bytes_to_string(key.to_vec()), value.to_vec()));
        false
    })?;
    Some(map)
}

/// Calls `f` on each encoded pair, without copying, until it returns true.
/// `None` if the bytes are not a whole pairs encoding (checked before the
/// first call).
pub(crate) fn visit_pairs<'a>(
    bytes: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> bool,
) -> Option<()> {
    if bytes.is_empty() {
        return Some(());
    }
    let read_u32 = |at: usize| -> Option<usize> {
        let raw = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes(raw.try_into().ok()?) as usize)
    };
    let count = read_u32(0)?;
    let start = count.checked_mul(8)?.checked_add(4)?;
    if start > bytes.len() {
        return None;
    }
    // Check every length first, so a bad encoding calls `f` never.
    let mut end = start;
    for n in 0..count {
        let pair = read_u32(4 + n * 8)?.checked_add(read_u32(8 + n * 8)?)?;
        end = end.checked_add(pair)?.checked_add(2)?;
    }
    if end > bytes.len() {
        return None;
    }
    let mut data = start;
    for n in 0..count {
        let key_len = read_u32(4 + n * 8)?;
        let value_len = read_u32(8 + n * 8)?;
        let key = &bytes[data..data + key_len];
        data += key_len + 1;
        let value = &bytes[data..data + value_len];
        data += value_len + 1;
        if f(key, value) {
            break;
        }
    }
    Some(())
}

/// Encodes a property path: its segments joined by NUL.
pub(crate) fn encode_property_path(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let map = [("hello", "world"), (":path", "/a?b=c"), ("empty", "")];
        let bytes = encode_pairs(&map);
        let decoded = decode_pairs(&bytes).unwrap();
        let decoded: Vec<(&str, &str)> = decoded
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(decoded, map);
    }

    #[test]
    fn pairs_wire_format_matches_the_abi() {
        let bytes = encode_pairs(&[("a", "bc")]);
        assert_eq!(bytes, b"\x01\0\0\0\x01\0\0\0\x02\0\0\0a\0bc\0");
    }

    #[test]
    fn truncated_pairs_are_refused_not_a_panic() {
        let bytes = encode_pairs(&[("key", "value"), ("k2", "v2")]);
        for cut in 1..bytes.len() - 1 {
            assert_eq!(decode_pairs(&bytes[..cut]), None, "cut at {cut}");
        }
        // A count far larger than the input.
        assert_eq!(decode_pairs(&[0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn non_utf8_values_are_read_lossily() {
        let mut bytes = encode_pairs(&[("k", "v")]);
        let at = bytes.len() - 2;
        bytes[at] = 0xff;
        assert_eq!(
            decode_pairs(&bytes).unwrap(),
            vec![("k".to_string(), "\u{fffd}".to_string())]
        );
    }

    #[test]
    fn values_that_are_not_utf8_round_trip_byte_for_byte() {
        let value: &[u8] = b"\xff\xfe\x80bob";
        let bytes = encode_pairs(&[("authorization", value)]);
        assert_eq!(
            decode_pairs_bytes(&bytes).unwrap(),
            vec![("authorization".to_string(), value.to_vec())]
        );
    }

    #[test]
    fn property_path_is_nul_joined() {
        assert_eq!(encode_property_path(&["request", "path"]), b"request\0path");
        assert_eq!(encode_property_path(&["route_name"]), b"route_name");
    }

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
