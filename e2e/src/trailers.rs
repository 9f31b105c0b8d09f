//! Clients that send a body with trailers and read the trailers of the
//! answer: HTTP/1.1 (chunked, by hand: no maintained blocking client sends
//! request trailers) and HTTP/2 with prior knowledge (the `h2` crate), as
//! gRPC and HTTP/2 clients send them.

use gateway_plugin_envoy::header_value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An answer with its trailers.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

impl RawResponse {
    /// A header's value (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// A trailer's value (case-insensitive).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        header_value(&self.trailers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// `POST path` over HTTP/1.1 to `127.0.0.1:port`: the body in `chunks`
/// (chunked transfer encoding), then `trailers`.
pub fn http1_with_trailers(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
    trailers: &[(&str, &str)],
) -> Result<RawResponse, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\nte: trailers\r\nconnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    stream.write_all(&bytes).map_err(|e| e.to_string())?;
    read_http1_response(&mut BufReader::new(stream))
}

fn line(reader: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn fields(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    loop {
        let line = line(reader)?;
        if line.is_empty() {
            return Ok(fields);
        }
        let (name, value) = line.split_once(':').ok_or(format!("bad field {line}"))?;
        fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn read_http1_response(reader: &mut impl BufRead) -> Result<RawResponse, String> {
    let status_line = line(reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("bad status line {status_line}"))?;
    let headers = fields(reader)?;
    let mut body = Vec::new();
    let mut trailers = Vec::new();
    if header_value(&headers, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = line(reader)?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| format!("bad chunk size {size_line}: {e}"))?;
            if size == 0 {
                trailers = fields(reader)?;
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader
                .read_exact(&mut body[start..])
                .map_err(|e| e.to_string())?;
            line(reader)?;
        }
    } else if let Some(length) = header_value(&headers, "content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    } else {
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(RawResponse {
        status,
        headers,
        body,
        trailers,
    })
}

/// `POST path` over HTTP/2 (prior knowledge, no TLS) to `127.0.0.1:port`:
/// the body in `chunks` (one DATA frame each), then `trailers`.
pub fn http2_with_trailers(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
    trailers: &[(&str, &str)],
) -> Result<RawResponse, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            h2_exchange(port, path, headers, chunks, trailers),
        )
        .await
        .map_err(|_| "HTTP/2 request timed out".to_string())?
    })
}

async fn h2_exchange(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
    trailers: &[(&str, &str)],
) -> Result<RawResponse, String> {
    let err = |e: h2::Error| e.to_string();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let (client, connection) = h2::client::handshake(tcp).await.map_err(err)?;
    let driver = tokio::spawn(connection);
    let mut client = client.ready().await.map_err(err)?;
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(()).map_err(|e| e.to_string())?;
    let (response, mut send) = client.send_request(request, false).map_err(err)?;
    for chunk in chunks {
        send.send_data(bytes::Bytes::copy_from_slice(chunk), false)
            .map_err(err)?;
    }
    let mut trailer_map = http::HeaderMap::new();
    for (name, value) in trailers {
        let name =
            http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        trailer_map.append(name, value);
    }
    send.send_trailers(trailer_map).map_err(err)?;

    let response = response.await.map_err(err)?;
    let (parts, mut body_stream) = response.into_parts();
    let mut body = Vec::new();
    while let Some(data) = body_stream.data().await {
        let data = data.map_err(err)?;
        let _ = body_stream.flow_control().release_capacity(data.len());
        body.extend_from_slice(&data);
    }
    let pairs = |map: &http::HeaderMap| -> Vec<(String, String)> {
        map.iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    };
    let trailers = body_stream
        .trailers()
        .await
        .map_err(err)?
        .map(|t| pairs(&t))
        .unwrap_or_default();
    driver.abort();
    Ok(RawResponse {
        status: parts.status.as_u16(),
        headers: pairs(&parts.headers),
        body,
        trailers,
    })
}
