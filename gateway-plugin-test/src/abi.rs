//! The proxy-wasm ABI 0.2.1 numbers the host speaks (as in
//! `proxy-wasm-cpp-host` and the SDKs), and the header-pairs codec.

/// `WasmResult`: what every host call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
    InvalidMemoryAccess = 6,
}

pub(crate) type HostResult<T = ()> = Result<T, Status>;

/// Header maps (`proxy_*_header_map_*`'s first argument).
pub(crate) mod map {
    pub const REQUEST_HEADERS: i32 = 0;
    pub const REQUEST_TRAILERS: i32 = 1;
    pub const RESPONSE_HEADERS: i32 = 2;
    pub const RESPONSE_TRAILERS: i32 = 3;
    pub const HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
    pub const HTTP_CALL_RESPONSE_TRAILERS: i32 = 7;
}

/// Buffers (`proxy_get_buffer_bytes`' first argument).
pub(crate) mod buffer {
    pub const HTTP_REQUEST_BODY: i32 = 0;
    pub const HTTP_RESPONSE_BODY: i32 = 1;
    pub const HTTP_CALL_RESPONSE_BODY: i32 = 4;
    pub const VM_CONFIGURATION: i32 = 6;
    pub const PLUGIN_CONFIGURATION: i32 = 7;
    /// Higress's extension: the reply to a Redis call
    /// (`BufferTypeRedisCallResponse` in higress-group/proxy-wasm-go-sdk).
    pub const REDIS_CALL_RESPONSE: i32 = 9;
}

/// `proxy_continue_stream` / `proxy_close_stream` argument.
pub(crate) mod stream {
    pub const REQUEST: i32 = 0;
    pub const RESPONSE: i32 = 1;
}

/// What `proxy_on_*_headers` / `_body` return.
pub(crate) mod action {
    pub const CONTINUE: i32 = 0;
}

/// Log levels, trace (0) to critical (5).
pub(crate) const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "critical"];

/// Serializes header pairs the proxy-wasm way: a count, then each name and
/// value length, then each name and value followed by a NUL.
pub(crate) fn encode_pairs(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut size = 4 + pairs.len() * 8;
    for (name, value) in pairs {
        size += name.len() + value.len() + 2;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// The inverse of [`encode_pairs`]; `None` if the bytes do not fit. Values
/// stay bytes; names (tokens) become text.
pub(crate) fn decode_pairs(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = word(0)?;
    let mut sizes = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        sizes.push((word(4 + i * 8)?, word(8 + i * 8)?));
    }
    let mut at = 4usize.checked_add(count.checked_mul(8)?)?;
    let mut pairs = Vec::with_capacity(sizes.len());
    for (name_len, value_len) in sizes {
        let name = bytes.get(at..at.checked_add(name_len)?)?;
        at += name_len + 1;
        let value = bytes.get(at..at.checked_add(value_len)?)?;
        at += value_len + 1;
        pairs.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    Some(pairs)
}

/// Splits a serialized property path (segments joined by NUL).
pub(crate) fn property_path(bytes: &[u8]) -> String {
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let pairs = vec![
            (":path".to_string(), b"/a".to_vec()),
            ("x".to_string(), Vec::new()),
            ("y".to_string(), b"\xff\xfe\x80".to_vec()),
        ];
        assert_eq!(decode_pairs(&encode_pairs(&pairs)), Some(pairs));
        assert_eq!(decode_pairs(&[]), Some(vec![]));
        assert_eq!(decode_pairs(&[5, 0, 0, 0]), None);
        assert_eq!(
            decode_pairs(&[1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]),
            None
        );
    }

    #[test]
    fn property_paths_are_dotted() {
        assert_eq!(property_path(b"request\0path"), "request.path");
        assert_eq!(property_path(b"cluster_name"), "cluster_name");
    }
}
