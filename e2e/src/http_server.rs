//! A small, robust HTTP/1.1 server for the tests' backends and callout
//! targets: one thread per connection, keep-alive, `content-length` and
//! chunked request bodies.
//!
//! Why our own: Envoy opens one upstream connection per concurrent request,
//! and `tiny_http` (used before) left some of 200 concurrent keep-alive
//! connections unread for over 500 ms, which showed up as callout timeouts
//! and a hung request in the concurrency test. A thread per connection has
//! no such queue. Trailers are read from chunked requests, and a reply with
//! trailers is sent chunked with them.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A request as the server read it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// The request target, with the query.
    pub path: String,
    /// In arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The trailers of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
#[derive(Clone, Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent after a chunked body when not empty.
    pub trailers: Vec<(String, String)>,
}

impl HttpReply {
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

    pub fn header(mut self, name: &str, value: &str) -> HttpReply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Handler = dyn Fn(&HttpRequest) -> HttpReply + Send + Sync;

/// A running server; stops (and closes every connection) on drop.
pub struct HttpServer {
    port: u16,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on a free port of 127.0.0.1 and answers every request with
    /// `handler`.
    pub fn start(
        handler: impl Fn(&HttpRequest) -> HttpReply + Send + Sync + 'static,
    ) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (requests, stop, connections) = (
                Arc::clone(&requests),
                Arc::clone(&stop),
                Arc::clone(&connections),
            );
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        connections.lock().unwrap().push(clone);
                    }
                    let (handler, requests) = (Arc::clone(&handler), Arc::clone(&requests));
                    std::thread::spawn(move || serve(stream, &*handler, &requests));
                }
            })
        };
        HttpServer {
            port,
            requests,
            stop,
            connections,
            acceptor: Some(acceptor),
        }
    }

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
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Connection threads end when their socket does.
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, requests: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        requests.fetch_add(1, Ordering::Relaxed);
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let reply = handler(&request);
        if write_reply(&mut writer, &request, &reply).is_err() || close {
            break;
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let request_line = read_line(reader)?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = HttpRequest {
        method,
        path,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader)?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let line = read_line(reader)?;
                    if line.is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':')?;
                    request
                        .trailers
                        .push((name.trim().to_string(), value.trim().to_string()));
                }
                break;
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..]).ok()?;
            read_line(reader)?;
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().ok()?;
        request.body.resize(length, 0);
        reader.read_exact(&mut request.body).ok()?;
    }
    Some(request)
}

fn write_reply(
    writer: &mut impl Write,
    request: &HttpRequest,
    reply: &HttpReply,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.trailers.is_empty() || request.method == "HEAD" {
        head.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
    } else {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    }
    let mut bytes = head.into_bytes();
    let head_only = request.method == "HEAD";
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
