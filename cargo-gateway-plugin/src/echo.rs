//! The echo backend `run` puts behind Envoy when no `--upstream` is given: a
//! small HTTP/1.1 server on 127.0.0.1 (a free port) that answers every
//! request with 200 and a JSON echo of what reached it,
//! `{"method", "path", "headers": {name: value}, "body"}`, so what the plugin
//! changed on the way upstream shows in the answer.
//!
//! One thread per connection; bodies with `Content-Length` or chunked;
//! keep-alive unless the client asks for `Connection: close` (or speaks
//! HTTP/1.0). Anything it cannot read closes the connection: it is a
//! development tool, not a server to expose.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The most header bytes a request may have (Envoy's own default limit is
/// 60 KiB): a bound on what one connection can make us buffer.
const MAX_HEAD: usize = 96 * 1024;

/// The largest body echoed back.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A running echo backend; stops accepting connections when dropped.
pub struct EchoBackend {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoBackend {
    /// Starts the backend on 127.0.0.1, on a port the system picks.
    pub fn start() -> std::io::Result<EchoBackend> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("echo-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    // A connection whose thread cannot start is dropped
                    // (closed): Envoy answers its request with a 503.
                    let _ = std::thread::Builder::new()
                        .name("echo-conn".into())
                        .spawn(move || serve(stream));
                }
            })?;
        Ok(EchoBackend {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // `accept` blocks: a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request as read from the connection.
struct Request {
    method: String,
    path: String,
    /// Header names lower-cased, repeated headers joined with `,`.
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// Whether the connection stays open after the answer.
    keep_alive: bool,
}

/// Answers requests on one connection until it closes or fails.
fn serve(stream: TcpStream) {
    // An idle keep-alive connection holds a thread: Envoy reuses or closes
    // its upstream connections well within this.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(reason) => {
                let _ = respond(&mut writer, 400, reason.as_bytes(), "text/plain", false);
                break;
            }
        };
        let echo = serde_json::json!({
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": String::from_utf8_lossy(&request.body),
        });
        let body = echo.to_string().into_bytes();
        if respond(
            &mut writer,
            200,
            &body,
            "application/json",
            request.keep_alive,
        )
        .is_err()
            || !request.keep_alive
        {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Reads one request; `Ok(None)` when the client closed the connection
/// between requests, `Err` with a reason for a request it cannot read.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, String> {
    let mut head_bytes = 0;
    let mut line = String::new();
    // Tolerate blank lines before a request line (RFC 9112, 2.2).
    loop {
        line.clear();
        match read_line(reader, &mut line, &mut head_bytes) {
            Ok(0) => return Ok(None),
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => break,
            Err(e) => return if head_bytes == 0 { Ok(None) } else { Err(e) },
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("bad request line".into());
    };
    let (method, path, http10) = (method.to_string(), path.to_string(), version == "HTTP/1.0");

    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    loop {
        line.clear();
        if read_line(reader, &mut line, &mut head_bytes)? == 0 {
            return Err("connection closed in the headers".into());
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err("bad header line".into());
        };
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value.trim());
            })
            .or_insert_with(|| value.trim().to_string());
    }

    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let length = match headers.get("content-length") {
            Some(value) => value
                .split(',')
                .next()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or("bad content-length")?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err("body too large".into());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        body
    };

    let connection = headers
        .get("connection")
        .map(|c| c.to_ascii_lowercase())
        .unwrap_or_default();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
        keep_alive,
    }))
}

/// Reads a line of the request's head, counting it against [`MAX_HEAD`].
fn read_line(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
    head_bytes: &mut usize,
) -> Result<usize, String> {
    let limit = (MAX_HEAD - *head_bytes) as u64 + 1;
    let mut bytes = Vec::new();
    let n = reader
        .by_ref()
        .take(limit)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| e.to_string())?;
    *head_bytes += n;
    if *head_bytes > MAX_HEAD {
        return Err("request head too large".into());
    }
    line.push_str(&String::from_utf8_lossy(&bytes));
    Ok(n)
}

/// Reads a chunked body (RFC 9112, 7.1), dropping chunk extensions and
/// trailers.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut line = String::new();
    let mut head_bytes = 0;
    loop {
        line.clear();
        read_line(reader, &mut line, &mut head_bytes)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| "bad chunk size")?;
        if body.len() + size > MAX_BODY {
            return Err("body too large".into());
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if read_line(reader, &mut line, &mut head_bytes)? == 0
                    || line.trim_end_matches(['\r', '\n']).is_empty()
                {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|e| e.to_string())?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).map_err(|e| e.to_string())?;
        // A chunk line's size counts towards the head limit, its data not.
        head_bytes = 0;
    }
}

/// Writes an answer with a `Content-Length` body.
fn respond(
    writer: &mut TcpStream,
    status: u16,
    body: &[u8],
    content_type: &str,
    keep_alive: bool,
) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: {connection}\r\n\r\n",
        body.len()
    );
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body);
    writer.write_all(&answer)?;
    writer.flush()
}
