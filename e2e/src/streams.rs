//! Streamed responses with time in them: an upstream that sends its body in
//! pieces with pauses between (an SSE stream, an LLM's tokens), and a client
//! that notes when each piece of a response arrives. Raw HTTP/1.1 on both
//! sides, so nothing buffers what the test measures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One piece of a streamed body: sent after `pause`.
#[derive(Clone, Debug)]
pub struct Piece {
    pub pause: Duration,
    pub bytes: Vec<u8>,
}

impl Piece {
    pub fn new(pause_ms: u64, bytes: impl Into<Vec<u8>>) -> Piece {
        Piece {
            pause: Duration::from_millis(pause_ms),
            bytes: bytes.into(),
        }
    }
}

type Script = dyn Fn(&str) -> (Vec<(String, String)>, Vec<Piece>) + Send + Sync;

/// An upstream that answers every request with a chunked 200 whose pieces
/// the script gives (by request path), each flushed after its pause. It
/// records when each piece left. Stops, and closes its connections, on drop.
pub struct StreamingUpstream {
    port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    sent: Arc<Mutex<Vec<(String, Instant)>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl StreamingUpstream {
    /// `script(path)` gives the response headers and body pieces.
    pub fn start(
        script: impl Fn(&str) -> (Vec<(String, String)>, Vec<Piece>) + Send + Sync + 'static,
    ) -> StreamingUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let script: Arc<Script> = Arc::new(script);
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, connections, sent) = (
                Arc::clone(&stop),
                Arc::clone(&connections),
                Arc::clone(&sent),
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
                    let (script, sent) = (Arc::clone(&script), Arc::clone(&sent));
                    std::thread::spawn(move || {
                        let _ = serve_stream(stream, &*script, &sent);
                    });
                }
            })
        };
        StreamingUpstream {
            port,
            stop,
            connections,
            sent,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// When each piece was written, as `(request path, instant)`, in order.
    pub fn sent(&self) -> Vec<(String, Instant)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Drop for StreamingUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.connections.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve_stream(
    stream: TcpStream,
    script: &Script,
    sent: &Mutex<Vec<(String, Instant)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        // The request line and headers (the tests send no request body).
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
        }
        let (headers, pieces) = script(&path);
        let mut head = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        writer.write_all(head.as_bytes())?;
        writer.flush()?;
        for piece in pieces {
            std::thread::sleep(piece.pause);
            writer.write_all(format!("{:x}\r\n", piece.bytes.len()).as_bytes())?;
            writer.write_all(&piece.bytes)?;
            writer.write_all(b"\r\n")?;
            writer.flush()?;
            sent.lock().unwrap().push((path.clone(), Instant::now()));
        }
        writer.write_all(b"0\r\n\r\n")?;
        writer.flush()?;
    }
}

/// A response as it arrived: each piece with the instant it was read.
#[derive(Debug)]
pub struct Streamed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub pieces: Vec<(Instant, Vec<u8>)>,
}

impl Streamed {
    /// The whole body.
    pub fn body(&self) -> Vec<u8> {
        self.pieces.iter().flat_map(|(_, b)| b.clone()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }

    /// When the body's bytes first contained `needle`.
    pub fn arrival_of(&self, needle: &str) -> Option<Instant> {
        let mut seen = Vec::new();
        for (at, bytes) in &self.pieces {
            seen.extend_from_slice(bytes);
            if String::from_utf8_lossy(&seen).contains(needle) {
                return Some(*at);
            }
        }
        None
    }
}

/// `GET path` over HTTP/1.1, reading the (chunked or length-delimited)
/// response as it arrives; 10 s at most.
pub fn stream_get(port: u16, path: &str, headers: &[(&str, &str)]) -> Result<Streamed, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    writer
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| e.to_string())?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut pieces = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim(), 16)
                .map_err(|_| format!("bad chunk size {size:?}"))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
            chunk.truncate(size);
            pieces.push((Instant::now(), chunk));
        }
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        pieces.push((Instant::now(), body));
    }
    Ok(Streamed {
        status,
        headers,
        pieces,
    })
}

/// A server that answers every request with the same raw bytes and keeps
/// each request's head (request line and headers) byte for byte: header
/// values that are not UTF-8 can be sent and checked. One request per
/// connection. Stops on drop.
pub struct RawServer {
    port: u16,
    stop: Arc<AtomicBool>,
    heads: Arc<Mutex<Vec<Vec<u8>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawServer {
    /// `reply` is a whole HTTP/1.1 response (with `connection: close`).
    pub fn start(reply: Vec<u8>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, heads) = (Arc::clone(&stop), Arc::clone(&heads));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let head = read_head(&mut stream);
                    heads.lock().unwrap().push(head);
                    let _ = stream.write_all(&reply);
                    let _ = stream.shutdown(Shutdown::Both);
                }
            })
        };
        RawServer {
            port,
            stop,
            heads,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The heads of the requests so far, in order.
    pub fn heads(&self) -> Vec<Vec<u8>> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Reads up to the blank line that ends a request's head.
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    head
}

/// Whether `head` has the header line `name: value`, byte for byte (the
/// name case-insensitively).
pub fn head_has_header(head: &[u8], name: &str, value: &[u8]) -> bool {
    head.split(|b| *b == b'\n').any(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                line[..colon].eq_ignore_ascii_case(name.as_bytes())
                    && line[colon + 1..].trim_ascii() == value
            }
            None => false,
        }
    })
}

/// Sends `head` (a whole request head, ending with a blank line) and reads
/// the status code of the answer.
pub fn raw_request(port: u16, head: &[u8]) -> Result<u16, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    stream.write_all(head).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {line:?}"))
}
