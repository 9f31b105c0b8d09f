//! Headers and the body phase in a real Envoy 1.40, with the Wasm filter's
//! `allow_on_headers_stop_iteration` on (as Higress behaves) and off
//! (upstream Envoy's default):
//!
//! - on: a body handler with `hold_headers` changes its message's headers
//!   (`fixtures/hold-headers`), and a body that arrives while an
//!   `async` headers handler waits still reaches the body handler
//!   (`fixtures/callout-chain`);
//! - off: the plugin's log says once, clearly, that the gateway does not
//!   let it hold headers, and later requests go through without the hold.

use gateway_plugin_e2e::{request, EchoBackend, Envoy, EnvoyConfig, TokenMode, TokenService};
use serde_json::json;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn start(config: EnvoyConfig) -> Envoy {
    Envoy::start(config.wasm_log_level("debug"))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

#[test]
fn with_the_option_on_a_body_handler_changes_its_headers() {
    let backend = EchoBackend::start();
    let envoy = start(
        EnvoyConfig::new("hold-headers", backend.port())
            .configuration(json!({}))
            .allow_on_headers_stop_iteration(true),
    );
    for i in 0..5 {
        let body = format!(r#"{{"model":"qwen-{i}","messages":[]}}"#);
        let resp = request("POST", &envoy.url("/v1/chat"), &[], body.as_bytes()).unwrap();
        assert_eq!(resp.status, 200, "{}\n{}", resp.text(), envoy.log());
        let echo: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        // The request header set in the body handler reached the backend...
        assert_eq!(echo["headers"]["x-model"], format!("qwen-{i}"), "{echo}");
        assert_eq!(echo["body"], body);
        // ...and the response header set in the response body handler, the client.
        assert_eq!(
            resp.header("x-body-bytes"),
            Some(resp.body.len().to_string().as_str())
        );
    }
    assert!(!envoy.log().contains("hold_headers:"));
}

#[test]
fn with_the_option_on_a_body_that_comes_while_an_async_headers_handler_waits_is_checked() {
    let backend = EchoBackend::start();
    // Slow tokens: the body is at the gateway long before the headers handler is done.
    let tokens = TokenService::start(TokenMode::Slow(std::time::Duration::from_millis(30)));
    let envoy = start(
        EnvoyConfig::new("callout-chain", backend.port())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .allow_on_headers_stop_iteration(true),
    );
    for i in 0..5 {
        let who = format!("user-{i}");
        let body = format!("hello-{i}");
        let resp = request(
            "POST",
            &envoy.url(&format!("/chain/{i}")),
            &[("authorization", &who)],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let text = resp.text();
        let (echo, _) = text.rsplit_once("\n#").unwrap_or_else(|| panic!("{text}"));
        let echo: serde_json::Value = serde_json::from_str(echo).unwrap();
        assert_eq!(
            echo["body"],
            format!("hello-{i};token-for-body:user-{i}"),
            "the body handler was skipped\n{}",
            envoy.log()
        );
        assert_eq!(
            echo["headers"]["x-chain"],
            format!("token-for-token-for-user-{i}")
        );
    }
}

#[test]
fn with_the_option_off_the_plugin_says_once_that_headers_cannot_be_held() {
    let backend = EchoBackend::start();
    let envoy = start(
        EnvoyConfig::new("hold-headers", backend.port())
            .configuration(json!({}))
            // The held request never reaches the upstream: Envoy answers 504.
            .request_timeout_ms(1000),
    );
    let body = br#"{"model":"qwen"}"#;
    let first = request("POST", &envoy.url("/v1/chat"), &[], body).unwrap();
    assert_eq!(first.status, 504, "{}", first.text());
    let line = envoy
        .wait_for_log("hold_headers: the gateway did not pass the request body")
        .unwrap_or_else(|| panic!("no hold_headers line\n{}", envoy.log()));
    assert!(line.contains("allow_on_headers_stop_iteration"), "{line}");

    // Later requests go through, without the header change (refused, and logged).
    for _ in 0..3 {
        let resp = request("POST", &envoy.url("/v1/chat"), &[], body).unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let echo: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(echo["headers"]["x-model"], serde_json::Value::Null);
        assert_eq!(echo["body"], String::from_utf8_lossy(body).as_ref());
    }
    assert!(envoy
        .wait_for_log("replace_request_header(\"x-model\")")
        .is_some());
    let log = envoy.log();
    assert_eq!(log.matches("hold_headers: the gateway").count(), 1, "{log}");
}
