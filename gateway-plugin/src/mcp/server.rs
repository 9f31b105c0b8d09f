//! The MCP methods: `initialize` with version negotiation, `ping`,
//! notifications, `tools/list` (the allowed tools, by pages) and
//! `tools/call`; one message or a batch of them in, the JSON-RPC answer out.

use super::jsonrpc::{self, Incoming, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use super::rest::RestServer;
use super::session;
use super::tool::{Tool, ToolCall};
use crate::context::HttpContext;
use crate::plugin::Plugin;
use serde_json::{json, Map, Value};
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::rc::Rc;

/// An MCP server: a plugin config with `#[mcp_server(..)]`. The attribute
/// implements it, and the request phases that serve the protocol.
pub trait McpServer: Plugin {
    /// `serverInfo.name`.
    const SERVER_NAME: &'static str;
    /// `serverInfo.version`.
    const SERVER_VERSION: &'static str;
    /// `instructions` of the `initialize` result, if any.
    const INSTRUCTIONS: Option<&'static str> = None;
    /// The tools, in `tools/list`'s order.
    const TOOLS: &'static [Tool<Self>];
    /// Tools per page of `tools/list` (the rest follow a `nextCursor`).
    const PAGE_SIZE: usize = 100;
    /// The largest POST body read, in bytes: one announced larger
    /// (`Content-Length`) is refused with 413 and a JSON-RPC error before
    /// any of it is buffered. (A chunked body meets the gateway's own
    /// buffer limit instead: Envoy's 1 MiB per connection by default.)
    const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

    /// The tools this configuration allows (Higress's `allowTools`):
    /// `None` allows every tool. The request header
    /// `x-envoy-allow-mcp-tools` narrows it further.
    fn allow_tools(&self) -> Option<&[String]> {
        None
    }

    /// A REST-to-MCP server from this configuration (Higress's
    /// `mcp-server`; `#[mcp_server(rest = field)]`): its tools are listed
    /// after [`TOOLS`](Self::TOOLS), called when none of those has the
    /// name, and its `server.name` is the `serverInfo.name`.
    fn rest(&self) -> Option<&RestServer> {
        None
    }

    /// Whether [`rest`](Self::rest) can give a server (set with it by
    /// `#[mcp_server(rest = ..)]`): a constant, so a server without one
    /// carries none of the REST code.
    const HAS_REST: bool = false;
}

/// The configured REST server, if the server type has one.
/// A constant branch is what lets a server without REST tools drop their
/// code (and the template engine's) at `opt-level = "z"`.
#[inline(always)]
fn rest_of<C: McpServer>(config: &C) -> Option<&RestServer> {
    match C::HAS_REST {
        true => config.rest(),
        false => None,
    }
}

/// What one POST's messages are answered in.
pub(crate) struct Exchange {
    /// The session's protocol version (or the one assumed).
    pub(crate) version: &'static str,
    /// Whether the request named a session this server issued.
    pub(crate) has_session: bool,
    /// The allowed tools, from the config and the request header (`None`:
    /// all).
    pub(crate) allowed: Option<Vec<String>>,
    /// The session id issued by an `initialize` of this exchange.
    pub(crate) issued_session: Option<String>,
}

/// The answer to one message: `None` for a notification or a response.
pub(crate) async fn answer<C: McpServer>(
    exchange: &mut Exchange,
    ctx: &mut HttpContext,
    config: &C,
    message: Value,
    in_batch: bool,
) -> Option<Value> {
    match jsonrpc::classify(message) {
        Incoming::Invalid { id, reason } => Some(jsonrpc::error(id, INVALID_REQUEST, &reason)),
        Incoming::Notification { .. } | Incoming::Response => None,
        Incoming::Request { id, method, params } => {
            if method != "initialize" && !exchange.has_session && exchange.issued_session.is_none()
            {
                return Some(jsonrpc::error(
                    id,
                    INVALID_REQUEST,
                    "no session: send `initialize` first, then its Mcp-Session-Id header",
                ));
            }
            let answer = match method.as_str() {
                "initialize" if in_batch => Err((
                    INVALID_REQUEST,
                    "`initialize` cannot be part of a batch".to_string(),
                )),
                "initialize" => initialize(exchange, config, &params),
                "ping" => Ok(json!({})),
                "tools/list" => tools_list(exchange, config, &params),
                "tools/call" => tools_call(exchange, ctx, config, params).await,
                _ => Err((METHOD_NOT_FOUND, format!("method not found: {method}"))),
            };
            Some(match answer {
                Ok(result) => jsonrpc::result(id, result),
                Err((code, message)) => jsonrpc::error(id, code, &message),
            })
        }
    }
}

type Answer = Result<Value, (i64, String)>;

fn initialize<C: McpServer>(exchange: &mut Exchange, config: &C, params: &Value) -> Answer {
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    if requested.is_none() {
        return Err((INVALID_PARAMS, "`protocolVersion` is required".into()));
    }
    let version = session::negotiate(requested);
    exchange.version = version;
    exchange.issued_session = Some(session::issue(C::SERVER_NAME, version));
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {
            "name": rest_of(config).map_or(C::SERVER_NAME, RestServer::name),
            "version": C::SERVER_VERSION,
        },
    });
    if let Some(instructions) = C::INSTRUCTIONS {
        result["instructions"] = instructions.into();
    }
    Ok(result)
}

fn allowed(exchange: &Exchange, name: &str) -> bool {
    match &exchange.allowed {
        None => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn tools_list<C: McpServer>(exchange: &Exchange, config: &C, params: &Value) -> Answer {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => cursor
            .parse::<usize>()
            .map_err(|_| (INVALID_PARAMS, format!("invalid cursor: {cursor:?}")))?,
        Some(other) => return Err((INVALID_PARAMS, format!("invalid cursor: {other}"))),
    };
    let listed = listing::<C>();
    let structured = session::has_structured_content(exchange.version);
    // The written tools, then the configured ones: (name, entry).
    let written = C::TOOLS
        .iter()
        .zip(listed.iter())
        .map(|(tool, (plain, full))| {
            (
                tool.name,
                if structured {
                    full.clone()
                } else {
                    plain.clone()
                },
            )
        });
    let configured = rest_of(config)
        .into_iter()
        .flat_map(RestServer::entries)
        .map(|(name, entry)| {
            let mut entry = entry.clone();
            if !structured {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("outputSchema");
                }
            }
            (name, entry)
        });
    let mut tools = Vec::new();
    let mut next = None;
    for (index, (name, entry)) in written.chain(configured).enumerate().skip(start) {
        if !allowed(exchange, name) {
            continue;
        }
        if tools.len() == C::PAGE_SIZE {
            next = Some(index.to_string());
            break;
        }
        tools.push(entry);
    }
    let mut result = Map::new();
    result.insert("tools".into(), Value::Array(tools));
    if let Some(next) = next {
        result.insert("nextCursor".into(), next.into());
    }
    Ok(Value::Object(result))
}

/// Each tool's `tools/list` entry, without and with `outputSchema` (in
/// `C::TOOLS`' order).
type Listing = Vec<(Value, Value)>;

/// The entries of `C`'s tools: built once per VM and server type, on the
/// first `tools/list`, never per request.
fn listing<C: McpServer>() -> Rc<Listing> {
    thread_local! {
        static LISTINGS: RefCell<Vec<(TypeId, Rc<dyn Any>)>> = const { RefCell::new(Vec::new()) };
    }
    LISTINGS.with(|listings| {
        let mut listings = listings.borrow_mut();
        if let Some((_, found)) = listings.iter().find(|(id, _)| *id == TypeId::of::<C>()) {
            if let Ok(found) = found.clone().downcast::<Listing>() {
                return found;
            }
        }
        let built: Rc<Listing> = Rc::new(
            C::TOOLS
                .iter()
                .map(|tool| {
                    let mut entry = Map::new();
                    entry.insert("name".into(), tool.name.into());
                    if !tool.description.is_empty() {
                        entry.insert("description".into(), tool.description.into());
                    }
                    entry.insert("inputSchema".into(), (tool.input_schema)());
                    let plain = Value::Object(entry.clone());
                    if let Some(output) = (tool.output_schema)() {
                        entry.insert("outputSchema".into(), output);
                    }
                    (plain, Value::Object(entry))
                })
                .collect(),
        );
        listings.push((TypeId::of::<C>(), built.clone()));
        built
    })
}

async fn tools_call<C: McpServer>(
    exchange: &Exchange,
    ctx: &mut HttpContext,
    config: &C,
    params: Value,
) -> Answer {
    let Value::Object(mut params) = params else {
        return Err((INVALID_PARAMS, "`params` must be an object".into()));
    };
    let name = match params.remove("name") {
        Some(Value::String(name)) => name,
        _ => return Err((INVALID_PARAMS, "`name` (the tool's) is required".into())),
    };
    if !allowed(exchange, &name) {
        return Err((INVALID_PARAMS, format!("Tool not allowed: {name}")));
    }
    let written = C::TOOLS.iter().find(|tool| tool.name == name);
    let configured = rest_of(config).filter(|rest| rest.tool_names().any(|n| n == name));
    if written.is_none() && configured.is_none() {
        return Err((INVALID_PARAMS, format!("unknown tool: {name}")));
    }
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(arguments @ Value::Object(_)) => arguments,
        Some(_) => return Err((INVALID_PARAMS, "`arguments` must be an object".into())),
    };
    // The call owns the context while the tool runs (a fresh one stands in).
    let http = std::mem::replace(ctx, HttpContext::new(ctx.context_id()));
    let mut call = ToolCall::new(http, name.clone(), arguments.clone(), exchange.version);
    let outcome = match (written, configured) {
        (Some(tool), _) => (tool.call)(&mut call, config, arguments).await,
        // Boxed, so a server without REST tools carries none of their code
        // (an awaited future's code stays in the state machine).
        (None, Some(rest)) if C::HAS_REST => rest.call_boxed(&mut call, &name, &arguments).await,
        _ => Err(format!("unknown tool: {name}")),
    };
    *ctx = call.into_context();
    match outcome {
        Ok(result) => Ok(result.to_json(session::has_structured_content(exchange.version))),
        Err(message) => Err((INVALID_PARAMS, message)),
    }
}
