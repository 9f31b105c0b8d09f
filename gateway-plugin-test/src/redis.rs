//! The host side of Higress's Redis extension against a real `redis-server`:
//! the plugin's RESP command bytes go out verbatim on a connection per
//! cluster, and one whole RESP reply comes back as the callback's buffer.

use crate::state::RedisConn;
use std::io::{BufRead, BufReader, Write};
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

/// Reads one RESP value, appending its raw bytes to `out`.
fn read_reply(reader: &mut impl BufRead, out: &mut Vec<u8>) -> Option<()> {
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
            let mut data = vec![0u8; len as usize + 2];
            reader.read_exact(&mut data).ok()?;
            out.extend_from_slice(&data);
            Some(())
        }
        b'*' => {
            let count = number()?;
            for _ in 0..count.max(0) {
                read_reply(reader, out)?;
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
    fn commands_are_bulk_string_arrays() {
        assert_eq!(command(&["GET", "k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
