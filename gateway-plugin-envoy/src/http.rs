//! A small HTTP/1.1 server on 127.0.0.1 for backends and callout targets:
//! one thread per connection (Envoy opens one upstream connection per
//! concurrent request, and a thread each leaves none of them waiting),
//! keep-alive (HTTP/1.0 too, when asked), `content-length` and chunked
//! request bodies with their trailers, and replies with trailers sent
//! chunked. A request it cannot read is answered 400 and its connection
//! closed; the head and body are bounded, so one connection cannot make it
//! buffer without end. It is a server for tools and tests, not one to expose.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most header bytes a request may have (Envoy's own default limit is
/// 60 KiB).
const MAX_HEAD: usize = 96 * 1024;

/// The largest request body read.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How long an idle keep-alive connection holds its thread: Envoy reuses or
/// closes its upstream connections well within this.
const IDLE: Duration = Duration::from_secs(300);

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, with the query.
    pub path: String,
    /// In arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The trailers of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// The value of the first of `pairs` (headers or trailers) called `name`
/// (case-insensitive).
pub fn header_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the server answers.
#[derive(Clone, Debug)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers, sent in this order (`content-length` or
    /// `transfer-encoding` is added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Sent after a chunked body when not empty.
    pub trailers: Vec<(String, String)>,
}

impl HttpReply {
    /// A reply with `status` and `body`, no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpReply {
        HttpReply {
            status,
            headers: Vec::new(),
            body: body.into(),
            trailers: Vec::new(),
        }
    }

    /// Adds a trailer: the body is then sent chunked, the trailers after it.
    pub fn trailer(mut self, name: &str, value: &str) -> HttpReply {
        self.trailers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> HttpReply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Handler = dyn Fn(&HttpRequest) -> HttpReply + Send + Sync;

/// The open connections, to close them when the server stops.
type Connections = Mutex<HashMap<u64, TcpStream>>;

/// A running server; stops (and closes every connection) on drop.
pub struct HttpServer {
    port: u16,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    connections: Arc<Connections>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on a free port of 127.0.0.1 and answers every request with
    /// `handler`; panics if it cannot (see [`try_start`](Self::try_start)).
    pub fn start(
        handler: impl Fn(&HttpRequest) -> HttpReply + Send + Sync + 'static,
    ) -> HttpServer {
        HttpServer::try_start(handler).expect("start an HTTP server on 127.0.0.1")
    }

    /// Listens on a free port of 127.0.0.1 and answers every request with
    /// `handler`.
    pub fn try_start(
        handler: impl Fn(&HttpRequest) -> HttpReply + Send + Sync + 'static,
    ) -> io::Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Connections::default());
        let acceptor = {
            let (requests, stop, connections) = (
                Arc::clone(&requests),
                Arc::clone(&stop),
                Arc::clone(&connections),
            );
            std::thread::Builder::new()
                .name("http-accept".into())
                .spawn(move || accept(listener, &stop, &connections, &handler, &requests))?
        };
        Ok(HttpServer {
            port,
            requests,
            stop,
            connections,
            acceptor: Some(acceptor),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many requests the server has read.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // `accept` blocks: a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Connection threads end when their socket does.
        for (_, stream) in self.connections.lock().unwrap().drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Accepts connections until `stop`, a thread each.
fn accept(
    listener: TcpListener,
    stop: &AtomicBool,
    connections: &Arc<Connections>,
    handler: &Arc<Handler>,
    requests: &Arc<AtomicU64>,
) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = next_id;
        next_id += 1;
        if let Ok(clone) = stream.try_clone() {
            connections.lock().unwrap().insert(id, clone);
        }
        let (handler, requests, connections) = (
            Arc::clone(handler),
            Arc::clone(requests),
            Arc::clone(connections),
        );
        // A connection whose thread cannot start is dropped (closed): Envoy
        // answers its request with a 503.
        let _ = std::thread::Builder::new()
            .name("http-conn".into())
            .spawn(move || {
                serve(stream, &*handler, &requests);
                connections.lock().unwrap().remove(&id);
            });
    }
}

/// Answers requests on one connection until it closes or fails.
fn serve(stream: TcpStream, handler: &Handler, requests: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let (request, keep_alive) = match read_request(&mut reader) {
            Ok(Some(read)) => read,
            Ok(None) => break,
            Err(reason) => {
                let reply = HttpReply::new(400, reason).header("content-type", "text/plain");
                let _ = write_reply(&mut writer, "GET", &reply, Persistence::Close);
                break;
            }
        };
        requests.fetch_add(1, Ordering::Relaxed);
        let reply = handler(&request);
        if write_reply(&mut writer, &request.method, &reply, keep_alive).is_err()
            || keep_alive == Persistence::Close
        {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Whether a connection stays open after the answer, and how to say so.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Persistence {
    /// HTTP/1.1's default: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client asked for it: `connection: keep-alive`.
    KeepAliveHttp10,
    /// `connection: close`, then closed.
    Close,
}

/// Reads one request; `Ok(None)` when the client closed the connection
/// between requests, `Err` with a reason for a request it cannot read.
fn read_request(reader: &mut impl BufRead) -> Result<Option<(HttpRequest, Persistence)>, String> {
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
    let headers = read_fields(reader, &mut head_bytes)?;
    let mut request = HttpRequest {
        method,
        path,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        (request.body, request.trailers) = read_chunked(reader)?;
    } else {
        request.body = read_sized(reader, request.header("content-length"))?;
    }
    let connection = joined(&request.headers, "connection").to_ascii_lowercase();
    let persistence = match (http10, connection.contains("keep-alive")) {
        (true, true) => Persistence::KeepAliveHttp10,
        (true, false) => Persistence::Close,
        (false, _) if connection.contains("close") => Persistence::Close,
        (false, _) => Persistence::KeepAlive,
    };
    Ok(Some((request, persistence)))
}

/// Every value of the header `name`, joined with `,`.
fn joined(headers: &[(String, String)], name: &str) -> String {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    values.join(",")
}

/// Header (or trailer) lines up to the empty line.
fn read_fields(
    reader: &mut impl BufRead,
    head_bytes: &mut usize,
) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read_line(reader, &mut line, head_bytes)? == 0 {
            return Err("connection closed in the headers".into());
        }
        let field = line.trim_end_matches(['\r', '\n']);
        if field.is_empty() {
            return Ok(fields);
        }
        let Some((name, value)) = field.split_once(':') else {
            return Err("bad header line".into());
        };
        fields.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// A body of `content-length` bytes (none without the header).
fn read_sized(reader: &mut impl BufRead, length: Option<&str>) -> Result<Vec<u8>, String> {
    let length = match length {
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
    Ok(body)
}

/// Reads a line of the request's head, counting it against [`MAX_HEAD`].
fn read_line(
    reader: &mut impl BufRead,
    line: &mut String,
    head_bytes: &mut usize,
) -> Result<usize, String> {
    let limit = (MAX_HEAD - *head_bytes) as u64 + 1;
    let mut bytes = Vec::new();
    let n = reader
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

/// A body and its trailers.
type BodyAndTrailers = (Vec<u8>, Vec<(String, String)>);

/// Reads a chunked body (RFC 9112, 7.1) and its trailers, dropping chunk
/// extensions.
fn read_chunked(reader: &mut impl BufRead) -> Result<BodyAndTrailers, String> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        // A chunk line's size counts towards the head limit, its data not.
        let mut head_bytes = 0;
        line.clear();
        read_line(reader, &mut line, &mut head_bytes)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| "bad chunk size")?;
        if body.len() + size > MAX_BODY {
            return Err("body too large".into());
        }
        if size == 0 {
            let trailers = read_fields(reader, &mut head_bytes)?;
            return Ok((body, trailers));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|e| e.to_string())?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf).map_err(|e| e.to_string())?;
    }
}

/// Writes `reply` to a `method` request: with `content-length`, or chunked
/// with its trailers; no body for `HEAD`.
fn write_reply(
    writer: &mut impl Write,
    method: &str,
    reply: &HttpReply,
    persistence: Persistence,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAliveHttp10 => head.push_str("connection: keep-alive\r\n"),
        Persistence::Close => head.push_str("connection: close\r\n"),
    }
    let head_only = method == "HEAD";
    if reply.trailers.is_empty() || head_only {
        head.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
    } else {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    }
    let mut bytes = head.into_bytes();
    if !head_only && reply.trailers.is_empty() {
        bytes.extend_from_slice(&reply.body);
    } else if !head_only {
        if !reply.body.is_empty() {
            bytes.extend_from_slice(format!("{:x}\r\n", reply.body.len()).as_bytes());
            bytes.extend_from_slice(&reply.body);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n");
        for (name, value) in &reply.trailers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

/// The reason phrase of `status`.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Option<(HttpRequest, Persistence)>, String> {
        read_request(&mut BufReader::new(raw.as_bytes()))
    }

    #[test]
    fn reads_chunked_bodies_with_trailers() {
        let (request, persistence) = read(
            "\r\nPOST /p?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
             3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/p?q=1")
        );
        assert_eq!(request.body, b"abcde");
        assert_eq!(request.trailers, [("X-Sum".to_string(), "5".to_string())]);
        assert_eq!(request.header("host"), Some("x"));
        assert_eq!(persistence, Persistence::KeepAlive);
    }

    #[test]
    fn keep_alive_and_close() {
        let close = read("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(close.1, Persistence::Close);
        let http10 = read("GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert_eq!(http10.1, Persistence::Close);
        let asked = read("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(asked.1, Persistence::KeepAliveHttp10);
        assert!(read("").unwrap().is_none());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(read("GET /\r\n\r\n").is_err());
        assert!(read("GET / HTTP/1.1\r\nno colon\r\n\r\n").is_err());
        assert!(read("POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n").is_err());
        let huge = format!("GET / HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(read(&huge).is_err());
    }

    #[test]
    fn replies_with_trailers_are_chunked() {
        let mut out = Vec::new();
        let reply = HttpReply::new(200, "hi").trailer("t", "1");
        write_reply(&mut out, "GET", &reply, Persistence::KeepAlive).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nt: 1\r\n\r\n"
        );
    }
}
