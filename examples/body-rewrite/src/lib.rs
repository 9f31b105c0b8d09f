//! Exercises every phase: reads the JSON request body and adds a field to it,
//! marks responses with a header, checks the response body for a marker and
//! reports the check in the (JSON) response body, and logs each stream when
//! it is done.
//!
//! Configuration: `{"field": "name", "value": <any JSON>, "marker": "text"}`;
//! the request body gets `"name": value`; a JSON object response gets
//! `"bodyCheck": "found"` when its body contains `marker` (else `"missing"`).
//!
//! (The check goes into the body, not a header: by the time a body handler
//! runs, Envoy has sent the headers on.)

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
    debug!("request body: {} bytes", body.len());
    let mut json: Value = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) | Err(_) => {
            return ctx.send_response(
                400,
                &[("content-type", "text/plain")],
                b"body must be a JSON object",
            );
        }
    };
    json[config.field.as_str()] = config.value.clone();
    match serde_json::to_vec(&json) {
        Ok(new_body) => ctx.replace_request_body(&new_body),
        Err(err) => log::error!("cannot encode the body: {err}"),
    }
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
    // Linear in the body whatever the marker (a naive window scan is
    // O(body × marker): a 1 KiB marker in 1 MiB took a second).
    let marker = config.marker.as_bytes();
    let found = !marker.is_empty() && memchr::memmem::find(body, marker).is_some();
    // Only JSON objects are annotated; anything else passes unchanged.
    if let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(body) {
        let check = if found { "found" } else { "missing" };
        map.insert("bodyCheck".to_string(), Value::from(check));
        if let Ok(new_body) = serde_json::to_vec(&map) {
            ctx.replace_response_body(&new_body);
        }
    }
    Action::Continue
}

#[on_stream_done]
fn on_stream_done(ctx: &mut HttpContext, _config: &BodyRewrite) {
    if let Some(seen) = ctx.get::<Seen>() {
        log::info!("done: {} rewritten={}", seen.method, seen.rewritten);
    }
}
