//! [`HttpContext`]: what a handler can see and change of one HTTP stream.
//!
//! Every method goes through [`crate::host`], so a host error never panics:
//! readers return `Option`/empty values, and a change the host refuses (say,
//! a request header added in a response phase) is logged at `warn` with the
//! call and the status, and the handler goes on.

use crate::direction::Direction;
use crate::host::{self, BufferType, HostError, MapType, StreamType};
use proxy_wasm::types::Action;
use std::any::{Any, TypeId};
use std::cell::OnceCell;

/// What a plugin decided for one direction of one stream
/// (`ctx.dont_read_*_body()`, `ctx.buffer_*_body()`, limits); the stream's
/// body handling reads it when the body's first callback comes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyControl {
    pub(crate) dont_read: bool,
    pub(crate) buffer: bool,
    pub(crate) limit: Option<usize>,
}

/// `set_buffer` start/size values that mean "the whole buffer" and "its end"
/// (the host clamps them), as Higress's Go SDK uses them.
const BUFFER_END: usize = i32::MAX as usize;

/// One HTTP stream (request and response) as a handler sees it.
///
/// A handler gets `&mut HttpContext` in every phase; the same context lives
/// from the request headers to the end of the stream, so values stored with
/// [`set`](HttpContext::set) in one phase are there in the next.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// # #[derive(Deserialize, Default)] struct Config;
/// fn on_request_headers(ctx: &mut HttpContext, _config: &Config) -> Action {
///     if ctx.request_header("x-api-key").is_none() {
///         return ctx.send_response(401, &[("www-authenticate", "ApiKey")], b"missing key");
///     }
///     ctx.add_request_header("x-checked-by", "my-plugin");
///     ctx.set(std::time::Duration::from_millis(5)); // typed per-request state
///     Action::Continue
/// }
/// ```
pub struct HttpContext {
    context_id: u32,
    state: Vec<Box<dyn Any>>,
    responded: bool,
    scheme: OnceCell<String>,
    host: OnceCell<String>,
    path: OnceCell<String>,
    method: OnceCell<String>,
    pub(crate) request_body_len: usize,
    pub(crate) response_body_len: usize,
    /// Per direction (request, response): what the plugin decided about
    /// reading the body.
    pub(crate) body_control: [BodyControl; 2],
    /// Per direction: whether a body follows the headers (the headers
    /// callback did not end the stream).
    pub(crate) body_follows: [bool; 2],
}

impl std::fmt::Debug for HttpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpContext")
            .field("context_id", &self.context_id)
            .field("responded", &self.responded)
            .finish_non_exhaustive()
    }
}

/// The attributes of [`HttpContext::set_user_attribute`].
#[derive(Default)]
struct UserAttributes(serde_json::Map<String, serde_json::Value>);

/// Reads a property Go wrote as an escaped JSON object (`{\"a\":1}`).
fn unescape_json_object(raw: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let quoted = [b"\"", raw, b"\""].concat();
    let json: String = serde_json::from_slice(&quoted).ok()?;
    match serde_json::from_str(&json).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

fn warn_on_error(what: &str, name: &str, result: Result<(), HostError>) {
    if let Err(err) = result {
        log::warn!("{what}({name:?}): {err}");
    }
}

impl HttpContext {
    pub(crate) fn new(context_id: u32) -> Self {
        HttpContext {
            context_id,
            state: Vec::new(),
            responded: false,
            scheme: OnceCell::new(),
            host: OnceCell::new(),
            path: OnceCell::new(),
            method: OnceCell::new(),
            request_body_len: 0,
            response_body_len: 0,
            body_control: Default::default(),
            body_follows: [false; 2],
        }
    }

    /// The host's id for this stream.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }

    // ---- request headers -------------------------------------------------

    /// Every request header, in order (pseudo-headers such as `:path`
    /// included). Lossy (see [`request_headers_bytes`](Self::request_headers_bytes)).
    pub fn request_headers(&self) -> Vec<(String, String)> {
        host::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    /// Replaces all request headers.
    pub fn set_request_headers(&mut self, headers: &[(&str, &str)]) {
        let result = host::set_map(MapType::HttpRequestHeaders, headers);
        warn_on_error("set_request_headers", "", result);
    }

    /// One request header (the first value if repeated); `None` if absent.
    /// Names compare case-insensitively (the gateway keeps them lower-case).
    /// Lossy: a value that is not UTF-8 gets U+FFFD in place of its bad
    /// bytes; to pass an opaque value (a credential) on unchanged, use
    /// [`request_header_bytes`](Self::request_header_bytes).
    pub fn request_header(&self, name: &str) -> Option<String> {
        host::get_map_value(MapType::HttpRequestHeaders, name).unwrap_or(None)
    }

    /// One request header's value, byte for byte; `None` if absent.
    ///
    /// ```no_run
    /// # use gateway_plugin::prelude::*;
    /// # fn f(ctx: &mut HttpContext) {
    /// // Copy an opaque credential on exactly as the client sent it.
    /// if let Some(token) = ctx.request_header_bytes("authorization") {
    ///     ctx.replace_request_header_bytes("x-original-auth", &token);
    /// }
    /// # }
    /// ```
    pub fn request_header_bytes(&self, name: &str) -> Option<Vec<u8>> {
        host::get_map_value_bytes(MapType::HttpRequestHeaders, name).unwrap_or(None)
    }

    /// Every request header, values byte for byte.
    pub fn request_headers_bytes(&self) -> Vec<(String, Vec<u8>)> {
        host::get_map_with_bytes(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    /// [`add_request_header`](Self::add_request_header) with a value of any bytes.
    pub fn add_request_header_bytes(&mut self, name: &str, value: &[u8]) {
        let result = host::add_map_value_bytes(MapType::HttpRequestHeaders, name, value);
        warn_on_error("add_request_header_bytes", name, result);
    }

    /// [`replace_request_header`](Self::replace_request_header) with a value of any bytes.
    pub fn replace_request_header_bytes(&mut self, name: &str, value: &[u8]) {
        let result = host::replace_map_value_bytes(MapType::HttpRequestHeaders, name, value);
        warn_on_error("replace_request_header_bytes", name, result);
    }

    /// Adds a request header value, keeping any it already had.
    pub fn add_request_header(&mut self, name: &str, value: &str) {
        let result = host::add_map_value(MapType::HttpRequestHeaders, name, value);
        warn_on_error("add_request_header", name, result);
    }

    /// Sets a request header, replacing all its values.
    pub fn replace_request_header(&mut self, name: &str, value: &str) {
        let result = host::replace_map_value(MapType::HttpRequestHeaders, name, value);
        warn_on_error("replace_request_header", name, result);
    }

    /// Removes a request header.
    pub fn remove_request_header(&mut self, name: &str) {
        let result = host::remove_map_value(MapType::HttpRequestHeaders, name);
        warn_on_error("remove_request_header", name, result);
    }

    // ---- response headers ------------------------------------------------

    /// Every response header, in order (`:status` included). Lossy (see
    /// [`response_headers_bytes`](Self::response_headers_bytes)).
    pub fn response_headers(&self) -> Vec<(String, String)> {
        host::get_map(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    /// Replaces all response headers.
    pub fn set_response_headers(&mut self, headers: &[(&str, &str)]) {
        let result = host::set_map(MapType::HttpResponseHeaders, headers);
        warn_on_error("set_response_headers", "", result);
    }

    /// One response header; `None` if absent. Lossy as
    /// [`request_header`](Self::request_header); see
    /// [`response_header_bytes`](Self::response_header_bytes).
    pub fn response_header(&self, name: &str) -> Option<String> {
        host::get_map_value(MapType::HttpResponseHeaders, name).unwrap_or(None)
    }

    /// One response header's value, byte for byte; `None` if absent.
    pub fn response_header_bytes(&self, name: &str) -> Option<Vec<u8>> {
        host::get_map_value_bytes(MapType::HttpResponseHeaders, name).unwrap_or(None)
    }

    /// Every response header, values byte for byte.
    pub fn response_headers_bytes(&self) -> Vec<(String, Vec<u8>)> {
        host::get_map_with_bytes(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    /// [`add_response_header`](Self::add_response_header) with a value of any bytes.
    pub fn add_response_header_bytes(&mut self, name: &str, value: &[u8]) {
        let result = host::add_map_value_bytes(MapType::HttpResponseHeaders, name, value);
        warn_on_error("add_response_header_bytes", name, result);
    }

    /// [`replace_response_header`](Self::replace_response_header) with a value of any bytes.
    pub fn replace_response_header_bytes(&mut self, name: &str, value: &[u8]) {
        let result = host::replace_map_value_bytes(MapType::HttpResponseHeaders, name, value);
        warn_on_error("replace_response_header_bytes", name, result);
    }

    /// Adds a response header value, keeping any it already had.
    pub fn add_response_header(&mut self, name: &str, value: &str) {
        let result = host::add_map_value(MapType::HttpResponseHeaders, name, value);
        warn_on_error("add_response_header", name, result);
    }

    /// Sets a response header, replacing all its values.
    pub fn replace_response_header(&mut self, name: &str, value: &str) {
        let result = host::replace_map_value(MapType::HttpResponseHeaders, name, value);
        warn_on_error("replace_response_header", name, result);
    }

    /// Removes a response header.
    pub fn remove_response_header(&mut self, name: &str) {
        let result = host::remove_map_value(MapType::HttpResponseHeaders, name);
        warn_on_error("remove_response_header", name, result);
    }

    // ---- bodies ------------------------------------------------------------

    /// The request body buffered so far (the whole body in a
    /// `#[on_request_body]` handler); empty outside body phases.
    pub fn request_body(&self) -> Vec<u8> {
        host::get_buffer(BufferType::HttpRequestBody, 0, self.request_body_len)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Replaces the request body; meaningful in `#[on_request_body]`. (A
    /// plugin with a request-body handler sends requests on without
    /// `content-length`, so any new length is fine.)
    pub fn replace_request_body(&mut self, body: &[u8]) {
        let result = host::set_buffer(BufferType::HttpRequestBody, 0, BUFFER_END, body);
        if result.is_ok() {
            self.request_body_len = body.len();
        }
        warn_on_error("replace_request_body", "", result);
    }

    /// Appends to the request body.
    pub fn append_request_body(&mut self, data: &[u8]) {
        let result = host::set_buffer(BufferType::HttpRequestBody, BUFFER_END, 0, data);
        if result.is_ok() {
            self.request_body_len += data.len();
        }
        warn_on_error("append_request_body", "", result);
    }

    /// Prepends to the request body.
    pub fn prepend_request_body(&mut self, data: &[u8]) {
        let result = host::set_buffer(BufferType::HttpRequestBody, 0, 0, data);
        if result.is_ok() {
            self.request_body_len += data.len();
        }
        warn_on_error("prepend_request_body", "", result);
    }

    /// The response body buffered so far (the whole body in a
    /// `#[on_response_body]` handler); empty outside body phases.
    pub fn response_body(&self) -> Vec<u8> {
        host::get_buffer(BufferType::HttpResponseBody, 0, self.response_body_len)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Replaces the response body (see [`replace_request_body`](Self::replace_request_body)).
    pub fn replace_response_body(&mut self, body: &[u8]) {
        let result = host::set_buffer(BufferType::HttpResponseBody, 0, BUFFER_END, body);
        if result.is_ok() {
            self.response_body_len = body.len();
        }
        warn_on_error("replace_response_body", "", result);
    }

    /// Appends to the response body.
    pub fn append_response_body(&mut self, data: &[u8]) {
        let result = host::set_buffer(BufferType::HttpResponseBody, BUFFER_END, 0, data);
        if result.is_ok() {
            self.response_body_len += data.len();
        }
        warn_on_error("append_response_body", "", result);
    }

    /// Prepends to the response body.
    pub fn prepend_response_body(&mut self, data: &[u8]) {
        let result = host::set_buffer(BufferType::HttpResponseBody, 0, 0, data);
        if result.is_ok() {
            self.response_body_len += data.len();
        }
        warn_on_error("prepend_response_body", "", result);
    }

    // ---- body control --------------------------------------------------------

    /// Whether a request body follows the request headers (Go's
    /// `HasRequestBody`): the gateway did not end the stream with them. Known
    /// from the request headers phase on.
    pub fn has_request_body(&self) -> bool {
        self.body_follows[Direction::Request.index()]
    }

    /// Whether a response body follows the response headers (Go's
    /// `HasResponseBody`). Known from the response headers phase on.
    pub fn has_response_body(&self) -> bool {
        self.body_follows[Direction::Response.index()]
    }

    /// The request body handler is not called for this stream and nothing
    /// of its body is buffered (Go's `DontReadRequestBody`). Call it in a
    /// request headers handler.
    pub fn dont_read_request_body(&mut self) {
        self.body_control[Direction::Request.index()].dont_read = true;
    }

    /// The response body handler is not called for this stream and nothing
    /// of its body is buffered (Go's `DontReadResponseBody`). Call it in a
    /// request or response headers handler.
    pub fn dont_read_response_body(&mut self) {
        self.body_control[Direction::Response.index()].dont_read = true;
    }

    /// This stream's request body is buffered whole, even where the plugin
    /// has a `#[on_request_body(streaming)]` handler (Go's
    /// `BufferRequestBody`): the whole-body handler runs if there is one,
    /// else the streaming handler runs once, with the whole body and
    /// `end_of_stream = true`. Call it in a request headers handler.
    pub fn buffer_request_body(&mut self) {
        self.body_control[Direction::Request.index()].buffer = true;
    }

    /// As [`buffer_request_body`](Self::buffer_request_body), for the
    /// response body (e.g. an LLM answer that is not a stream). Call it in a
    /// request or response headers handler.
    pub fn buffer_response_body(&mut self) {
        self.body_control[Direction::Response.index()].buffer = true;
    }

    /// The most request body this plugin buffers for this stream (Go's
    /// `SetRequestBodyBufferLimit`). A body past it is answered with 413
    /// and a log line that says why. Higress also raises or lowers its own
    /// limit (property `set_decoder_buffer_limit`); upstream Envoy keeps its
    /// listener's `per_connection_buffer_limit_bytes` (1 MiB by default)
    /// whatever this says.
    pub fn set_request_body_buffer_limit(&mut self, bytes: usize) {
        self.body_control[Direction::Request.index()].limit = Some(bytes);
        let value = bytes.to_string();
        let result = host::set_property(&["set_decoder_buffer_limit"], value.as_bytes());
        warn_on_error("set_request_body_buffer_limit", "", result);
    }

    /// As [`set_request_body_buffer_limit`](Self::set_request_body_buffer_limit),
    /// for the response body; past it the stream is answered with 500 (or
    /// reset, if the response headers are already out), as a gateway does
    /// (Higress's property `set_encoder_buffer_limit`).
    pub fn set_response_body_buffer_limit(&mut self, bytes: usize) {
        self.body_control[Direction::Response.index()].limit = Some(bytes);
        let value = bytes.to_string();
        let result = host::set_property(&["set_encoder_buffer_limit"], value.as_bytes());
        warn_on_error("set_response_body_buffer_limit", "", result);
    }

    // ---- flow --------------------------------------------------------------

    /// Answers the client directly instead of the upstream, and returns the
    /// [`Action`] the handler must return (`Pause`), so a handler can write
    /// `return ctx.send_response(403, &[], b"denied");`.
    ///
    /// The local answer then passes through this plugin's response phases;
    /// a second `send_response` there is ignored (with a warning) and returns
    /// `Continue` so the first answer goes out.
    ///
    /// If the host refuses the answer, the refusal is logged at `error` and
    /// the stream stays paused: a plugin that meant to stop a request never
    /// lets it through by accident.
    pub fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) -> Action {
        self.send_response_with_details(status, "", headers, body)
    }

    /// [`send_response`](Self::send_response) with the reason the gateway
    /// records (Envoy's `%RESPONSE_CODE_DETAILS%` in access logs), as Go's
    /// `SendHttpResponseWithDetail`: e.g. `"key_auth.unauthorized"`.
    pub fn send_response_with_details(
        &mut self,
        status: u32,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Action {
        if self.responded {
            log::warn!("send_response({status}) ignored: this stream already sent a response");
            return Action::Continue;
        }
        match host::send_local_response(status, details, headers, body) {
            Ok(()) => self.responded = true,
            Err(err) => log::error!("send_response({status}): {err}"),
        }
        Action::Pause
    }

    /// Whether [`send_response`](Self::send_response) answered this stream.
    pub fn has_responded(&self) -> bool {
        self.responded
    }

    /// Resumes a request that a handler paused.
    pub fn resume_request(&mut self) {
        warn_on_error(
            "resume_request",
            "",
            host::continue_stream(StreamType::HttpRequest),
        );
    }

    /// Resumes a response that a handler paused.
    pub fn resume_response(&mut self) {
        warn_on_error(
            "resume_response",
            "",
            host::continue_stream(StreamType::HttpResponse),
        );
    }

    // ---- request line --------------------------------------------------------

    fn cached<'a>(&self, cell: &'a OnceCell<String>, header: &str) -> &'a str {
        cell.get_or_init(|| self.request_header(header).unwrap_or_default())
    }

    /// The request's scheme (`:scheme`), `""` if the host has none. Read once
    /// per stream and cached, like Higress's `ctx.Scheme()`.
    pub fn scheme(&self) -> &str {
        self.cached(&self.scheme, ":scheme")
    }

    /// The request's host (`:authority`), cached; `""` if absent (the same
    /// holds for [`path`](Self::path) and [`method`](Self::method)).
    pub fn host(&self) -> &str {
        self.cached(&self.host, ":authority")
    }

    /// The request's path with query (`:path`), cached.
    pub fn path(&self) -> &str {
        self.cached(&self.path, ":path")
    }

    /// The request's method (`:method`), cached.
    pub fn method(&self) -> &str {
        self.cached(&self.method, ":method")
    }

    // ---- query ---------------------------------------------------------------

    /// The query of the request's path, parsed by Go's rules (see
    /// [`Query`](crate::query::Query)).
    ///
    /// ```no_run
    /// # use gateway_plugin::prelude::*;
    /// # fn f(ctx: &mut HttpContext) {
    /// let key = ctx.query().get("apikey").map(str::to_string);
    /// if key.is_some() {
    ///     // Not passed on to the upstream.
    ///     ctx.remove_query_param("apikey");
    /// }
    /// # }
    /// ```
    pub fn query(&self) -> crate::query::Query {
        crate::query::Query::of_path(self.path())
    }

    /// Rewrites `:path` with this query (no `?` if it is empty); the part
    /// before the `?` stays, and [`path`](Self::path) says the new one.
    pub fn set_query(&mut self, query: &crate::query::Query) {
        let (before, _) = crate::query::split_path(self.path());
        let query = query.to_string();
        let path = match query.is_empty() {
            true => before.to_string(),
            false => format!("{before}?{query}"),
        };
        self.replace_request_header(":path", &path);
        self.path = OnceCell::from(path);
    }

    /// Sets one query parameter (its first occurrence in place, the others
    /// removed, else appended) and rewrites `:path`; other parameters stay
    /// byte for byte.
    pub fn set_query_param(&mut self, key: &str, value: &str) {
        let mut query = self.query();
        query.set(key, value);
        self.set_query(&query);
    }

    /// Removes every value of a query parameter and rewrites `:path`.
    pub fn remove_query_param(&mut self, key: &str) {
        let mut query = self.query();
        query.remove(key);
        self.set_query(&query);
    }

    // ---- properties ----------------------------------------------------------

    /// A host property, e.g. `ctx.get_property(&["route_name"])` or
    /// `&["request", "id"]`; `None` if the host has no value.
    pub fn get_property(&self, path: &[&str]) -> Option<Vec<u8>> {
        host::get_property(path).unwrap_or(None)
    }

    /// A host property as text (lossy for bytes that are not UTF-8).
    pub fn get_property_string(&self, path: &[&str]) -> Option<String> {
        self.get_property(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Sets a host property (e.g. Higress's `["clear_route_cache"]`).
    pub fn set_property(&mut self, path: &[&str], value: &[u8]) {
        let result = host::set_property(path, value);
        warn_on_error("set_property", &path.join("."), result);
    }

    // ---- what Higress plugins read and write -------------------------------------

    /// The name of the route the request took: property `route_name`
    /// (Higress), else `xds.route_name` (upstream Envoy); `""` if none.
    pub fn route_name(&self) -> String {
        host::gateway_name_property("route_name")
    }

    /// The upstream cluster of the request's route: property `cluster_name`
    /// (Higress, `outbound|port||fqdn`), else `xds.cluster_name`; `""` if none.
    pub fn cluster_name(&self) -> String {
        host::gateway_name_property("cluster_name")
    }

    /// The request's `x-request-id` header, which the gateway sets.
    pub fn request_id(&self) -> Option<String> {
        self.request_header("x-request-id")
    }

    /// The client's address, `ip:port` (property `source.address`).
    pub fn downstream_address(&self) -> Option<String> {
        self.get_property_string(&["source", "address"])
    }

    /// The client's IP, read as Higress's plugins read it: the first entry
    /// of a header (`x-forwarded-for: client, proxy`), or the peer's
    /// address without its port; `None` if absent or not an address (see
    /// [`parse_ip`](crate::ip::parse_ip)).
    ///
    /// ```no_run
    /// # use gateway_plugin::prelude::*;
    /// use gateway_plugin::ip::{IpSet, IpSource};
    /// # fn f(ctx: &mut HttpContext, deny: &IpSet) -> Action {
    /// match ctx.client_ip(&IpSource::header("x-forwarded-for")) {
    ///     Some(ip) if deny.contains(ip) => ctx.send_response(403, &[], b"denied"),
    ///     _ => Action::Continue,
    /// }
    /// # }
    /// ```
    pub fn client_ip(&self, source: &crate::ip::IpSource) -> Option<std::net::IpAddr> {
        let text = match source {
            crate::ip::IpSource::Peer => self.downstream_address()?,
            crate::ip::IpSource::Header(name) => self.request_header(name)?,
        };
        crate::ip::parse_ip(crate::ip::first_forwarded(&text))
    }

    /// The plugin's name as the gateway configured it (property
    /// `plugin_name`: the Wasm filter's `config.name`).
    pub fn plugin_name(&self) -> Option<String> {
        self.get_property_string(&["plugin_name"])
    }

    /// Stops the gateway from choosing the route again after this plugin
    /// changed the request (Go's `DisableReroute`: property
    /// `clear_route_cache` = `off`).
    pub fn disable_reroute(&mut self) {
        self.set_property(&["clear_route_cache"], b"off");
    }

    /// Remembers an attribute of this request for the access log or the
    /// trace (Go's `SetUserAttribute`); see
    /// [`write_user_attributes_to_log`](Self::write_user_attributes_to_log).
    pub fn set_user_attribute(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        let value = value.into();
        if self.get::<UserAttributes>().is_none() {
            self.set(UserAttributes::default());
        }
        if let Some(attributes) = self.get_mut::<UserAttributes>() {
            attributes.0.insert(key.to_string(), value);
        }
    }

    /// An attribute set with [`set_user_attribute`](Self::set_user_attribute).
    pub fn user_attribute(&self, key: &str) -> Option<&serde_json::Value> {
        self.get::<UserAttributes>()?.0.get(key)
    }

    /// Writes the user attributes into the access-log property `custom_log`
    /// (Higress's `%FILTER_STATE(wasm.custom_log)%`), merged over what is
    /// there, in Go's format: a JSON object, escaped as a JSON string.
    pub fn write_user_attributes_to_log(&mut self) {
        self.write_user_attributes_to_log_with_key("custom_log");
    }

    /// [`write_user_attributes_to_log`](Self::write_user_attributes_to_log)
    /// into another property, e.g. `ai_log`.
    pub fn write_user_attributes_to_log_with_key(&mut self, key: &str) {
        let mut merged = serde_json::Map::new();
        if let Some(existing) = self.get_property(&[key]).filter(|v| !v.is_empty()) {
            match unescape_json_object(&existing) {
                Some(map) => merged = map,
                None => {
                    log::warn!("property {key} does not hold a JSON object; not written");
                    return;
                }
            }
        }
        if let Some(attributes) = self.get::<UserAttributes>() {
            for (k, v) in &attributes.0 {
                merged.insert(k.clone(), v.clone());
            }
        }
        let json = serde_json::Value::Object(merged).to_string();
        // Go stores the object as the body of a JSON string: quotes escaped.
        let escaped = serde_json::Value::String(json).to_string();
        let escaped = &escaped[1..escaped.len() - 1];
        self.set_property(&[key], escaped.as_bytes());
    }

    /// Tags the request's trace span: property `trace_span_tag.<key>`.
    pub fn write_user_attribute_to_trace(&mut self, key: &str, value: &str) {
        if value.is_empty() {
            log::warn!("trace tag {key}: empty value not written");
            return;
        }
        let path = format!("trace_span_tag.{key}");
        self.set_property(&[&path], value.as_bytes());
    }

    /// Every user attribute as a trace tag (Go's `WriteUserAttributeToTrace`).
    pub fn write_user_attributes_to_trace(&mut self) {
        let tags: Vec<(String, String)> = match self.get::<UserAttributes>() {
            Some(attributes) => attributes
                .0
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k.clone(), s.clone()),
                    other => (k.clone(), other.to_string()),
                })
                .collect(),
            None => return,
        };
        for (key, value) in tags {
            self.write_user_attribute_to_trace(&key, &value);
        }
    }

    // ---- typed per-request state -----------------------------------------------

    /// Stores a value for the rest of this stream, replacing any earlier value
    /// of the same type. Use a newtype per meaning: `ctx.set(UserId(7))`.
    pub fn set<T: 'static>(&mut self, value: T) {
        match self.get_mut::<T>() {
            Some(slot) => *slot = value,
            None => self.state.push(Box::new(value)),
        }
    }

    /// The value of type `T` stored with [`set`](Self::set), if any.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.state
            .iter()
            .find_map(|value| value.downcast_ref::<T>())
    }

    /// The value of type `T`, mutably.
    pub fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.state
            .iter_mut()
            .find_map(|value| value.downcast_mut::<T>())
    }

    /// Removes and returns the value of type `T`.
    pub fn take<T: 'static>(&mut self) -> Option<T> {
        let index = self
            .state
            .iter()
            .position(|value| (**value).type_id() == TypeId::of::<T>())?;
        self.state
            .swap_remove(index)
            .downcast::<T>()
            .ok()
            .map(|boxed| *boxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct UserId(u32);

    #[test]
    fn typed_state_set_get_replace_take() {
        let mut ctx = HttpContext::new(1);
        assert_eq!(ctx.get::<UserId>(), None);
        ctx.set(UserId(7));
        ctx.set(String::from("x"));
        assert_eq!(ctx.get::<UserId>(), Some(&UserId(7)));
        ctx.set(UserId(8));
        assert_eq!(ctx.get::<UserId>(), Some(&UserId(8)));
        ctx.get_mut::<String>().unwrap().push('y');
        assert_eq!(ctx.get::<String>().map(String::as_str), Some("xy"));
        assert_eq!(ctx.take::<UserId>(), Some(UserId(8)));
        assert_eq!(ctx.get::<UserId>(), None);
        assert_eq!(ctx.get::<String>().map(String::as_str), Some("xy"));
    }
}
