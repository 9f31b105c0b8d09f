//! `examples/route-rules` on the test host: a value per route, per domain,
//! else the global one; with only `_rules_`, untouched elsewhere.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request};
use serde_json::json;

fn served_by(vm: &gateway_plugin_test::Vm, request: Request) -> Option<String> {
    let resp = vm.request(request).unwrap();
    resp.upstream_request()?
        .header("x-served-by")
        .map(str::to_string)
}

#[test]
fn a_value_per_route_and_domain_else_the_global_one() {
    let rules = json!([
        {"_match_route_": ["checkout"], "value": "checkout-team"},
        {"_match_domain_": ["*.example.com"], "value": "example-team"},
    ]);
    let host = Host::load(plugin_wasm("route-rules")).unwrap();
    let vm = host
        .clone()
        .configure(json!({"value": "default", "_rules_": rules}))
        .unwrap();
    let checkout = Request::get("/")
        .route("checkout")
        .header("host", "shop.example.com");
    assert_eq!(served_by(&vm, checkout).as_deref(), Some("checkout-team"));
    let domain = Request::get("/").header("host", "api.example.com:8443");
    assert_eq!(served_by(&vm, domain).as_deref(), Some("example-team"));
    assert_eq!(
        served_by(&vm, Request::get("/")).as_deref(),
        Some("default")
    );

    let vm = host.configure(json!({"_rules_": rules})).unwrap();
    assert_eq!(served_by(&vm, Request::get("/")), None);
    let checkout = Request::get("/").route("checkout");
    assert_eq!(served_by(&vm, checkout).as_deref(), Some("checkout-team"));
}
