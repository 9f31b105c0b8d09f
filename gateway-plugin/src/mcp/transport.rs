//! Streamable HTTP: the request phases of an MCP server. The headers say
//! what the request may be (`POST` with JSON, a session this server issued,
//! a protocol version it speaks); the body holds the message or batch,
//! answered with `application/json`, or `text/event-stream` to a client
//! that accepts only that. `GET` (no server stream here) is 405, `DELETE`
//! ends the session (see `session.rs`: nothing to forget).

use super::jsonrpc::{self, INVALID_REQUEST, PARSE_ERROR};
use super::server::{answer, Exchange, McpServer};
use super::session;
use crate::context::HttpContext;
use crate::executor::{boxed_task, TaskFuture};
use proxy_wasm::types::Action;
use serde_json::Value;
use std::rc::Rc;

/// Higress's request header that narrows the allowed tools (a
/// comma-separated list; see `allowTools`).
pub const ALLOW_TOOLS_HEADER: &str = "x-envoy-allow-mcp-tools";

/// What the headers said, for the body phase.
struct Request {
    version: &'static str,
    has_session: bool,
    sse_only: bool,
    allowed: Option<Vec<String>>,
}

/// The request headers phase of an MCP server (`#[mcp_server]` installs
/// it).
pub fn on_request_headers<C: McpServer>(ctx: &mut HttpContext, config: &C) -> Action {
    let method = ctx.method().to_string();
    let session = match ctx.request_header("mcp-session-id") {
        None => None,
        Some(id) => match session::verify(C::SERVER_NAME, &id) {
            Some(version) => Some(version),
            None => {
                return refuse(
                    ctx,
                    404,
                    "unknown session: start a new one with `initialize`",
                )
            }
        },
    };
    match method.as_str() {
        "POST" => {}
        "DELETE" if session.is_some() => return ctx.send_response(200, &[], b""),
        "DELETE" => return refuse(ctx, 400, "no Mcp-Session-Id to end"),
        "GET" => {
            // No server-to-client stream: every answer is in its POST's response.
            return ctx.send_response(405, &[("allow", "POST, DELETE")], b"");
        }
        _ => return ctx.send_response(405, &[("allow", "POST, DELETE")], b""),
    }
    if let Some(content_type) = ctx.request_header("content-type") {
        if !media_type_is(&content_type, "application/json") {
            return refuse(
                ctx,
                415,
                "the body must be `Content-Type: application/json`",
            );
        }
    }
    let accept = ctx.request_header("accept").unwrap_or_default();
    let (json_ok, sse_ok) = accepts(&accept);
    if !json_ok && !sse_ok {
        return refuse(
            ctx,
            406,
            "the client must accept `application/json` or `text/event-stream`",
        );
    }
    let header_version = match ctx.request_header("mcp-protocol-version") {
        None => None,
        Some(version) => match session::supported(version.trim()) {
            Some(version) => Some(version),
            None => {
                let message = format!(
                    "unsupported MCP-Protocol-Version {version:?}; supported: {}",
                    session::SUPPORTED_VERSIONS.join(", ")
                );
                return refuse(ctx, 400, &message);
            }
        },
    };
    if !ctx.has_request_body() {
        return refuse_with(ctx, 400, PARSE_ERROR, "parse error: the body is empty");
    }
    let length = ctx.request_header("content-length");
    if let Some(length) = length.and_then(|l| l.trim().parse::<u64>().ok()) {
        if length > C::MAX_REQUEST_BODY as u64 {
            let message = format!(
                "invalid request: the body has {length} bytes, more than the {} this server reads",
                C::MAX_REQUEST_BODY
            );
            return refuse(ctx, 413, &message);
        }
    }
    let allowed = allowed_tools(config.allow_tools(), ctx.request_header(ALLOW_TOOLS_HEADER));
    ctx.remove_request_header(ALLOW_TOOLS_HEADER);
    ctx.set(Request {
        version: header_version
            .or(session)
            .unwrap_or(session::ASSUMED_VERSION),
        has_session: session.is_some(),
        sse_only: sse_ok && !json_ok,
        allowed,
    });
    Action::Continue
}

/// The request body phase of an MCP server: the messages, answered.
pub fn on_request_body<C: McpServer>(
    mut ctx: HttpContext,
    config: Rc<C>,
    body: Vec<u8>,
) -> TaskFuture {
    boxed_task(async move {
        let action = serve(&mut ctx, &*config, &body).await;
        (ctx, action)
    })
}

async fn serve<C: McpServer>(ctx: &mut HttpContext, config: &C, body: &[u8]) -> Action {
    let Some(mut request) = ctx.take::<Request>() else {
        // The headers phase answered already (or never ran).
        return Action::Continue;
    };
    let message: Value = match serde_json::from_slice(body) {
        Ok(message) => message,
        Err(err) => {
            let message = format!("parse error: {err}");
            return send(
                ctx,
                &request,
                None,
                400,
                jsonrpc::error(Value::Null, PARSE_ERROR, &message),
            );
        }
    };
    let mut exchange = Exchange {
        version: request.version,
        has_session: request.has_session,
        allowed: request.allowed.take(),
        issued_session: None,
    };
    let (status, reply) = match message {
        Value::Array(messages) => {
            if !session::allows_batches(exchange.version) {
                let message = format!(
                    "invalid request: protocol version {} has no batches (2025-03-26 and before do)",
                    exchange.version
                );
                (
                    400,
                    Some(jsonrpc::error(Value::Null, INVALID_REQUEST, &message)),
                )
            } else if messages.is_empty() {
                let error = jsonrpc::error(
                    Value::Null,
                    INVALID_REQUEST,
                    "invalid request: an empty batch",
                );
                (400, Some(error))
            } else {
                let mut answers = Vec::new();
                for message in messages {
                    if let Some(reply) = answer(&mut exchange, ctx, config, message, true).await {
                        answers.push(reply);
                    }
                }
                (200, (!answers.is_empty()).then_some(Value::Array(answers)))
            }
        }
        message => {
            let reply = answer(&mut exchange, ctx, config, message, false).await;
            // A message that is not a request at all is the HTTP request's fault.
            let status = match &reply {
                Some(reply) if reply["error"]["code"] == INVALID_REQUEST => 400,
                _ => 200,
            };
            (status, reply)
        }
    };
    match reply {
        Some(reply) => send(
            ctx,
            &request,
            exchange.issued_session.as_deref(),
            status,
            reply,
        ),
        None => ctx.send_response(202, &[], b""),
    }
}

fn send(
    ctx: &mut HttpContext,
    request: &Request,
    session: Option<&str>,
    status: u32,
    reply: Value,
) -> Action {
    let json = reply.to_string();
    let mut headers = Vec::with_capacity(2);
    if let Some(session) = session {
        headers.push(("mcp-session-id", session));
    }
    if request.sse_only {
        headers.push(("content-type", "text/event-stream"));
        let event = format!("event: message\ndata: {json}\n\n");
        ctx.send_response(status, &headers, event.as_bytes())
    } else {
        headers.push(("content-type", "application/json"));
        ctx.send_response(status, &headers, json.as_bytes())
    }
}

/// Refuses the request in its headers phase: a JSON-RPC error with a null
/// id (the body is not read).
fn refuse(ctx: &mut HttpContext, status: u32, message: &str) -> Action {
    refuse_with(ctx, status, INVALID_REQUEST, message)
}

fn refuse_with(ctx: &mut HttpContext, status: u32, code: i64, message: &str) -> Action {
    let body = jsonrpc::error(Value::Null, code, message).to_string();
    ctx.send_response(
        status,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

/// Whether a `Content-Type` value names `media` (parameters ignored).
fn media_type_is(value: &str, media: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
}

/// Whether an `Accept` value takes JSON, and whether it takes SSE. No
/// `Accept` takes anything.
fn accepts(accept: &str) -> (bool, bool) {
    if accept.trim().is_empty() {
        return (true, false);
    }
    let mut json = false;
    let mut sse = false;
    for media in accept.split(',') {
        let media = media
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json" | "application/*" | "*/*" => json = true,
            "text/event-stream" => sse = true,
            _ => {}
        }
    }
    (json, sse)
}

/// The allowed tools: the config's list, narrowed by the request header's
/// (Higress's rules: no header or an empty one narrows nothing; both given,
/// the tools in both).
fn allowed_tools(config: Option<&[String]>, header: Option<String>) -> Option<Vec<String>> {
    let from_header: Option<Vec<String>> = header.filter(|h| !h.is_empty()).map(|h| {
        h.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    });
    match (config, from_header) {
        (None, None) => None,
        (Some(config), None) => Some(config.to_vec()),
        (None, Some(header)) => Some(header),
        (Some(config), Some(header)) => {
            Some(header.into_iter().filter(|t| config.contains(t)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers() {
        assert_eq!(accepts(""), (true, false));
        assert_eq!(accepts("application/json, text/event-stream"), (true, true));
        assert_eq!(accepts("text/event-stream"), (false, true));
        assert_eq!(accepts("Application/JSON;q=0.9"), (true, false));
        assert_eq!(accepts("*/*"), (true, false));
        assert_eq!(accepts("text/html"), (false, false));
        assert!(media_type_is(
            "application/json; charset=utf-8",
            "application/json"
        ));
        assert!(!media_type_is("text/plain", "application/json"));
    }

    #[test]
    fn allowed_tools_as_higress_combines_them() {
        let config = vec!["a".to_string(), "b".to_string()];
        let s = |v: &[&str]| Some(v.iter().map(|t| t.to_string()).collect::<Vec<_>>());
        assert_eq!(allowed_tools(None, None), None);
        assert_eq!(allowed_tools(None, Some(String::new())), None);
        assert_eq!(allowed_tools(None, Some(" b , c,".into())), s(&["b", "c"]));
        assert_eq!(allowed_tools(None, Some(" , ,".into())), s(&[]));
        assert_eq!(allowed_tools(Some(&config), None), s(&["a", "b"]));
        assert_eq!(allowed_tools(Some(&config), Some("b,c".into())), s(&["b"]));
    }
}
