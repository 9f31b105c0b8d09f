//! Exercises every phase: reads the JSON request body and adds a field to it,
//! checks the response body and reports the check in a response header, and
//! logs each stream when it is done.
//!
//! Configuration: `{"field": "name", "value": <any JSON>, "marker": "text"}`;
//! the request body gets `"name": value`, and responses whose body contains
//! `marker` get `x-body-check: found` (else `missing`).

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::{self, Value};

#[plugin(name = "body-rewrite")]
#[derive(Deserialize)]
pub struct BodyRewrite {
    field: String,
    value: Value,
    #[serde(default = "default_marker")]
    marker: String,
}

fn default_marker() -> String {
    "ok".to_string()
}

/// What the request phases learned, read again when the stream is done.
struct Seen {
    method: String,
    rewritten: bool,
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, _config: &BodyRewrite) -> Action {
    let method = ctx.method().to_string();
    ctx.set(Seen {
        method,
        rewritten: false,
    });
    Action::Continue
}

#[on_request_body]
fn on_request_body(ctx: &mut HttpContext, config: &BodyRewrite, body: &[u8]) -> Action {
    let mut json: Value = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) | Err(_) => {
            return ctx.send_response(400, &[("content-type", "text/plain")], b"body must be a JSON object");
        }
    };
    json[config.field.as_str()] = config.value.clone();
    match serde_json::to_vec(&json) {
        Ok(new_body) => ctx.replace_request_body(&new_body),
        Err(err) => log::error!("cannot encode the body: {err}"),
    }
    ctx.add_request_header("x-body-rewritten", "true");
    if let Some(seen) = ctx.get_mut::<Seen>() {
        seen.rewritten = true;
    }
    Action::Continue
}

#[on_response_headers]
fn on_response_headers(ctx: &mut HttpContext, _config: &BodyRewrite) -> Action {
    ctx.add_response_header("x-plugin", "body-rewrite");
    Action::Continue
}

#[on_response_body]
fn on_response_body(ctx: &mut HttpContext, config: &BodyRewrite, body: &[u8]) -> Action {
    let found = body
        .windows(config.marker.len().max(1))
        .any(|w| w == config.marker.as_bytes());
    ctx.add_response_header("x-body-check", if found { "found" } else { "missing" });
    Action::Continue
}

#[on_stream_done]
fn on_stream_done(ctx: &mut HttpContext, _config: &BodyRewrite) {
    if let Some(seen) = ctx.get::<Seen>() {
        log::info!("done: {} rewritten={}", seen.method, seen.rewritten);
    }
}
