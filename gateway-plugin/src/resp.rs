//! RESP, the Redis wire format: commands out (arrays of bulk strings),
//! replies in. Small on purpose (it is in every Redis plugin's `.wasm`), and
//! total: any input, however broken or cut short, is a value or an error,
//! never a panic.

use std::fmt;

/// A Redis reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespValue {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the server refused the command.
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello` (bytes, not necessarily UTF-8)
    Bulk(Vec<u8>),
    /// `*2\r\n...`
    Array(Vec<RespValue>),
    /// `$-1` or `*-1`: no value.
    Nil,
}

impl RespValue {
    /// The value as text, for simple and bulk strings (and integers).
    pub fn as_string(&self) -> Option<String> {
        match self {
            RespValue::Simple(s) => Some(s.clone()),
            RespValue::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            RespValue::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// A simple or bulk string as text; `None` for other kinds and for
    /// bytes that are not UTF-8 (see [`as_bytes`](Self::as_bytes)).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// A simple or bulk string, byte for byte.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RespValue::Simple(s) => Some(s.as_bytes()),
            RespValue::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// An integer reply, or a string that is one (a script's `"42"`).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            RespValue::Integer(i) => Some(*i),
            _ => self.as_str()?.parse().ok(),
        }
    }

    /// The items of an array reply, e.g. of `EVAL`:
    ///
    /// ```
    /// use gateway_plugin::RespValue;
    /// // `return {1, "x", {2}}` from a script:
    /// let reply = RespValue::Array(vec![
    ///     RespValue::Integer(1),
    ///     RespValue::Bulk(b"x".to_vec()),
    ///     RespValue::Array(vec![RespValue::Integer(2)]),
    /// ]);
    /// let items = reply.as_array().unwrap();
    /// assert_eq!(items[0].as_integer(), Some(1));
    /// assert_eq!(items[1].as_str(), Some("x"));
    /// assert_eq!(items[2].as_array().map(|a| a[0].as_integer()), Some(Some(2)));
    /// assert_eq!(reply.get(5), None);
    /// ```
    pub fn as_array(&self) -> Option<&[RespValue]> {
        match self {
            RespValue::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The array's item at `index`; `None` if not an array or too short.
    pub fn get(&self, index: usize) -> Option<&RespValue> {
        self.as_array()?.get(index)
    }

    /// The items of an array reply, owned.
    pub fn into_array(self) -> Option<Vec<RespValue>> {
        match self {
            RespValue::Array(items) => Some(items),
            _ => None,
        }
    }

    /// An error inside a reply (an item of a `MULTI`/`EXEC` answer or a
    /// script's `redis.pcall`): its message. A top-level error reply is
    /// already `Err(RedisError::Reply)`.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            RespValue::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the reply is no value (`$-1`, `*-1`).
    pub fn is_nil(&self) -> bool {
        matches!(self, RespValue::Nil)
    }
}

impl fmt::Display for RespValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespValue::Simple(s) => write!(f, "{s}"),
            RespValue::Error(e) => write!(f, "(error) {e}"),
            RespValue::Integer(i) => write!(f, "(integer) {i}"),
            RespValue::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            RespValue::Array(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            RespValue::Nil => write!(f, "(nil)"),
        }
    }
}

/// Why bytes are not one RESP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespError {
    /// The bytes end before the reply does.
    Truncated,
    /// Not RESP (a bad type byte, length or number), at this offset.
    Malformed(usize),
    /// One reply, then more bytes.
    TrailingBytes(usize),
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::Truncated => write!(f, "the reply is cut short"),
            RespError::Malformed(at) => write!(f, "not a RESP reply (at byte {at})"),
            RespError::TrailingBytes(at) => {
                write!(f, "unexpected bytes after the reply (at byte {at})")
            }
        }
    }
}

impl std::error::Error for RespError {}

/// Encodes a command as a RESP array of bulk strings.
pub(crate) fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let size: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    let mut out = Vec::with_capacity(size + 16);
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes exactly one reply.
pub(crate) fn decode(bytes: &[u8]) -> Result<RespValue, RespError> {
    let (value, end) = decode_at(bytes, 0, 0)?;
    if end != bytes.len() {
        return Err(RespError::TrailingBytes(end));
    }
    Ok(value)
}

/// Nesting deeper than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;

fn line(bytes: &[u8], at: usize) -> Result<(&[u8], usize), RespError> {
    let rest = bytes.get(at..).ok_or(RespError::Truncated)?;
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(RespError::Truncated)?;
    Ok((&rest[..end], at + end + 2))
}

fn number(text: &[u8], at: usize) -> Result<i64, RespError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RespError::Malformed(at))
}

fn decode_at(bytes: &[u8], at: usize, depth: usize) -> Result<(RespValue, usize), RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::Malformed(at));
    }
    let kind = *bytes.get(at).ok_or(RespError::Truncated)?;
    let (text, next) = line(bytes, at + 1)?;
    let string = || String::from_utf8_lossy(text).into_owned();
    match kind {
        b'+' => Ok((RespValue::Simple(string()), next)),
        b'-' => Ok((RespValue::Error(string()), next)),
        b':' => Ok((RespValue::Integer(number(text, at + 1)?), next)),
        b'$' => {
            let len = number(text, at + 1)?;
            if len < 0 {
                return Ok((RespValue::Nil, next));
            }
            let len = usize::try_from(len).map_err(|_| RespError::Malformed(at + 1))?;
            let end = next.checked_add(len).ok_or(RespError::Malformed(at + 1))?;
            let data = bytes.get(next..end).ok_or(RespError::Truncated)?;
            match bytes.get(end..end + 2) {
                Some(b"\r\n") => Ok((RespValue::Bulk(data.to_vec()), end + 2)),
                Some(_) => Err(RespError::Malformed(end)),
                None => Err(RespError::Truncated),
            }
        }
        b'*' => {
            let count = number(text, at + 1)?;
            if count < 0 {
                return Ok((RespValue::Nil, next));
            }
            // Each element takes 3 bytes at least: refuse counts the input
            // cannot hold before allocating for them.
            let count = usize::try_from(count).map_err(|_| RespError::Malformed(at + 1))?;
            if count > (bytes.len() - next) / 3 {
                return Err(RespError::Truncated);
            }
            let mut items = Vec::with_capacity(count);
            let mut at = next;
            for _ in 0..count {
                let (item, end) = decode_at(bytes, at, depth + 1)?;
                items.push(item);
                at = end;
            }
            Ok((RespValue::Array(items), at))
        }
        _ => Err(RespError::Malformed(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_commands() {
        assert_eq!(
            encode_command(&["SET", "k", "v"]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        assert_eq!(encode_command::<&str>(&[]), b"*0\r\n");
    }

    #[test]
    fn accessors_say_none_for_other_kinds() {
        let bulk = RespValue::Bulk(b"-7".to_vec());
        assert_eq!(
            (bulk.as_str(), bulk.as_integer(), bulk.as_bytes()),
            (Some("-7"), Some(-7), Some(&b"-7"[..]))
        );
        let binary = RespValue::Bulk(b"\xff".to_vec());
        assert_eq!(
            (binary.as_str(), binary.as_bytes()),
            (None, Some(&b"\xff"[..]))
        );
        assert_eq!(RespValue::Simple("OK".into()).as_integer(), None);
        let error = RespValue::Error("ERR no".into());
        assert_eq!(
            (error.as_error(), error.as_str(), error.as_array()),
            (Some("ERR no"), None, None)
        );
        assert!(RespValue::Nil.is_nil() && RespValue::Nil.as_integer().is_none());
        assert_eq!(RespValue::Integer(3).as_str(), None);
        let array = RespValue::Array(vec![RespValue::Nil]);
        assert!(array.get(0).is_some_and(RespValue::is_nil));
        assert_eq!(array.clone().into_array().map(|a| a.len()), Some(1));
        assert_eq!(RespValue::Integer(1).into_array(), None);
    }

    #[test]
    fn decodes_every_kind() {
        assert_eq!(decode(b"+OK\r\n"), Ok(RespValue::Simple("OK".into())));
        assert_eq!(
            decode(b"-ERR no\r\n"),
            Ok(RespValue::Error("ERR no".into()))
        );
        assert_eq!(decode(b":-12\r\n"), Ok(RespValue::Integer(-12)));
        assert_eq!(
            decode(b"$3\r\na\r\n\r\n"),
            Ok(RespValue::Bulk(b"a\r\n".to_vec()))
        );
        assert_eq!(decode(b"$0\r\n\r\n"), Ok(RespValue::Bulk(vec![])));
        assert_eq!(decode(b"$-1\r\n"), Ok(RespValue::Nil));
        assert_eq!(decode(b"*-1\r\n"), Ok(RespValue::Nil));
        assert_eq!(
            decode(b"*3\r\n:1\r\n*1\r\n+x\r\n$-1\r\n"),
            Ok(RespValue::Array(vec![
                RespValue::Integer(1),
                RespValue::Array(vec![RespValue::Simple("x".into())]),
                RespValue::Nil
            ]))
        );
    }

    #[test]
    fn refuses_what_is_not_one_reply() {
        assert_eq!(decode(b""), Err(RespError::Truncated));
        assert_eq!(decode(b"$5\r\nab"), Err(RespError::Truncated));
        assert_eq!(decode(b"$2\r\nabcd"), Err(RespError::Malformed(6)));
        assert_eq!(decode(b":x\r\n"), Err(RespError::Malformed(1)));
        assert_eq!(decode(b"?\r\n"), Err(RespError::Malformed(0)));
        assert_eq!(decode(b"+a\r\n+b\r\n"), Err(RespError::TrailingBytes(4)));
        assert_eq!(decode(b"*99999999999\r\n"), Err(RespError::Truncated));
        assert!(decode(&b"*1\r\n".repeat(1000)).is_err());
    }

    /// Random and cut-short input: always a value or an error, never a panic.
    #[test]
    fn fuzz_random_and_truncated_input() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"+-:$*\r\n0123456789-abc";
        let valid = [
            &b"*3\r\n:1\r\n*1\r\n+x\r\n$-1\r\n"[..],
            b"$5\r\nhello\r\n",
            b"*2\r\n$1\r\na\r\n-ERR x\r\n",
        ];
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let len = (next() % 40) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            } else {
                let base = valid[(next() % valid.len() as u64) as usize];
                let mut bytes = base[..(next() as usize % (base.len() + 1))].to_vec();
                if next() % 3 == 0 && !bytes.is_empty() {
                    let at = next() as usize % bytes.len();
                    bytes[at] = (next() % 256) as u8;
                }
                bytes
            };
            let _ = decode(&input);
        }
        for base in valid {
            for cut in 0..base.len() {
                assert!(decode(&base[..cut]).is_err(), "{:?}", &base[..cut]);
            }
            assert!(decode(base).is_ok());
        }
    }
}
