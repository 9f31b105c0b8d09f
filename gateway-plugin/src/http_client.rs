//! [`HttpClient`]: HTTP callouts from handlers, as futures.
//!
//! ```no_run
//! use gateway_plugin::prelude::*;
//! use gateway_plugin::cluster::StaticIpCluster;
//! use std::time::Duration;
//!
//! # struct Config { client: HttpClient }
//! async fn check(ctx: &mut HttpContext, config: &Config) -> Action {
//!     match config.client.get("/token").timeout(Duration::from_millis(200)).await {
//!         Ok(resp) if resp.status() == 200 => Action::Continue,
//!         Ok(resp) => ctx.send_response(502, &[], format!("token service: {}", resp.status()).as_bytes()),
//!         Err(err) => ctx.send_response(502, &[], err.to_string().as_bytes()),
//!     }
//! }
//! ```
//!
//! Requests are built like Higress's Go `HttpClient`: `:method`, `:path` and
//! `:authority` are set by the client (any given in `headers` are replaced);
//! `:authority` is the URL's host if the path is a full URL, else the
//! cluster's host name; the fragment is dropped; the timeout defaults to 500 ms.

use crate::callout::{self, DispatchError, Failure};
use crate::cluster::Cluster;
use crate::host;
use std::cell::OnceCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The default callout timeout, as in Higress.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// The default largest response body a callout reads (16 MiB).
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// A client for one cluster. Cheap to clone; build it at configure time
/// (in `#[parse_config]`) and keep it in the config.
#[derive(Clone)]
pub struct HttpClient {
    cluster: Rc<dyn Cluster>,
    /// Cluster name and host, computed once unless they depend on the
    /// request (they are formatted strings: not worth redoing per call).
    fixed: Option<(Rc<str>, Rc<str>)>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("cluster", &self.cluster.cluster_name())
            .finish()
    }
}

impl HttpClient {
    /// A client for `cluster`, e.g. `HttpClient::new(K8sCluster { .. })`.
    pub fn new(cluster: impl Cluster + 'static) -> Self {
        let fixed = (!cluster.per_request()).then(|| {
            let host = cluster.host_name();
            let host = if host.is_empty() {
                "unknownhost".to_string()
            } else {
                host
            };
            (Rc::from(cluster.cluster_name()), Rc::from(host))
        });
        HttpClient {
            cluster: Rc::new(cluster),
            fixed,
        }
    }

    /// The cluster name callouts go to.
    pub fn cluster_name(&self) -> String {
        match &self.fixed {
            Some((cluster, _)) => cluster.to_string(),
            None => self.cluster.cluster_name(),
        }
    }

    /// `GET path` (a path with query, or a full URL).
    pub fn get(&self, path: &str) -> HttpCall {
        self.request(Method::Static("GET"), path, &[], b"")
    }

    /// `HEAD path`.
    pub fn head(&self, path: &str) -> HttpCall {
        self.request(Method::Static("HEAD"), path, &[], b"")
    }

    /// `OPTIONS path`.
    pub fn options(&self, path: &str) -> HttpCall {
        self.request(Method::Static("OPTIONS"), path, &[], b"")
    }

    /// `POST path` with headers and a body.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpCall {
        self.request(Method::Static("POST"), path, headers, body)
    }

    /// `PUT path` with headers and a body.
    pub fn put(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpCall {
        self.request(Method::Static("PUT"), path, headers, body)
    }

    /// `PATCH path` with headers and a body.
    pub fn patch(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpCall {
        self.request(Method::Static("PATCH"), path, headers, body)
    }

    /// `DELETE path` with headers and a body.
    pub fn delete(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpCall {
        self.request(Method::Static("DELETE"), path, headers, body)
    }

    /// Any method. Nothing is sent until the returned future is awaited.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpCall {
        self.request(Method::Other(method.to_string()), path, headers, body)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpCall {
        let (url_host, path) = split_url(path);
        let (cluster, default_host) = match &self.fixed {
            Some((cluster, host)) => (Rc::clone(cluster), Rc::clone(host)),
            None => {
                let host = self.cluster.host_name();
                let host = if host.is_empty() {
                    "unknownhost".to_string()
                } else {
                    host
                };
                (Rc::from(self.cluster.cluster_name()), Rc::from(host))
            }
        };
        let authority = match url_host {
            Some(host) => Rc::from(host),
            None => default_host,
        };
        let mut request = Request {
            cluster,
            method,
            path,
            authority,
            headers: Headers::default(),
            body: body.to_vec(),
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
        };
        for (name, value) in headers {
            request.headers.push(name, value.as_bytes());
        }
        HttpCall {
            state: CallState::Ready(request),
        }
    }
}

/// The pseudo-headers the client sets itself.
fn is_fixed_pseudo_header(name: &str) -> bool {
    [":method", ":path", ":authority"]
        .iter()
        .any(|p| name.eq_ignore_ascii_case(p))
}

/// Splits a full URL into its host and `path?query`; a bare path has no host.
/// The fragment is dropped; an empty path is `/`.
fn split_url(url: &str) -> (Option<&str>, String) {
    let url = url.split('#').next().unwrap_or("");
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let (host, path) = match rest {
        Some(rest) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            (Some(&rest[..end]), &rest[end..])
        }
        None => (None, url),
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    (host.filter(|h| !h.is_empty()), path)
}

/// A request method: the client's own are static strings.
enum Method {
    Static(&'static str),
    Other(String),
}

impl Method {
    fn as_str(&self) -> &str {
        match self {
            Method::Static(method) => method,
            Method::Other(method) => method,
        }
    }
}

/// A callout's headers besides the pseudo-headers, kept in one buffer (one
/// allocation however many there are): each is its name's and value's
/// lengths (`u32`, little-endian), then the name, then the value.
#[derive(Default)]
struct Headers {
    data: Vec<u8>,
    count: usize,
    /// The first header whose value is not UTF-8 (the SDK sends text).
    not_utf8: Option<String>,
}

impl Headers {
    /// Adds a header, unless it is a pseudo-header the client sets itself.
    fn push(&mut self, name: &str, value: &[u8]) {
        if is_fixed_pseudo_header(name) {
            return;
        }
        if self.not_utf8.is_none() && std::str::from_utf8(value).is_err() {
            self.not_utf8 = Some(name.to_string());
        }
        self.data.reserve(8 + name.len() + value.len());
        self.data
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.data
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.data.extend_from_slice(name.as_bytes());
        self.data.extend_from_slice(value);
        self.count += 1;
    }

    /// Each header, in the order added.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut rest = self.data.as_slice();
        std::iter::from_fn(move || {
            let (lengths, tail) = rest.split_at_checked(8)?;
            let name_len = u32::from_le_bytes(lengths[..4].try_into().ok()?) as usize;
            let value_len = u32::from_le_bytes(lengths[4..].try_into().ok()?) as usize;
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            rest = tail;
            Some((name, value))
        })
    }
}

struct Request {
    cluster: Rc<str>,
    method: Method,
    path: String,
    authority: Rc<str>,
    /// The headers besides the pseudo-headers above (values byte for byte).
    headers: Headers,
    body: Vec<u8>,
    timeout: Duration,
    max_body: usize,
}

impl Request {
    /// Every header as the host gets them, pseudo-headers first.
    #[cfg(test)]
    fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        let mut pairs = vec![
            (&b":method"[..], self.method.as_str().as_bytes()),
            (b":path", self.path.as_bytes()),
            (b":authority", self.authority.as_bytes()),
        ];
        pairs.extend(self.headers.iter());
        pairs
    }

    /// The headers as the SDK sends them (text); `Err` names one whose
    /// value is not UTF-8.
    fn text_pairs(&self) -> Result<Vec<(&str, &str)>, HttpCallError> {
        if let Some(name) = &self.headers.not_utf8 {
            return Err(HttpCallError::HeaderNotUtf8 { name: name.clone() });
        }
        let mut pairs = Vec::with_capacity(self.headers.count + 3);
        pairs.push((":method", self.method.as_str()));
        pairs.push((":path", self.path.as_str()));
        pairs.push((":authority", &*self.authority));
        for (name, value) in self.headers.iter() {
            // Both were checked when the header was added.
            if let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) {
                pairs.push((name, value));
            }
        }
        Ok(pairs)
    }
}

enum CallState {
    Ready(Request),
    Waiting(callout::Token),
    Done,
}

/// A callout, sent when first awaited. Resolves to the response, or to an
/// [`HttpCallError`].
#[must_use = "a callout is sent only when awaited"]
pub struct HttpCall {
    state: CallState,
}

impl HttpCall {
    /// Sets the timeout (default 500 ms). Past it the host gives up and the
    /// call ends with [`HttpCallError::NoResponse`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if let CallState::Ready(request) = &mut self.state {
            request.timeout = timeout;
        }
        self
    }

    /// Adds a request header (pseudo-headers `:method`, `:path` and
    /// `:authority` are set by the client and ignored here).
    ///
    /// ```no_run
    /// # use gateway_plugin::prelude::*;
    /// # async fn f(client: &HttpClient, who: &str) -> Result<HttpResponse, HttpCallError> {
    /// client.get("/token").header("authorization", who).await
    /// # }
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self = self.header_bytes(name, value.as_bytes());
        self
    }

    /// [`header`](Self::header) with a value copied as bytes (an opaque
    /// credential from the client): sent unchanged if it is UTF-8; if not,
    /// the call ends with [`HttpCallError::HeaderNotUtf8`] instead of
    /// sending a changed value (proxy-wasm's SDK sends callout headers as
    /// text).
    ///
    /// ```no_run
    /// # use gateway_plugin::prelude::*;
    /// # async fn f(ctx: &mut HttpContext, client: &HttpClient) -> Result<HttpResponse, HttpCallError> {
    /// let who = ctx.request_header_bytes("authorization").unwrap_or_default();
    /// client.get("/token").header_bytes("authorization", &who).await
    /// # }
    /// ```
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        if let CallState::Ready(request) = &mut self.state {
            request.headers.push(name, value);
        }
        self
    }

    /// Sets the largest response body read (default 16 MiB); a larger one is
    /// [`HttpCallError::BodyTooLarge`].
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        if let CallState::Ready(request) = &mut self.state {
            request.max_body = bytes;
        }
        self
    }
}

impl Future for HttpCall {
    type Output = Result<HttpResponse, HttpCallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::mem::replace(&mut self.state, CallState::Done) {
            CallState::Ready(request) => {
                // The SDK sends header values as text: a value that is not
                // UTF-8 is refused here rather than changed on the way.
                let headers = match request.text_pairs() {
                    Ok(headers) => headers,
                    Err(err) => return Poll::Ready(Err(err)),
                };
                let body = (!request.body.is_empty()).then_some(request.body.as_slice());
                match callout::dispatch_http(
                    &request.cluster,
                    headers,
                    body,
                    request.timeout,
                    request.max_body,
                    cx.waker(),
                ) {
                    Ok(token) => {
                        self.state = CallState::Waiting(token);
                        Poll::Pending
                    }
                    Err(DispatchError::NotInHandler) => {
                        Poll::Ready(Err(HttpCallError::NotInHandler))
                    }
                    Err(DispatchError::Refused(status)) => {
                        Poll::Ready(Err(HttpCallError::Dispatch {
                            cluster: request.cluster.to_string(),
                            status,
                        }))
                    }
                }
            }
            CallState::Waiting(token) => match callout::take_http(token, cx.waker()) {
                Some(answer) => Poll::Ready(HttpResponse::from_answer(answer)),
                None => {
                    self.state = CallState::Waiting(token);
                    Poll::Pending
                }
            },
            // Polled after completion: never resolves again (no panic).
            CallState::Done => Poll::Pending,
        }
    }
}

impl Drop for HttpCall {
    fn drop(&mut self) {
        if let CallState::Waiting(token) = self.state {
            callout::forget_http(token);
        }
    }
}

/// The answer to a callout.
///
/// Headers are kept as the host sent them and decoded only if
/// [`headers`](HttpResponse::headers) is called; [`header`](HttpResponse::header)
/// looks one up without copying.
#[derive(Clone)]
pub struct HttpResponse {
    status: u16,
    /// The host's pairs encoding (`host::encode_pairs`).
    raw_headers: Vec<u8>,
    headers: OnceCell<Vec<(String, String)>>,
    body: Vec<u8>,
    trailers: Vec<(String, String)>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers())
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("trailers", &self.trailers)
            .finish()
    }
}

impl PartialEq for HttpResponse {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.headers() == other.headers()
            && self.body == other.body
            && self.trailers == other.trailers
    }
}

impl Eq for HttpResponse {}

impl HttpResponse {
    /// A response, e.g. for tests of code that takes one.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        HttpResponse {
            status,
            raw_headers: host::encode_pairs(&pairs),
            headers: OnceCell::from(headers),
            body,
            trailers: Vec::new(),
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header's first value; the name compares case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        match std::str::from_utf8(self.header_bytes(name)?) {
            Ok(value) => Some(value),
            // Not UTF-8: the decoded (lossy) copy.
            Err(_) => self
                .headers()
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
        }
    }

    /// One header's value, byte for byte (the first if repeated); `None` if
    /// absent. [`header`](Self::header) is lossy for values that are not
    /// UTF-8.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        let mut found = None;
        host::visit_pairs(&self.raw_headers, |key, value| {
            if key.eq_ignore_ascii_case(name.as_bytes()) {
                found = Some(value);
                return true;
            }
            false
        });
        found
    }

    /// Every header, `:status` included, in the host's order. Lossy: see
    /// [`header_bytes`](Self::header_bytes).
    pub fn headers(&self) -> &[(String, String)] {
        self.headers
            .get_or_init(|| host::decode_pairs(&self.raw_headers).unwrap_or_default())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The trailers, if the answer had any.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The response, or the error, from a callout's raw answer.
    fn from_answer(answer: callout::HttpResult) -> Result<HttpResponse, HttpCallError> {
        let answer = answer.map_err(|failure| match failure {
            Failure::NoResponse | Failure::Status(_) => HttpCallError::NoResponse,
            Failure::TooLarge { size, limit } => HttpCallError::BodyTooLarge { size, limit },
            Failure::Read(err) => HttpCallError::BadResponse(err.to_string()),
        })?;
        let mut status = None;
        host::visit_pairs(&answer.headers, |key, value| {
            if key == b":status" {
                status = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u16>().ok());
                return true;
            }
            false
        })
        .ok_or_else(|| HttpCallError::BadResponse("unreadable headers".to_string()))?;
        let status =
            status.ok_or_else(|| HttpCallError::BadResponse("no valid :status".to_string()))?;
        let trailers = match answer.trailers.is_empty() {
            true => Vec::new(),
            false => host::decode_pairs(&answer.trailers).unwrap_or_default(),
        };
        Ok(HttpResponse {
            status,
            raw_headers: answer.headers,
            headers: OnceCell::new(),
            body: answer.body,
            trailers,
        })
    }
}

/// Why a callout has no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpCallError {
    /// The host refused to send it: usually no cluster of that name
    /// (status 2, `BadArgument`), or no healthy host (10, `InternalFailure`).
    Dispatch {
        /// The cluster asked for.
        cluster: String,
        /// The host's status code.
        status: u32,
    },
    /// The host answered with no response: the timeout passed, or the
    /// connection failed or was reset.
    NoResponse,
    /// The response body was larger than the call's `max_body_size`.
    BodyTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The response could not be read (no `:status`, or a host error).
    BadResponse(String),
    /// The callout was awaited outside a handler (e.g. in `#[parse_config]`
    /// or a future run by hand): there is no stream for it to resume.
    NotInHandler,
    /// A request header's value (set with `HttpCall::header_bytes`) is not
    /// UTF-8: the proxy-wasm SDK sends callout headers as text, so it is
    /// refused rather than sent changed.
    HeaderNotUtf8 {
        /// The header's name.
        name: String,
    },
}

impl fmt::Display for HttpCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpCallError::Dispatch { cluster, status } => {
                let name = host::HostError {
                    call: "proxy_http_call",
                    status: *status,
                }
                .status_name();
                write!(
                    f,
                    "cannot send the callout to cluster {cluster:?}: host status {status} ({name})"
                )
            }
            HttpCallError::NoResponse => {
                write!(
                    f,
                    "no response: the callout timed out or its connection failed"
                )
            }
            HttpCallError::BodyTooLarge { size, limit } => {
                write!(
                    f,
                    "response body of {size} bytes is larger than the limit of {limit}"
                )
            }
            HttpCallError::BadResponse(why) => write!(f, "unreadable response: {why}"),
            HttpCallError::NotInHandler => {
                write!(f, "callouts can only be awaited inside a phase handler")
            }
            HttpCallError::HeaderNotUtf8 { name } => write!(
                f,
                "the callout's {name:?} header is not UTF-8: not sent (callout headers are text)"
            ),
        }
    }
}

impl std::error::Error for HttpCallError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{StaticIpCluster, TargetCluster};

    fn request(call: &HttpCall) -> &Request {
        match &call.state {
            CallState::Ready(request) => request,
            _ => unreachable!(),
        }
    }

    #[test]
    fn split_url_like_higress() {
        assert_eq!(split_url("/a?b=1#frag"), (None, "/a?b=1".to_string()));
        assert_eq!(
            split_url("http://api.example:8080/v1/x?y=2"),
            (Some("api.example:8080"), "/v1/x?y=2".to_string())
        );
        assert_eq!(split_url("https://host"), (Some("host"), "/".to_string()));
        assert_eq!(
            split_url("https://host?q=1"),
            (Some("host"), "/?q=1".to_string())
        );
        assert_eq!(split_url(""), (None, "/".to_string()));
    }

    #[test]
    fn pseudo_headers_are_set_by_the_client() {
        let client = HttpClient::new(StaticIpCluster {
            service_name: "token".into(),
            port: 8000,
            host: String::new(),
        });
        let call = client
            .post(
                "/issue#x",
                &[(":path", "/evil"), (":Authority", "evil"), ("x-a", "1")],
                b"body",
            )
            .timeout(Duration::from_millis(50))
            .header("x-b", "2")
            .header(":METHOD", "GET");
        let req = request(&call);
        assert_eq!(&*req.cluster, "outbound|8000||token.static");
        assert_eq!(req.timeout, Duration::from_millis(50));
        assert_eq!(
            req.pairs(),
            vec![
                (&b":method"[..], &b"POST"[..]),
                (b":path", b"/issue"),
                (b":authority", b"token"),
                (b"x-a", b"1"),
                (b"x-b", b"2"),
            ]
        );
        assert_eq!(req.body, b"body");
    }

    #[test]
    fn url_host_wins_and_empty_host_is_unknownhost() {
        let client = HttpClient::new(TargetCluster {
            cluster: "c".into(),
            host: String::new(),
        });
        let call = client.get("/x");
        assert_eq!(request(&call).pairs()[2].1, b"unknownhost");
        let call = client.get("http://other.example/x");
        assert_eq!(request(&call).pairs()[2].1, b"other.example");
        assert_eq!(request(&call).timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn response_header_lookup_is_case_insensitive() {
        let resp = HttpResponse::new(
            200,
            vec![
                (":status".into(), "200".into()),
                ("X-Token".into(), "abc".into()),
            ],
            b"ok".to_vec(),
        );
        assert_eq!(resp.header("x-token"), Some("abc"));
        assert_eq!(resp.header("X-TOKEN"), Some("abc"));
        assert_eq!(resp.header("missing"), None);
        assert_eq!(resp.body(), b"ok");
    }

    #[test]
    fn headers_from_the_host_are_read_in_place_and_lossily_when_not_utf8() {
        let mut raw = host::encode_pairs(&[(":status", "200"), ("x-bin", "ab"), ("x-t", "v")]);
        let at = raw.windows(2).position(|w| w == b"ab").unwrap();
        raw[at] = 0xff;
        let resp = HttpResponse {
            status: 200,
            raw_headers: raw,
            headers: OnceCell::new(),
            body: Vec::new(),
            trailers: Vec::new(),
        };
        assert_eq!(resp.header("X-T"), Some("v"));
        assert_eq!(resp.header("x-bin"), Some("\u{fffd}b"));
        assert_eq!(resp.headers().len(), 3);
        assert_eq!(resp, resp.clone());
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            HttpCallError::Dispatch {
                cluster: "outbound|80||x.static".into(),
                status: 2
            }
            .to_string(),
            "cannot send the callout to cluster \"outbound|80||x.static\": host status 2 (BadArgument)"
        );
        assert!(HttpCallError::NoResponse.to_string().contains("timed out"));
    }
}
