//! {{name}}: before a request goes upstream, asks a token service
//! (`GET requestPath` on `serviceFqdn:servicePort`) for a token and copies the
//! answer's `tokenHeader` header into the request. The request waits in the
//! gateway during the call (`.await`). A failed call or a non-200 answer is
//! answered 503.
//!
//! Configuration: `{"serviceFqdn": "token.static", "servicePort": 8080,
//! "requestPath": "/issue", "tokenHeader": "x-token", "timeoutMs": 500}`.
//! In Higress, `token.static` is a service source of type "static"; the
//! callout goes to Envoy cluster `outbound|8080||token.static`.

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;
use std::time::Duration;

#[plugin(name = "{{name}}")]
pub struct Config {
    client: HttpClient,
    request_path: String,
    token_header: String,
    timeout: Duration,
}

/// A JSON object's string field, or an error naming it.
fn text<'a>(json: &'a Value, key: &str) -> Result<&'a str, String> {
    match json.get(key).and_then(Value::as_str) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("missing {key} in config")),
    }
}

#[parse_config]
fn parse(json: &Value) -> Result<Config, String> {
    let port = json
        .get("servicePort")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0)
        .ok_or("servicePort must be a port number")?;
    let timeout_ms = json.get("timeoutMs").and_then(Value::as_u64).unwrap_or(500);
    Ok(Config {
        client: HttpClient::new(FqdnCluster {
            fqdn: text(json, "serviceFqdn")?.to_string(),
            port,
            ..Default::default()
        }),
        request_path: text(json, "requestPath")?.to_string(),
        token_header: text(json, "tokenHeader")?.to_string(),
        timeout: Duration::from_millis(timeout_ms),
    })
}

#[on_request_headers]
async fn on_request_headers(ctx: &mut HttpContext, config: &Config) -> Action {
    let call = config
        .client
        .get(&config.request_path)
        .timeout(config.timeout);
    match call.await {
        Ok(resp) if resp.status() == 200 => {
            if let Some(token) = resp.header(&config.token_header) {
                ctx.add_request_header(&config.token_header, token);
            }
            Action::Continue // the framework resumes the paused request
        }
        Ok(resp) => {
            log::error!("token service answered {}", resp.status());
            ctx.send_response(503, &[], b"token service unavailable\n")
        }
        Err(err) => {
            log::error!("token service call failed: {err}");
            ctx.send_response(503, &[], b"token service unavailable\n")
        }
    }
}
