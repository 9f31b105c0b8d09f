//! The compiled plugin on the in-process test host (wasmtime). The token
//! service is a closure the host calls for every callout to its cluster
//! (`Host::cluster` would send them to a real server instead).

use gateway_plugin_test::{Host, Request, Response, Vm};
use serde_json::json;

{{wasm_path}}

/// The Envoy cluster the sample configuration's callouts go to.
const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn sample_config() -> serde_json::Value {
    serde_json::from_str(include_str!("../config.json")).unwrap()
}

fn vm_with_token_service(answer: impl Fn() -> Response + Send + Sync + 'static) -> Vm {
    Host::load(plugin_wasm())
        .unwrap()
        .cluster_fn(TOKEN_CLUSTER, move |req| {
            // The configured requestPath, or a 404 the test would notice.
            if req.path() != "/issue" {
                return Response::new(404);
            }
            answer()
        })
        .configure(sample_config())
        .unwrap()
}

#[test]
fn the_token_goes_upstream_with_the_request() {
    let vm = vm_with_token_service(|| Response::new(200).header("x-token", "t-123"));
    let resp = vm.request(Request::get("/api")).unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().expect("the request went upstream");
    assert_eq!(upstream.header("x-token"), Some("t-123"));
}

#[test]
fn a_failing_token_service_is_answered_503() {
    let vm = vm_with_token_service(|| Response::new(500));
    let resp = vm.request(Request::get("/api")).unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.upstream_request().is_none());
    assert!(
        vm.logs().iter().any(|l| l.contains("token service answered 500")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn a_token_service_that_times_out_is_answered_503() {
    let vm = Host::load(plugin_wasm())
        .unwrap()
        .cluster_timeout(TOKEN_CLUSTER)
        .configure(sample_config())
        .unwrap();
    assert_eq!(vm.request(Request::get("/api")).unwrap().status(), 503);
}

#[test]
fn a_configuration_without_token_header_is_refused() {
    let refused = Host::load(plugin_wasm())
        .unwrap()
        .configure(json!({"serviceFqdn": "token.static", "servicePort": 8080, "requestPath": "/"}));
    assert!(refused.is_err());
}
