//! `examples/my-plugin` in a real Envoy in front of a real echo backend.

use gateway_plugin_e2e::{get, request, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

#[test]
fn adds_the_hello_header_on_the_way_to_the_backend() {
    let backend = EchoBackend::start();
    let envoy =
        Envoy::start(EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({})))
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
fn bad_configuration_is_refused_with_field_and_reason_in_the_log() {
    let backend = EchoBackend::start();
    let result = Envoy::start(
        EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({"mockEnable": "yes"})),
    );

    // Envoy refuses a plugin whose on_configure fails: it does not start.
    let failed = match result {
        Ok(_) => panic!("Envoy started with a configuration the plugin must refuse"),
        Err(failed) => failed,
    };
    assert!(
        failed.log.contains(
            r#"[my-plugin] invalid configuration at mockEnable: invalid type: string "yes", expected a boolean"#
        ),
        "log was:\n{}",
        failed.log
    );
    assert!(
        failed
            .log
            .contains("Unable to create Wasm plugin my-plugin"),
        "log was:\n{}",
        failed.log
    );
}

#[test]
fn large_bodies_pass_untouched_without_a_body_handler() {
    // Envoy's default buffer limit is 1 MiB: a plugin that buffered bodies
    // would turn this request into a 413.
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("my-plugin", backend.port()))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let body = vec![b'x'; 3 << 20];

    let resp = request("POST", &envoy.url("/upload"), &[], &body).unwrap();

    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["body_len"], body.len());
}

#[test]
fn phases_without_a_handler_make_no_host_call() {
    // my-plugin has only a request-headers handler. Envoy's wasm trace log
    // shows every call between host and VM: the other phases must return
    // Continue (0) without calling the host.
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("my-plugin", backend.port()).wasm_log_level("trace"))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    request("POST", &envoy.url("/"), &[], b"a body").unwrap();
    envoy
        .wait_for_log("proxy_on_log")
        .expect("the stream finished");

    let log = envoy.log();
    let calls: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("] [").map(|(_, rest)| rest))
        .filter(|l| l.contains("host->vm]") || l.contains("vm->host]") || l.contains("host<-vm]"))
        .collect();
    for phase in [
        "proxy_on_request_body",
        "proxy_on_response_headers",
        "proxy_on_response_body",
    ] {
        let start = calls
            .iter()
            .position(|l| l.contains(&format!("[host->vm] {phase}(")))
            .unwrap_or_else(|| panic!("{phase} was not called:\n{}", calls.join("\n")));
        assert!(
            calls[start + 1].contains(&format!("[host<-vm] {phase} return: 0")),
            "{phase} made host calls or did not continue:\n{}",
            calls[start..(start + 4).min(calls.len())].join("\n")
        );
    }
}
