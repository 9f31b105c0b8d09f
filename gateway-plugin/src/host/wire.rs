//! The wire formats of the host calls: header-map pairs and property
//! paths, pure and unit-tested.

pub(crate) fn bytes_to_string(bytes: Vec<u8>) -> String {
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
}
