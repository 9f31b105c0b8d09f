//! A real `redis-server` for the Redis tests.

use crate::free_port;
use gateway_plugin_envoy::die_with_parent;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A real `redis-server` on a free loopback port, no persistence; killed on
/// drop (and with the test process).
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect(
            "start redis-server (installed by scripts/setup: apt-get install redis-server)",
        );
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends one command; the reply's first line (`+OK`, `:3`, `$-1`, or for
    /// a bulk string its value), `None` if Redis cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        self.command_in(0, args)
    }

    /// [`command`](Self::command) in database `db`.
    pub fn command_in(&self, db: u32, args: &[&str]) -> Option<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        if db != 0 {
            let db = db.to_string();
            let select = format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{db}\r\n", db.len());
            stream.write_all(select.as_bytes()).ok()?;
            let mut ok = [0u8; 5];
            std::io::Read::read_exact(&mut stream, &mut ok).ok()?;
            if &ok != b"+OK\r\n" {
                return None;
            }
        }
        let mut query = format!("*{}\r\n", args.len());
        for arg in args {
            query.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(query.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end().to_string();
        if line.starts_with('$') && line != "$-1" {
            let mut value = String::new();
            reader.read_line(&mut value).ok()?;
            return Some(value.trim_end().to_string());
        }
        Some(line)
    }

    /// Stops the server (for tests of what happens when Redis goes away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
