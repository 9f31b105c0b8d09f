//! The compiled plugin on the in-process test host (wasmtime).

use gateway_plugin_test::{Host, Request};
use serde_json::json;

{{wasm_path}}

#[test]
fn adds_the_configured_header_and_goes_upstream() {
    let vm = Host::load(plugin_wasm())
        .unwrap()
        .configure(json!({"headerName": "x-hello", "headerValue": "world"}))
        .unwrap();
    let resp = vm.request(Request::get("/path")).unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().expect("the request went upstream");
    assert_eq!(upstream.header("x-hello"), Some("world"));
    assert_eq!(upstream.path(), "/path");
}

#[test]
fn mock_answers_without_the_upstream() {
    let vm = Host::load(plugin_wasm())
        .unwrap()
        .configure(json!({"mockEnable": true, "mockBody": "hello world"}))
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "hello world");
    assert!(resp.upstream_request().is_none());
}

#[test]
fn a_configuration_with_a_typo_is_refused() {
    let refused = Host::load(plugin_wasm())
        .unwrap()
        .configure(json!({"mockEnabled": true}));
    assert!(refused.is_err(), "an unknown field must be refused");
}

#[test]
fn the_sample_configuration_loads() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../config.json")).unwrap();
    let vm = Host::load(plugin_wasm()).unwrap().configure(sample).unwrap();
    assert_eq!(vm.request(Request::get("/")).unwrap().status(), 200);
}
