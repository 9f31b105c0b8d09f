//! The echo backend: an [`HttpServer`] that answers every request with 200
//! and a JSON echo of what reached it, so what a plugin changed on the way
//! upstream shows in the answer:
//!
//! ```json
//! {"method": "GET", "path": "/x?y=1", "headers": {"name": "value"},
//!  "body": "...", "body_len": 3, "trailers": {"name": "value"}}
//! ```
//!
//! Header and trailer names lower-cased, repeated headers joined with `,`,
//! the body as lossy UTF-8 with its length in bytes; `trailers` only for a
//! request that had some, and such a request gets them back as response
//! trailers named `echo-<name>`.

use crate::http::{HttpReply, HttpRequest, HttpServer};
use std::collections::btree_map::{BTreeMap, Entry};

/// A running echo backend on 127.0.0.1 (a free port); stops on drop.
///
/// Every request gets 200 and `{"method", "path", "headers": {name:
/// value}, "body", "body_len"}` (names lower-cased, repeated headers
/// joined with `,`), with `"trailers": {name: value}` for a request that
/// had trailers, which also come back as response trailers `echo-<name>`.
pub struct EchoBackend {
    server: HttpServer,
}

impl EchoBackend {
    /// Starts the backend; panics if it cannot (see
    /// [`try_start`](Self::try_start)).
    pub fn start() -> EchoBackend {
        EchoBackend {
            server: HttpServer::start(echo),
        }
    }

    /// Starts the backend.
    pub fn try_start() -> std::io::Result<EchoBackend> {
        Ok(EchoBackend {
            server: HttpServer::try_start(echo)?,
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// How many requests reached the backend.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }
}

/// The echo backend's answer to `request`: 200 with the JSON echo (see
/// [`EchoBackend`]).
pub fn echo(request: &HttpRequest) -> HttpReply {
    let mut echo = serde_json::json!({
        "method": request.method,
        "path": request.path,
        "headers": joined_by_name(&request.headers),
        "body": String::from_utf8_lossy(&request.body),
        "body_len": request.body.len(),
    });
    let mut reply = HttpReply::new(200, Vec::new()).header("content-type", "application/json");
    if !request.trailers.is_empty() {
        let trailers: BTreeMap<String, &str> = request
            .trailers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .collect();
        echo["trailers"] = serde_json::json!(trailers);
        for (name, value) in &request.trailers {
            reply = reply.trailer(&format!("echo-{}", name.to_ascii_lowercase()), value);
        }
    }
    reply.body = echo.to_string().into_bytes();
    reply
}

/// `headers` by lower-cased name, the values of a repeated name joined
/// with `,` in arrival order.
fn joined_by_name(headers: &[(String, String)]) -> BTreeMap<String, String> {
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        match joined.entry(name.to_ascii_lowercase()) {
            Entry::Vacant(entry) => {
                entry.insert(value.clone());
            }
            Entry::Occupied(mut entry) => {
                let values = entry.get_mut();
                values.push(',');
                values.push_str(value);
            }
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn echoes_a_request_over_tcp() {
        let backend = EchoBackend::try_start().unwrap();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", backend.port())).unwrap();
        stream
            .write_all(
                b"POST /a?b=1 HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\ncontent-length: 2\r\n\
                  connection: close\r\n\r\nhi",
            )
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"method": "POST", "path": "/a?b=1",
                "headers": {"x-a": "1,2", "content-length": "2", "connection": "close"},
                "body": "hi", "body_len": 2})
        );
        assert_eq!(backend.requests(), 1);
    }

    #[test]
    fn trailers_come_back_as_echo_trailers() {
        let request = HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: b"x".to_vec(),
            trailers: vec![("X-Sum".into(), "1".into())],
        };
        let reply = echo(&request);
        assert_eq!(
            reply.trailers,
            [("echo-x-sum".to_string(), "1".to_string())]
        );
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(json["trailers"], serde_json::json!({"x-sum": "1"}));
    }
}
