//! The Higress `HttpContext` calls and metrics in a real Envoy
//! (`fixtures/higress-context`): what the plugin reads from upstream
//! Envoy, the metrics in `/stats`, and the local reply's details and the
//! user attributes in the access log.

use gateway_plugin_e2e::{get, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

#[test]
fn properties_metrics_details_and_access_log_attributes() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(
        EnvoyConfig::new("higress-context", backend.port())
            .virtual_hosts(json!([{"name": "all", "domains": ["*"], "routes": [
                {"name": "main-route", "match": {"prefix": "/"}, "route": {"cluster": "backend"}}
            ]}]))
            .access_log(
                "%RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %FILTER_STATE(wasm.custom_log:PLAIN)%\n",
            ),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let echo = get(&envoy.url("/abc")).json();
    let headers = &echo["headers"];
    assert_eq!(headers["x-route"], "main-route", "{echo}");
    assert_eq!(headers["x-cluster"], "backend", "{echo}");
    assert_eq!(headers["x-plugin-name"], "higress-context", "{echo}");
    // Envoy's `source.address` is `ip:port`: the peer is our loopback.
    assert_eq!(headers["x-peer-ip"], "127.0.0.1", "{echo}");
    assert_eq!(
        headers["x-request-id-seen"], headers["x-request-id"],
        "{echo}"
    );
    assert!(
        headers["x-downstream"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{echo}"
    );

    // Higress's log line: plugin id (none: `nil`) and the request's id.
    let request_id = headers["x-request-id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let line = format!("[higress-context] [nil] [{request_id}] request /abc");
    assert!(
        envoy.wait_for_log(&line).is_some(),
        "no {line:?} in\n{}",
        envoy.log()
    );

    let denied = get(&envoy.url("/deny"));
    assert_eq!(denied.status, 403);
    assert_eq!(denied.text(), "denied");

    // Metrics, as Envoy exports them.
    assert_eq!(envoy.stat("wasmcustom.higress_context_requests"), Some(2));
    assert_eq!(
        envoy.stat("wasmcustom.higress_context_last_path_len"),
        Some(5)
    );

    // The access log: the details of the local reply, and the attributes.
    // Every property the handler wrote through `HttpContext` (custom_log,
    // trace_span_tag.model, clear_route_cache) was taken by Envoy: a
    // refused one logs a `set_property(..)` warning.
    assert!(!envoy.log().contains("set_property("), "{}", envoy.log());
    let lines = envoy.access_log(2);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("403 higress_context.denied")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("200 via_upstream")
            && l.contains(r#"{\"model\":\"qwen\",\"tokens\":42}"#)),
        "{lines:?}"
    );

    // A query parameter removed and one set: the upstream gets the new
    // `:path`, the other pairs as the client sent them.
    let echo = get(&envoy.url("/query?z=%7e&apikey=k1&page=9&q=a+b")).json();
    assert_eq!(echo["path"], "/query?z=%7e&page=1&q=a+b", "{echo}");
    assert_eq!(echo["headers"]["x-apikey"], "k1", "{echo}");
}
