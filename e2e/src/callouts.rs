//! Callout targets: a token service that answers (or refuses, or is slow),
//! a listener that never answers, and a client that hangs up mid-request.

use crate::{HttpReply, HttpRequest, HttpServer};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the [`TokenService`] answers.
#[derive(Clone, Copy, Debug)]
pub enum TokenMode {
    /// 200, with `x-token: token-for-<authorization>` (`anonymous` without
    /// one) and `x-echo-path: <path>`.
    Issue,
    /// This status, no token.
    Status(u16),
    /// Waits this long, then issues a token.
    Slow(Duration),
    /// Issues tokens after 0 to this many ms (varying per request), so that
    /// answers come back in another order than the callouts went out.
    Jitter(u64),
}

/// A real HTTP token service on loopback, answering callouts.
pub struct TokenService {
    server: HttpServer,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    pub fn start(mode: TokenMode) -> TokenService {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let counter = AtomicU64::new(0);
        let server = HttpServer::start(move |request| {
            let who = request.header("authorization").unwrap_or("anonymous");
            record.lock().unwrap().push(who.to_string());
            let n = counter.fetch_add(1, Ordering::Relaxed);
            issue_token(request, who, mode, n)
        });
        TokenService { server, seen }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// How many callouts reached the service.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// The `authorization` of every callout so far, in arrival order.
    pub fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn issue_token(request: &HttpRequest, who: &str, mode: TokenMode, n: u64) -> HttpReply {
    let status = match mode {
        TokenMode::Issue => 200,
        TokenMode::Status(status) => status,
        TokenMode::Slow(delay) => {
            std::thread::sleep(delay);
            200
        }
        TokenMode::Jitter(max_ms) => {
            // A spread-out, repeatable sequence of delays.
            std::thread::sleep(Duration::from_millis(n.wrapping_mul(7919) % (max_ms + 1)));
            200
        }
    };
    let reply = HttpReply::new(status, "token service").header("x-echo-path", &request.path);
    if status == 200 {
        reply.header("x-token", &format!("token-for-{who}"))
    } else {
        reply
    }
}

/// A TCP listener that accepts connections and never answers: callouts to it
/// wait until their timeout. Connections are closed after 2 s.
pub struct Blackhole {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the blackhole");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = std::collections::VecDeque::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => held.push_back((Instant::now(), socket)),
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
                while held
                    .front()
                    .is_some_and(|(t, _)| t.elapsed() > Duration::from_secs(2))
                {
                    held.pop_front();
                }
            }
        });
        Blackhole {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens a connection, sends a request, waits `after`, and hangs up without
/// reading the answer.
pub fn hang_up_after(url_port: u16, path: &str, headers: &[(&str, &str)], after: Duration) {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", url_port)) else {
        return;
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let _ = stream.write_all(request.as_bytes());
    std::thread::sleep(after);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// A TCP server on loopback that answers every connection with the same
/// raw bytes and closes it: not HTTP (`b"garbage"`), or nothing at all (an
/// empty reply: the connection is closed as soon as the request is read).
pub struct RawReply {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// What each connection sent first (up to 4 KiB), lossy.
    received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RawReply {
    pub fn start(reply: &'static [u8]) -> RawReply {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the raw server");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut socket, _)) => {
                        let _ = socket.set_nonblocking(false);
                        let _ = socket.set_read_timeout(Some(Duration::from_secs(2)));
                        let request = read_request(&mut socket);
                        if let Ok(mut kept) = kept.lock() {
                            kept.push(String::from_utf8_lossy(&request).into_owned());
                        }
                        let _ = socket.write_all(reply);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        RawReply {
            port,
            stop,
            thread: Some(thread),
            received,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What each connection sent (its request's head and, as far as
    /// `content-length` says and 64 KiB allow, its body), in order.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for RawReply {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request's head and its `content-length` body (at most 64 KiB), or
/// what arrived before the read timed out or the peer stopped.
fn read_request(socket: &mut TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while request.len() < 64 << 10 {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(read) => request.extend_from_slice(&buf[..read]),
        }
    }
    request
}
