//! `examples/body-rewrite` in a real Envoy: every phase, body buffering, and
//! logging through the `log` crate at the host's level.

use gateway_plugin_e2e::{request, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

fn start(backend: &EchoBackend, level: &'static str) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("body-rewrite", backend.port())
            .configuration(json!({"field": "added", "value": {"x": true}, "marker": "added"}))
            .wasm_log_level(level),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

#[test]
fn rewrites_the_request_body_and_checks_the_response_body() {
    let backend = EchoBackend::start();
    let envoy = start(&backend, "info");

    let resp = request(
        "POST",
        &envoy.url("/rewrite"),
        &[("content-type", "application/json")],
        br#"{"a": 1}"#,
    )
    .unwrap();

    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.json();
    let seen_body: serde_json::Value =
        serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
    assert_eq!(seen_body, json!({"a": 1, "added": {"x": true}}));
    // The body changed length: the stale content-length was dropped and the
    // body travelled chunked, whole.
    assert!(
        echo["headers"].get("content-length").is_none(),
        "backend saw {echo}"
    );
    assert_eq!(echo["headers"]["transfer-encoding"], "chunked");
    // Response phases: a header from the headers handler, and the body
    // handler's check of the body (the echo contains "added").
    assert_eq!(resp.header("x-plugin"), Some("body-rewrite"));
    assert_eq!(echo["bodyCheck"], "found");
}

#[test]
fn log_lines_carry_the_plugin_name_at_the_hosts_level() {
    let backend = EchoBackend::start();
    let envoy = start(&backend, "info");
    request("POST", &envoy.url("/"), &[], br#"{"a": 1}"#).unwrap();

    let line = envoy
        .wait_for_log("[body-rewrite] done: POST rewritten=true")
        .unwrap_or_else(|| panic!("no stream-done line in:\n{}", envoy.log()));
    assert!(line.contains("[info]"), "{line}");
    // The debug line is below the host's level: filtered out.
    assert!(
        !envoy.log().contains("[body-rewrite] request body:"),
        "{}",
        envoy.log()
    );
}
