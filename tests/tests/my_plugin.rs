//! `examples/my-plugin` in a real Envoy in front of a real echo backend.

use gateway_plugin_tests::{get, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

#[test]
fn adds_the_hello_header_on_the_way_to_the_backend() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({})))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = get(&envoy.url("/some/path?q=1"));

    assert_eq!(resp.status, 200);
    let echo = resp.json();
    assert_eq!(echo["path"], "/some/path?q=1");
    assert_eq!(echo["headers"]["hello"], "world", "backend saw: {echo}");
}

#[test]
fn mock_enable_answers_without_the_backend() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(
        EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({"mockEnable": true})),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = get(&envoy.url("/anything"));

    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello world");
}

#[test]
fn no_configuration_means_default() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("my-plugin", backend.port()))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = get(&envoy.url("/"));

    assert_eq!(resp.json()["headers"]["hello"], "world");
}

#[test]
fn bad_configuration_is_refused_with_field_and_reason_in_the_log() {
    let backend = EchoBackend::start();
    let result = Envoy::start(
        EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({"mockEnable": "yes"})),
    );

    let log = match result {
        Ok(envoy) => {
            // Envoy may come up with the filter refusing requests; either way
            // the plugin must not run with a half-parsed config.
            let resp = get(&envoy.url("/"));
            assert_ne!(resp.text(), "hello world");
            envoy.log()
        }
        Err(failed) => failed.log,
    };
    assert!(
        log.contains(
            r#"[my-plugin] invalid configuration at mockEnable: invalid type: string "yes", expected a boolean"#
        ),
        "log was:\n{log}"
    );
}
