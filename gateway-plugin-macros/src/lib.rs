//! Procedural macros of `gateway-plugin`. Use them through that crate
//! (`use gateway_plugin::prelude::*;`): the code they generate calls into
//! `gateway_plugin::__private`.
//!
//! Every macro parses its input into typed pieces, collects every problem as
//! a spanned `syn::Error`, and on error emits the errors *and* the user's item
//! unchanged, so one mistake gives one message and the IDE still sees the item.

mod args;
mod errors;
mod handler;
mod krate;
mod mcp_server;
mod mcp_tool;
mod parse_config;
mod plugin;
mod tick;

use proc_macro::TokenStream;

/// Marks the plugin's configuration type and generates the plugin.
///
/// `#[plugin(name = "my-plugin")]` goes on a struct or enum, before its
/// `#[derive(..)]`. The configuration comes from the gateway as JSON:
///
/// - with a [`parse_config`](macro@parse_config) function, that function
///   builds it;
/// - else with `#[derive(Deserialize)]`, serde does (an empty configuration is
///   `Default::default()` where the type implements `Default`);
/// - else a type that only implements `Default` is a plugin without
///   configuration.
///
/// A configuration that does not fit is refused when the gateway loads it,
/// with `[my-plugin] invalid configuration at <field>: <reason>` in its log.
/// The `Deserialize` derive needs no `serde` dependency of the plugin crate.
///
/// Where the crate is not a direct dependency named `gateway_plugin` (a
/// renamed dependency, `gw = { package = "gateway-plugin", .. }`, or a
/// company crate that re-exports it), every attribute takes
/// `crate = path`, as serde's and tokio's do:
/// `#[plugin(name = "x", crate = gw)]`, `#[on_request_headers(crate = gw)]`,
/// `#[parse_config(crate = "my_company::gateway")]`.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "my-plugin")]
/// #[derive(Deserialize, Default)]
/// #[serde(rename_all = "camelCase")]
/// struct MyConfig {
///     mock_enable: bool,
/// }
///
/// #[on_request_headers]
/// fn on_request_headers(ctx: &mut HttpContext, config: &MyConfig) -> Action {
///     if config.mock_enable {
///         return ctx.send_response(200, &[], b"hello world");
///     }
///     ctx.add_request_header("hello", "world");
///     Action::Continue
/// }
/// ```
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    plugin::expand(args.into(), item.into()).into()
}

/// Marks the request-headers handler: `fn(ctx: &mut HttpContext, config: &C) -> Action`.
///
/// Also an `async fn` with the same arguments, which may `.await` callouts;
/// the request waits in the gateway meanwhile and resumes when it returns.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "auth")]
/// struct Auth {
///     tokens: HttpClient,
/// }
/// # #[parse_config]
/// # fn parse(_: &serde_json::Value) -> Result<Auth, String> { unimplemented!() }
///
/// #[on_request_headers]
/// async fn check(ctx: &mut HttpContext, config: &Auth) -> Action {
///     match config.tokens.get("/issue").await {
///         Ok(resp) if resp.status() == 200 => Action::Continue,
///         _ => ctx.send_response(401, &[], b"no token"),
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn on_request_headers(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::RequestHeaders, args.into(), item.into()).into()
}

/// Marks a request-body handler, whole-body or streaming.
///
/// **Whole body**: `fn(ctx: &mut HttpContext, config: &C, body: &[u8]) -> Action`
/// (or `async fn`). The gateway buffers the whole request body; the handler
/// runs once, at its end (last chunk or trailers), and may read, replace,
/// append or prepend the body. Requests without a body never call it.
///
/// **Streaming**: `#[on_request_body(streaming)]` on
/// `fn(ctx: &mut HttpContext, config: &C, chunk: &[u8], end_of_stream: bool) -> Vec<u8>`
/// (or `-> Chunk`, `String`; or `async fn`): called for each chunk as it
/// arrives; what it returns goes on in its place at once (`Chunk::Pass`:
/// unchanged, no copy). `end_of_stream` is true on exactly one call, the
/// last (an empty chunk when the body ends with trailers: what that call
/// returns is added only while chunks are held, else dropped with a
/// warning, as the gateway keeps no body to add to). An `async`
/// handler that awaits holds its chunk and every later one; they reach it
/// in order afterwards, and the body's end does not go on before them.
///
/// A plugin may have both kinds for one phase: streaming is used unless a
/// headers handler calls `HttpContext::buffer_request_body` for the
/// stream. With only a streaming handler, `buffer_request_body` runs it
/// once, with the whole body.
///
/// **Binary bodies** are passed on untouched, as Higress's Go SDK does: a
/// `content-type` with `octet-stream` or `grpc`, any `content-encoding`,
/// or a WebSocket upgrade. `#[on_request_body(binary)]` (also
/// `(streaming, binary)`) lets them reach the handler.
///
/// The request headers have gone on by then: Envoy's proxy-wasm host turns
/// a header pause into a full stop that also holds the body back, so header
/// changes belong in `#[on_request_headers]`, unless the handler is marked
/// `hold_headers` (`#[on_request_body(hold_headers)]`): the headers then
/// wait, still changeable, until the body handler returns. That needs a
/// gateway that lets a plugin hold headers while the body comes (Higress;
/// Envoy 1.35+ with `allow_on_headers_stop_iteration: true`); on one that
/// does not, the plugin's log says so once and the headers go first again.
/// Because the body may change length, the framework removes
/// `content-length` from requests whose body it reads; the body then travels
/// chunked.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_request_body(streaming)]
/// fn upper(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8], _end: bool) -> Vec<u8> {
///     chunk.to_ascii_uppercase()
/// }
/// ```
#[proc_macro_attribute]
pub fn on_request_body(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::RequestBody, args.into(), item.into()).into()
}

/// Marks the response-headers handler: `fn(ctx: &mut HttpContext, config: &C) -> Action`.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_response_headers]
/// fn mark(ctx: &mut HttpContext, _config: &Config) -> Action {
///     ctx.add_response_header("x-served-by", "my-plugin");
///     Action::Continue
/// }
/// ```
#[proc_macro_attribute]
pub fn on_response_headers(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::ResponseHeaders, args.into(), item.into()).into()
}

/// Marks a response-body handler, whole-body or streaming: the same forms
/// and options as [`on_request_body`](macro@on_request_body)
/// (`#[on_response_body(streaming)]`, `binary`), for the response; the
/// response headers have gone to the client by then.
///
/// A streaming handler is how a plugin reads or rewrites an LLM's
/// server-sent events as they stream, each going on as soon as it returns:
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_response_body(streaming)]
/// fn count_events(ctx: &mut HttpContext, _config: &Config, chunk: &[u8], end: bool) -> Chunk {
///     let events = ctx.get::<usize>().copied().unwrap_or(0);
///     let events = events + chunk.windows(2).filter(|w| w == b"\n\n").count();
///     if end {
///         info!("{events} events");
///     }
///     ctx.set(events);
///     Chunk::Pass
/// }
/// ```
#[proc_macro_attribute]
pub fn on_response_body(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::ResponseBody, args.into(), item.into()).into()
}

/// Marks the handler that runs when the stream is done (the log phase):
/// `fn(ctx: &mut HttpContext, config: &C)`, with or without `-> Action`
/// (the action is ignored: there is nothing left to continue).
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_stream_done]
/// fn log_it(ctx: &mut HttpContext, _config: &Config) {
///     info!("{} {} done", ctx.method(), ctx.path());
/// }
/// ```
#[proc_macro_attribute]
pub fn on_stream_done(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::StreamDone, args.into(), item.into()).into()
}

/// Marks the function that builds the config from the gateway's JSON:
/// `fn(json: &serde_json::Value) -> Result<C, E>` with `E: Display`. Its
/// error is logged as `[my-plugin] invalid configuration: <error>`.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "limits")]
/// struct Limits {
///     per_minute: u64,
/// }
///
/// #[parse_config]
/// fn parse(json: &serde_json::Value) -> Result<Limits, String> {
///     match json["perMinute"].as_u64() {
///         Some(n) if n > 0 => Ok(Limits { per_minute: n }),
///         _ => Err("perMinute: expected a positive number".into()),
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn parse_config(args: TokenStream, item: TokenStream) -> TokenStream {
    parse_config::expand(parse_config::Kind::Config, args.into(), item.into()).into()
}

/// Marks a function the root context's timer runs every `period_ms` with the
/// global config, as Go's `RegisterTickFunc`: `fn(config: &C)` or `async
/// fn(config: &C)` (which may await callouts, made on behalf of the root).
/// Several handlers with different periods share the host's one timer; each
/// runs on the first tick, then every `period_ms`; an async run still
/// waiting makes its next turns skip, not stack. (Handlers are told apart by
/// their function's name: two whose names land on the same one of the 64
/// slots are refused as conflicting implementations of `OnTick`; rename one.)
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "refresher")]
/// #[derive(Deserialize, Default)]
/// pub struct Config {}
///
/// #[on_tick(period_ms = 1000)]
/// fn every_second(_config: &Config) {
///     debug!("tick");
/// }
/// ```
#[proc_macro_attribute]
pub fn on_tick(args: TokenStream, item: TokenStream) -> TokenStream {
    tick::expand(args.into(), item.into()).into()
}

/// Marks the function that builds a rule's config (Higress's `_rules_`)
/// from the rule's JSON and the global config, as Go's
/// `ParseOverrideConfig`: `fn(json: &serde_json::Value, global: &C) ->
/// Result<C, E>` with `E: Display`. Without one, a rule is parsed alone by
/// the plugin's parser. A rule's error names it: `[my-plugin] invalid
/// configuration at _rules_[0]: <error>`.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// use gateway_plugin::serde_json::Value;
///
/// #[plugin(name = "key-auth")]
/// pub struct KeyAuth {
///     consumers: Vec<String>, // global only
///     allow: Vec<String>,     // per route
/// }
///
/// fn names(json: &Value, key: &str) -> Vec<String> {
///     let list = json[key].as_array().map(Vec::as_slice).unwrap_or_default();
///     list.iter().filter_map(|v| v.as_str().map(String::from)).collect()
/// }
///
/// #[parse_config]
/// fn parse(json: &Value) -> Result<KeyAuth, String> {
///     Ok(KeyAuth { consumers: names(json, "consumers"), allow: Vec::new() })
/// }
///
/// #[parse_rule_config]
/// fn parse_rule(json: &Value, global: &KeyAuth) -> Result<KeyAuth, String> {
///     if json.get("consumers").is_some() {
///         return Err("consumers are configured globally, not per rule".into());
///     }
///     Ok(KeyAuth { consumers: global.consumers.clone(), allow: names(json, "allow") })
/// }
/// ```
#[proc_macro_attribute]
pub fn parse_rule_config(args: TokenStream, item: TokenStream) -> TokenStream {
    parse_config::expand(parse_config::Kind::RuleConfig, args.into(), item.into()).into()
}

/// Makes the plugin's config type an MCP server (the runtime's `mcp`
/// feature): `#[mcp_server(name = "weather", version = "1.0.0", tools =
/// [get_weather])]`, beside `#[plugin]`. Optional: `instructions = ".."`
/// (the `initialize` result's), `allow_tools = field` (the config's
/// `Option<Vec<String>>`, Higress's `allowTools`), `rest = field` (a
/// `gateway_plugin::mcp::RestServer`: Higress's REST-to-MCP tools from the
/// configuration, served after the written ones). The server serves the
/// request phases itself. See `gateway_plugin::mcp`.
#[proc_macro_attribute]
pub fn mcp_server(args: TokenStream, item: TokenStream) -> TokenStream {
    mcp_server::expand(args.into(), item.into()).into()
}

/// Makes a function a tool of the MCP server its second argument's config
/// type is: `fn name(call: &mut ToolCall, config: &Config, args: Args) ->
/// R` (or `async fn`), `Args: Deserialize + JsonSchema`, `R` a
/// `ToolResult`, `String` or `Result<_, E: Display>`. Its name is the
/// function's (`name = ".."` overrides), its description the doc comment.
/// See `gateway_plugin::mcp`.
#[proc_macro_attribute]
pub fn mcp_tool(args: TokenStream, item: TokenStream) -> TokenStream {
    mcp_tool::expand(args.into(), item.into()).into()
}
