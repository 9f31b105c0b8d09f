//! Requests and responses as tests write and read them, the default echo
//! upstream, and HTTP callouts to real servers.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::time::Duration;

/// An HTTP request a test sends through the plugin (a builder).
///
/// ```
/// use gateway_plugin_test::Request;
/// let req = Request::post("/login")
///     .header("content-type", "application/json")
///     .body(r#"{"u":1}"#)
///     .chunked(4); // four bytes per body callback
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) authority: String,
    pub(crate) scheme: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) chunk_size: Option<usize>,
    pub(crate) hang_up: bool,
    pub(crate) hang_up_after: Option<usize>,
    pub(crate) root: Option<RootId>,
    pub(crate) trailers: HeaderMap,
    pub(crate) route: Option<String>,
    pub(crate) cluster: Option<String>,
}

/// A root context of a [`Vm`](crate::Vm): one plugin configuration. The
/// first configuration's is [`RootId::FIRST`]; [`Vm::add_root`](crate::Vm::add_root)
/// adds more, as Envoy does for filters that share a `vm_config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RootId(pub(crate) u32);

impl RootId {
    /// The root context of the configuration given to
    /// [`Host::configure`](crate::Host::configure).
    pub const FIRST: RootId = RootId(1);

    /// The context id the plugin sees.
    pub fn context_id(self) -> u32 {
        self.0
    }
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            authority: "example.com".to_string(),
            scheme: "http".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            chunk_size: None,
            hang_up: false,
            hang_up_after: None,
            root: None,
            trailers: Vec::new(),
            route: None,
            cluster: None,
        }
    }

    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }

    pub fn post(path: &str) -> Request {
        Request::new("POST", path)
    }

    pub fn put(path: &str) -> Request {
        Request::new("PUT", path)
    }

    pub fn delete(path: &str) -> Request {
        Request::new("DELETE", path)
    }

    /// Adds a header (repeat for several values). A pseudo-header
    /// (`:authority`, `:path`, `:method`, `:scheme`) sets the request's own,
    /// as [`authority`](Self::authority) does; so does `host`, as a gateway
    /// turns an HTTP/1.1 `Host` into `:authority`.
    ///
    /// ```
    /// use gateway_plugin_test::Request;
    /// let req = Request::get("/").header(":authority", "foo.com").header(":path", "/a?b=1");
    /// ```
    pub fn header(self, name: &str, value: &str) -> Request {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header whose value is these bytes, as a client may send them
    /// (an opaque credential, a Latin-1 value): the plugin reads them byte
    /// for byte. Bytes 0x80–0xFF are allowed, as in Envoy; CR, LF or NUL
    /// make the request an [`Error::BadRequest`](crate::Error::BadRequest)
    /// when it is run. A pseudo-header or `host` sets the request's own, as
    /// [`header`](Self::header) does (as text: lossy if not UTF-8).
    ///
    /// ```
    /// use gateway_plugin_test::Request;
    /// let req = Request::get("/").header_bytes("authorization", b"\xff\xfe\x80bob");
    /// ```
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Request {
        let own = match name.to_ascii_lowercase().as_str() {
            "host" | ":authority" => &mut self.authority,
            ":path" => &mut self.path,
            ":method" => &mut self.method,
            ":scheme" => &mut self.scheme,
            // Any other name, `:`-prefixed ones too: `validate` refuses
            // those as Envoy's codecs do.
            _ => {
                self.headers.push((name.to_string(), value.to_vec()));
                return self;
            }
        };
        *own = String::from_utf8_lossy(value).into_owned();
        self
    }

    /// The name of the route the request took (`default` unless set): the
    /// property `xds.route_name`, as upstream Envoy has it (and `route_name`
    /// too with [`Host::higress_properties`](crate::Host::higress_properties)).
    pub fn route(mut self, name: &str) -> Request {
        self.route = Some(name.to_string());
        self
    }

    /// The upstream cluster of the request's route (`outbound|80||upstream`
    /// unless set), e.g. `outbound|80||svc.default.svc.cluster.local`: the
    /// property `xds.cluster_name` (and `cluster_name` with
    /// [`Host::higress_properties`](crate::Host::higress_properties)).
    pub fn cluster(mut self, name: &str) -> Request {
        self.cluster = Some(name.to_string());
        self
    }

    /// The body (empty by default: the request ends with its headers).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// `:authority` (default `example.com`).
    pub fn authority(mut self, authority: &str) -> Request {
        self.authority = authority.to_string();
        self
    }

    /// Delivers the body in pieces of `bytes`, each its own body callback,
    /// as a gateway does with a body that arrives over time.
    pub fn chunked(mut self, bytes: usize) -> Request {
        self.chunk_size = Some(bytes.max(1));
        self
    }

    /// The client hangs up once the upstream has sent `chunks` response body
    /// chunks (each handled by the plugin first): a client that goes away
    /// in the middle of a stream. The host ends the stream as
    /// [`hang_up_when_paused`](Self::hang_up_when_paused) does.
    pub fn hang_up_after_response_chunks(mut self, chunks: usize) -> Request {
        self.hang_up_after = Some(chunks);
        self
    }

    /// The client hangs up once the stream waits on the plugin (mid-callout):
    /// at once in [`Vm::request`](crate::Vm::request), at a moment drawn
    /// from the seed in [`Vm::requests`](crate::Vm::requests); the stream is
    /// never resumed. The host ends it as a gateway does on a downstream
    /// reset (`on_log`, `on_done`, `on_delete`) and cancels the callouts the
    /// stream's own context made; callouts made for the root still answer.
    pub fn hang_up_when_paused(mut self) -> Request {
        self.hang_up = true;
        self
    }

    /// Adds a trailer (repeat for several): the request then ends with its
    /// trailers, as over HTTP/2 or gRPC, and no body callback has
    /// `end_of_stream`; the plugin's `on_request_trailers` comes after the body.
    pub fn trailer(mut self, name: &str, value: &str) -> Request {
        self.trailers
            .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()));
        self
    }

    /// The stream belongs to this root context (plugin configuration),
    /// instead of the first one.
    pub fn root(mut self, root: RootId) -> Request {
        self.root = Some(root);
        self
    }

    /// Refuses what Envoy refuses before any filter runs (its codecs answer
    /// 400): header and trailer names that are empty or not tokens, values
    /// with CR, LF or NUL (other bytes, 0x80–0xFF too, pass), a path or
    /// authority with them.
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let bad = |header: &str, reason: &str| {
            Err(crate::Error::BadRequest {
                header: header.to_string(),
                reason: reason.to_string(),
            })
        };
        let control = |value: &[u8]| value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
        let pseudo = [
            (":path", &self.path),
            (":authority", &self.authority),
            (":method", &self.method),
            (":scheme", &self.scheme),
        ];
        for (name, value) in pseudo {
            if control(value.as_bytes()) {
                return bad(name, "has CR, LF or NUL in its value");
            }
        }
        for (name, value) in self.headers.iter().chain(&self.trailers) {
            let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            if name.is_empty() {
                return bad(name, "has an empty name");
            }
            if name.starts_with(':') {
                return bad(
                    name,
                    "is not a request pseudo-header (:authority, :path, :method, :scheme)",
                );
            }
            if !name.bytes().all(token) {
                return bad(name, "has a name that is not an HTTP token");
            }
            if control(value) {
                return bad(name, "has CR, LF or NUL in its value");
            }
        }
        Ok(())
    }

    /// The pseudo-headers and headers the plugin sees.
    pub(crate) fn header_map(&self) -> HeaderMap {
        let mut map = vec![
            (
                ":authority".to_string(),
                self.authority.clone().into_bytes(),
            ),
            (":path".to_string(), self.path.clone().into_bytes()),
            (":method".to_string(), self.method.clone().into_bytes()),
            (":scheme".to_string(), self.scheme.clone().into_bytes()),
        ];
        map.extend(
            self.headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
        );
        if !self.body.is_empty()
            && find(&self.headers, "content-length").is_none()
            && self.chunk_size.is_none()
        {
            map.push((
                "content-length".to_string(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        map
    }
}

/// A request as a server received it: the upstream (after the plugin's
/// changes), or a callout target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamRequest {
    method: String,
    path: String,
    authority: String,
    headers: Pairs,
    body: Vec<u8>,
    trailers: Pairs,
}

impl UpstreamRequest {
    /// Builds it from a header map (pseudo-headers and headers, as a plugin
    /// left them or sent them) and a body.
    pub(crate) fn from_header_map(map: &[(String, Vec<u8>)], body: Vec<u8>) -> UpstreamRequest {
        let pseudo =
            |name: &str| String::from_utf8_lossy(find(map, name).unwrap_or_default()).into_owned();
        UpstreamRequest {
            method: pseudo(":method"),
            path: pseudo(":path"),
            authority: pseudo(":authority"),
            headers: map
                .iter()
                .filter(|(n, _)| !n.starts_with(':'))
                .cloned()
                .collect(),
            body,
            trailers: Pairs::default(),
        }
    }

    pub(crate) fn with_trailers(mut self, trailers: HeaderMap) -> UpstreamRequest {
        self.trailers = trailers.into_iter().collect();
        self
    }

    /// The first trailer called `name` (case-insensitive); `None` if its
    /// value is not UTF-8.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers.get_str(name)
    }

    /// All trailers, in order (values that are not UTF-8 lossy).
    pub fn trailers(&self) -> &[(String, String)] {
        self.trailers.text()
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path with its query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `:authority`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The first header called `name` (case-insensitive); `None` if absent
    /// or if its value is not UTF-8 (then see
    /// [`header_bytes`](Self::header_bytes)), never a changed value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The first header called `name` (case-insensitive), byte for byte as
    /// the plugin left or sent it.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// All headers, in order (no pseudo-headers). A value that is not UTF-8
    /// is shown lossy (U+FFFD); [`header_bytes`](Self::header_bytes) has its
    /// bytes.
    pub fn headers(&self) -> &[(String, String)] {
        self.headers.text()
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP response, as an upstream or a callout target answers.
///
/// ```
/// use gateway_plugin_test::Response;
/// let resp = Response::new(200).header("x-token", "abc").body("ok");
/// assert_eq!(resp.header_value("X-Token"), Some("abc"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Pairs,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: Pairs,
    /// The body's pieces, each its own body callback ([`Response::chunks`]).
    pub(crate) chunks: Option<Vec<Vec<u8>>>,
    /// The upstream resets the stream after this many body chunks.
    pub(crate) reset_after: Option<usize>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Pairs::default(),
            body: Vec::new(),
            trailers: Pairs::default(),
            chunks: None,
            reset_after: None,
        }
    }

    /// The body, sent in these pieces: each is its own body callback, as a
    /// streaming upstream's (an SSE event, an LLM token) reaches the
    /// gateway. [`ClientResponse::chunks`] then tells what the client got
    /// after each.
    ///
    /// ```
    /// use gateway_plugin_test::Response;
    /// let resp = Response::new(200)
    ///     .header("content-type", "text/event-stream")
    ///     .chunks(["data: a\n\n", "data: b\n\n"]);
    /// assert_eq!(resp.body_bytes(), b"data: a\n\ndata: b\n\n");
    /// ```
    pub fn chunks<I>(mut self, chunks: I) -> Response
    where
        I: IntoIterator,
        I::Item: Into<Vec<u8>>,
    {
        let chunks: Vec<Vec<u8>> = chunks.into_iter().map(Into::into).collect();
        self.body = chunks.concat();
        self.chunks = Some(chunks);
        self
    }

    /// The upstream resets the stream after `chunks` body chunks (with
    /// [`chunks`](Self::chunks); else after the whole body): the plugin never
    /// sees the body's end, and the client gets what had gone on by then.
    pub fn reset_after(mut self, chunks: usize) -> Response {
        self.reset_after = Some(chunks);
        self
    }

    /// Adds a trailer: the response ends with its trailers (the plugin's
    /// `on_response_trailers` comes after the body).
    pub fn trailer(mut self, name: &str, value: &str) -> Response {
        self.trailers
            .push(name.to_ascii_lowercase(), value.as_bytes().to_vec());
        self
    }

    /// The first trailer called `name` (case-insensitive); `None` if its
    /// value is not UTF-8.
    pub fn trailer_value(&self, name: &str) -> Option<&str> {
        self.trailers.get_str(name)
    }

    /// All trailers, in order (values that are not UTF-8 lossy).
    pub fn trailers(&self) -> &[(String, String)] {
        self.trailers.text()
    }

    /// Adds a header (repeat for several values). `:status` with a number
    /// sets the status, as [`new`](Self::new) does.
    pub fn header(self, name: &str, value: &str) -> Response {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header whose value is these bytes (a binary token, a Latin-1
    /// value): the plugin reads them byte for byte. `:status` with a number
    /// sets the status, as [`header`](Self::header) does.
    ///
    /// ```
    /// use gateway_plugin_test::Response;
    /// let resp = Response::new(200).header_bytes("x-token", b"\xff\xfe\x80tok");
    /// assert_eq!(resp.header_value("x-token"), None); // not UTF-8
    /// ```
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Response {
        let status = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        match status {
            Some(status) if name == ":status" => self.status = status,
            _ => self.headers.push(name.to_string(), value.to_vec()),
        }
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self.chunks = None;
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header called `name` (case-insensitive); `None` if absent
    /// or if its value is not UTF-8, never a changed value.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// All headers, in order; a value that is not UTF-8 is shown lossy
    /// (U+FFFD).
    pub fn headers(&self) -> &[(String, String)] {
        self.headers.text()
    }

    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The header map a plugin sees: `:status` first, then the headers.
    pub(crate) fn header_map(&self) -> HeaderMap {
        let mut map = vec![(":status".to_string(), self.status.to_string().into_bytes())];
        map.extend(
            self.headers
                .bytes()
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
        );
        if self.headers.get("content-length").is_none() {
            map.push((
                "content-length".to_string(),
                self.body.len().to_string().into_bytes(),
            ));
        }
        map
    }

    pub(crate) fn from_header_map(map: &[(String, Vec<u8>)], body: Vec<u8>) -> Response {
        Response {
            status: find(map, ":status")
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            headers: map
                .iter()
                .filter(|(n, _)| !n.starts_with(':'))
                .cloned()
                .collect(),
            body,
            trailers: Pairs::default(),
            chunks: None,
            reset_after: None,
        }
    }
}

/// A piece of the response body as the client received it: what went on
/// when the plugin let data through (a chunk, or held chunks at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedChunk {
    pub(crate) bytes: Vec<u8>,
    pub(crate) upstream_chunks_sent: usize,
}

impl ReceivedChunk {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// How many of the upstream's body chunks had reached the gateway when
    /// these bytes went on to the client: below the upstream's count, the
    /// client had them before the upstream's last chunk.
    pub fn upstream_chunks_sent(&self) -> usize {
        self.upstream_chunks_sent
    }
}

/// What the client got for one request.
#[derive(Clone, Debug)]
pub struct ClientResponse {
    pub(crate) response: Response,
    pub(crate) upstream: Option<UpstreamRequest>,
    pub(crate) fuel: u64,
    pub(crate) hung_up: bool,
    pub(crate) context_id: u32,
    pub(crate) details: Option<String>,
    pub(crate) properties: HashMap<String, Vec<u8>>,
    pub(crate) chunks: Vec<ReceivedChunk>,
    pub(crate) upstream_reset: bool,
}

impl ClientResponse {
    /// The response body as the client received it, piece by piece (see
    /// [`Response::chunks`]).
    pub fn chunks(&self) -> &[ReceivedChunk] {
        &self.chunks
    }

    /// Whether the upstream reset the stream mid-body ([`Response::reset_after`]).
    pub fn upstream_reset(&self) -> bool {
        self.upstream_reset
    }

    /// The status; 0 if the client hung up before an answer.
    pub fn status(&self) -> u16 {
        self.response.status
    }

    /// The first header called `name` (case-insensitive); `None` if absent
    /// or if its value is not UTF-8 (then see
    /// [`header_bytes`](Self::header_bytes)), never a changed value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.header_value(name)
    }

    /// The first header called `name` (case-insensitive), byte for byte as
    /// the client got it.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.response.headers.get(name)
    }

    /// All headers, in order; a value that is not UTF-8 is shown lossy
    /// (U+FFFD).
    pub fn headers(&self) -> &[(String, String)] {
        self.response.headers()
    }

    pub fn body(&self) -> &[u8] {
        &self.response.body
    }

    /// The first trailer called `name` (case-insensitive); `None` if its
    /// value is not UTF-8.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.response.trailer_value(name)
    }

    /// The response's trailers, as the plugin left them (values that are
    /// not UTF-8 lossy).
    pub fn trailers(&self) -> &[(String, String)] {
        self.response.trailers()
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.response.body).into_owned()
    }

    /// The body as JSON (the default upstream's echo); `Value::Null` if it is
    /// not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.response.body).unwrap_or(serde_json::Value::Null)
    }

    /// What the upstream received; `None` if the plugin answered itself (or
    /// the client hung up first).
    pub fn upstream_request(&self) -> Option<&UpstreamRequest> {
        self.upstream.as_ref()
    }

    /// Wasm instructions (wasmtime fuel) the plugin spent on this stream:
    /// every callback of it, and the callout answers it waited for.
    pub fn fuel(&self) -> u64 {
        self.fuel
    }

    /// Whether the client hung up (see [`Request::hang_up_when_paused`]).
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// The stream's proxy-wasm context id.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }

    /// The details the plugin gave with its local response (Envoy's
    /// `%RESPONSE_CODE_DETAILS%`), if it sent one.
    pub fn response_code_details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    /// A property the plugin set on the stream, by its dotted path (e.g.
    /// `custom_log`, `trace_span_tag.model`, `clear_route_cache`).
    pub fn property(&self, path: &str) -> Option<&[u8]> {
        self.properties.get(path).map(Vec::as_slice)
    }
}

/// Header (or trailer) pairs as the host keeps them: names as text (they
/// are tokens), values as bytes, so every copy is byte for byte.
pub(crate) type HeaderMap = Vec<(String, Vec<u8>)>;

/// The first value called `name` (case-insensitive).
pub(crate) fn find<'a>(pairs: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The headers (or trailers) of a public type: the values' bytes, and the
/// same pairs as text for the `&str` API (a value that is not UTF-8 lossy
/// there). Equal when the bytes are.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pairs {
    bytes: HeaderMap,
    text: Vec<(String, String)>,
}

impl Pairs {
    pub(crate) fn push(&mut self, name: String, value: Vec<u8>) {
        let text = String::from_utf8_lossy(&value).into_owned();
        self.text.push((name.clone(), text));
        self.bytes.push((name, value));
    }

    pub(crate) fn bytes(&self) -> &[(String, Vec<u8>)] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> HeaderMap {
        self.bytes
    }

    pub(crate) fn text(&self) -> &[(String, String)] {
        &self.text
    }

    /// The first value called `name`, byte for byte.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        find(&self.bytes, name)
    }

    /// The first value called `name`, if it is UTF-8.
    pub(crate) fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }
}

impl PartialEq for Pairs {
    fn eq(&self, other: &Pairs) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Pairs {}

impl FromIterator<(String, Vec<u8>)> for Pairs {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(pairs: I) -> Pairs {
        let mut out = Pairs::default();
        for (name, value) in pairs {
            out.push(name, value);
        }
        out
    }
}

/// The default upstream: answers 200 with the request as JSON,
/// `{"method", "path", "headers": {name: value}, "body"}` (names lower-case,
/// repeated headers joined with `,`).
pub fn echo(req: &UpstreamRequest) -> Response {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers.text() {
        headers
            .entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value)
            })
            .or_insert_with(|| value.clone());
    }
    let mut json = serde_json::json!({
        "method": req.method,
        "path": req.path,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    if !req.trailers.bytes().is_empty() {
        let trailers: BTreeMap<&str, &str> = req
            .trailers
            .text()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        json["trailers"] = serde_json::json!(trailers);
    }
    Response::new(200)
        .header("content-type", "application/json")
        .body(json.to_string())
}

/// Sends a callout to a real server at `address` (`host:port`). `None`: no
/// answer (refused, reset, timed out), as a gateway reports it.
///
/// The client (ureq 2) sends and reads only header values of visible ASCII,
/// space and tab: a callout with any other byte in a header value is not
/// sent (`None`, with a note on stderr), and a response header with such a
/// value is left out. [`Host::cluster_fn`](crate::Host::cluster_fn) sees and
/// answers every byte.
pub(crate) fn send(address: &str, req: &UpstreamRequest, timeout: Duration) -> Option<Response> {
    let agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .build();
    let url = format!("http://{address}{}", req.path);
    let mut call = agent.request(&req.method, &url).set("host", &req.authority);
    for (name, value) in req.headers.bytes() {
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("host") {
            continue;
        }
        let sendable = value
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | 0x21..=0x7e));
        match std::str::from_utf8(value) {
            Ok(value) if sendable => call = call.set(name, value),
            _ => {
                eprintln!(
                    "gateway-plugin-test: the callout to {address} is not sent: its header \
                     {name:?} has bytes outside visible ASCII, which the host's HTTP client \
                     (ureq 2) cannot send; a Host::cluster_fn sees them"
                );
                return None;
            }
        }
    }
    let resp = match call.send_bytes(&req.body) {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(_) => return None,
    };
    let mut out = Response::new(resp.status());
    for name in resp.headers_names() {
        for value in resp.all(&name) {
            out.headers.push(name.clone(), value.as_bytes().to_vec());
        }
    }
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).ok()?;
    out.body = body;
    Some(out)
}
