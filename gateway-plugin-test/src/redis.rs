//! The host side of Higress's Redis extension against a real `redis-server`:
//! the plugin's RESP command bytes go out verbatim on a connection per
//! cluster, and one whole RESP reply comes back as the callback's buffer.

use crate::state::RedisConn;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

/// Sends `query` (one RESP command) and returns the raw RESP reply; `None`
/// on a connection error or timeout (the connection is dropped, the next
/// call reconnects).
pub(crate) fn call(conn: &mut RedisConn, query: &[u8]) -> Option<Vec<u8>> {
    let result = exchange(conn, query);
    if result.is_none() {
        conn.stream = None;
    }
    result
}

fn exchange(conn: &mut RedisConn, query: &[u8]) -> Option<Vec<u8>> {
    if conn.stream.is_none() {
        conn.stream = Some(connect(conn)?);
    }
    let stream = conn.stream.as_mut()?;
    stream.write_all(query).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut reply = Vec::new();
    read_reply(&mut reader, &mut reply)?;
    Some(reply)
}

fn connect(conn: &RedisConn) -> Option<TcpStream> {
    let address = conn.address.to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&address, conn.timeout).ok()?;
    stream.set_read_timeout(Some(conn.timeout)).ok()?;
    stream.set_write_timeout(Some(conn.timeout)).ok()?;
    let _ = stream.set_nodelay(true);
    if !conn.password.is_empty() {
        let mut args = vec!["AUTH"];
        if !conn.username.is_empty() {
            args.push(&conn.username);
        }
        args.push(&conn.password);
        stream.write_all(&command(&args)).ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut reply = Vec::new();
        read_reply(&mut reader, &mut reply)?;
        if reply.first() == Some(&b'-') {
            return None;
        }
    }
    if conn.database != 0 {
        let db = conn.database.to_string();
        stream.write_all(&command(&["SELECT", &db])).ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut reply = Vec::new();
        read_reply(&mut reader, &mut reply)?;
        if reply.first() == Some(&b'-') {
            return None;
        }
    }
    Some(stream)
}

/// A command as a RESP array of bulk strings.
pub(crate) fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The largest reply this host reads (a plugin's own limit is lower: this
/// only keeps the test binary alive when a fake server lies).
const MAX_REPLY: usize = 1 << 30;
/// The deepest nesting of arrays read (deeper is a connection error).
const MAX_DEPTH: usize = 512;

/// Reads one RESP value, appending its raw bytes to `out`; `None` on a
/// malformed, truncated, oversized (over [`MAX_REPLY`]) or too deeply
/// nested (over [`MAX_DEPTH`]) reply. Never allocates what the peer claims
/// before it has sent it.
fn read_reply(reader: &mut impl BufRead, out: &mut Vec<u8>) -> Option<()> {
    read_value(reader, out, 0)
}

fn read_value(reader: &mut impl BufRead, out: &mut Vec<u8>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    let start = out.len();
    if reader.read_until(b'\n', out).ok()? == 0 {
        return None;
    }
    let line = &out[start..];
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return None;
    }
    let kind = line[0];
    let number = || -> Option<i64> {
        std::str::from_utf8(&line[1..line.len() - 2])
            .ok()?
            .parse()
            .ok()
    };
    match kind {
        b'+' | b'-' | b':' => Some(()),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Some(());
            }
            let want = usize::try_from(len).ok()?.checked_add(2)?;
            if out.len().checked_add(want)? > MAX_REPLY {
                return None;
            }
            let read = reader.take(want as u64).read_to_end(out).ok()?;
            (read == want).then_some(())
        }
        b'*' => {
            let count = number()?;
            for _ in 0..count.max(0) {
                read_value(reader, out, depth + 1)?;
                if out.len() > MAX_REPLY {
                    return None;
                }
            }
            Some(())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_replies() {
        let input = b"*3\r\n$3\r\nabc\r\n:5\r\n$-1\r\n+OK\r\n";
        let mut reader = &input[..];
        let mut out = Vec::new();
        read_reply(&mut reader, &mut out).unwrap();
        assert_eq!(out, b"*3\r\n$3\r\nabc\r\n:5\r\n$-1\r\n");
        out.clear();
        read_reply(&mut reader, &mut out).unwrap();
        assert_eq!(out, b"+OK\r\n");
        assert!(read_reply(&mut &b"$5\r\nab"[..], &mut Vec::new()).is_none());
        assert!(read_reply(&mut &b"?x\r\n"[..], &mut Vec::new()).is_none());
    }

    #[test]
    fn lying_and_hostile_replies_are_refused_not_a_panic() {
        // A length the server never sends: no allocation of it, no panic.
        let huge = b"$9223372036854775807\r\nabc";
        assert!(read_reply(&mut &huge[..], &mut Vec::new()).is_none());
        assert!(read_reply(&mut &b"$99999999999999999999\r\n"[..], &mut Vec::new()).is_none());
        // 2,000,000 nested arrays: refused at the depth limit, no stack overflow.
        let deep = b"*1\r\n".repeat(2_000_000);
        assert!(read_reply(&mut &deep[..], &mut Vec::new()).is_none());
        // An array that claims more elements than it has.
        let short = b"*9223372036854775807\r\n:1\r\n";
        assert!(read_reply(&mut &short[..], &mut Vec::new()).is_none());
        // Nesting within the limit is read.
        let mut nested = b"*1\r\n".repeat(100);
        nested.extend_from_slice(b":7\r\n");
        let mut out = Vec::new();
        read_reply(&mut &nested[..], &mut out).unwrap();
        assert_eq!(out, nested);
    }

    #[test]
    fn commands_are_bulk_string_arrays() {
        assert_eq!(command(&["GET", "k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
