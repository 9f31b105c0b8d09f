//! The seed's http-call example, async: before a request goes upstream, ask a
//! token service (`GET requestPath` on the configured service) and copy its
//! `tokenHeader` response header into the request. A failed call or a
//! non-200 answer is answered 500 "http call failed".
//!
//! The caller's `authorization` header, if any, is passed on to the token
//! service (a token is issued for somebody). Both it and the token are
//! copied as bytes: an opaque credential is never re-encoded (one that is
//! not UTF-8 cannot be sent in a callout, and is refused: 500).

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "http-call")]
pub struct HttpCallConfig {
    client: HttpClient,
    request_path: String,
    token_header: String,
}

fn string<'a>(json: &'a Value, key: &str) -> &'a str {
    json.get(key).and_then(Value::as_str).unwrap_or("")
}

#[parse_config]
fn parse(json: &Value) -> Result<HttpCallConfig, String> {
    let token_header = string(json, "tokenHeader");
    if token_header.is_empty() {
        return Err("missing tokenHeader in config".into());
    }
    let request_path = string(json, "requestPath");
    if request_path.is_empty() {
        return Err("missing requestPath in config".into());
    }
    let service_name = string(json, "serviceName").to_string();
    let service_port = json
        .get("servicePort")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or(0);
    if service_name.is_empty() || service_port == 0 {
        return Err("invalid service config".into());
    }
    let namespace = string(json, "namespace").to_string();
    let client = match string(json, "serviceSource") {
        "k8s" => HttpClient::new(K8sCluster {
            service_name,
            namespace,
            port: service_port,
            ..Default::default()
        }),
        "nacos" => HttpClient::new(NacosCluster {
            service_name,
            namespace_id: namespace,
            port: service_port,
            ..Default::default()
        }),
        "ip" => HttpClient::new(StaticIpCluster {
            service_name,
            port: service_port,
            ..Default::default()
        }),
        "dns" => HttpClient::new(DnsCluster {
            service_name,
            domain: string(json, "domain").to_string(),
            port: service_port,
        }),
        other => return Err(format!("unknown service source: {other}")),
    };
    Ok(HttpCallConfig {
        client,
        request_path: request_path.to_string(),
        token_header: token_header.to_string(),
    })
}

#[on_request_headers]
async fn on_request_headers(ctx: &mut HttpContext, config: &HttpCallConfig) -> Action {
    // Credentials are opaque bytes: copied as bytes, never re-encoded.
    let mut call = config.client.get(&config.request_path);
    if let Some(authorization) = ctx.request_header_bytes("authorization") {
        call = call.header_bytes("authorization", &authorization);
    }
    let resp = match call.await {
        Ok(resp) if resp.status() == 200 => resp,
        Ok(resp) => {
            log::error!("http call failed, status: {}", resp.status());
            return ctx.send_response(500, &[], b"http call failed");
        }
        Err(err) => {
            log::error!("http call failed: {err}");
            return ctx.send_response(500, &[], b"http call failed");
        }
    };
    if let Some(token) = resp.header_bytes(&config.token_header) {
        ctx.add_request_header_bytes(&config.token_header, token);
    }
    Action::Continue // the framework resumes the paused request
}
