//! Bodies the handlers do not read unless they opt in (`binary`): binary
//! ones by Higress's rules, and both bodies of a WebSocket upgrade.

use crate::direction::Direction;
use crate::host::{self, MapType};

/// Whether a body is binary by Higress's rules: its `content-type` contains
/// `octet-stream` or `grpc`, or it has a `content-encoding`.
pub(crate) fn is_binary(direction: Direction) -> bool {
    let header = |name| {
        host::get_map_value(direction.headers(), name)
            .ok()
            .flatten()
    };
    if header("content-encoding").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    header("content-type").is_some_and(|v| {
        contains_ignore_case(v.as_bytes(), b"octet-stream")
            || contains_ignore_case(v.as_bytes(), b"grpc")
    })
}

/// Whether `haystack` contains `needle`, ASCII case-insensitively. (A plain
/// window scan: header values are short, and `str::contains`'s searcher
/// costs every plugin with a body handler kilobytes of code.)
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Whether the request upgrades to a WebSocket (`connection: upgrade` and
/// `upgrade: websocket`): then neither body is read.
pub(crate) fn is_websocket() -> bool {
    let header = |name| {
        host::get_map_value(MapType::HttpRequestHeaders, name)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    header("upgrade").eq_ignore_ascii_case("websocket")
        && header("connection")
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_markers_match_case_insensitively_anywhere() {
        assert!(contains_ignore_case(
            b"application/octet-stream",
            b"octet-stream"
        ));
        assert!(contains_ignore_case(b"Application/GRPC+proto", b"grpc"));
        assert!(!contains_ignore_case(b"text/event-stream", b"octet-stream"));
        assert!(!contains_ignore_case(b"", b"grpc"));
    }
}
