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
