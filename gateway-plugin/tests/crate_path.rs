//! `crate = path` on every attribute: `fixtures/renamed-crate`
//! depends on gateway-plugin as `gw` (so it only compiles if no generated
//! code names `::gateway_plugin`), and works like any plugin.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request, Response};
use serde_json::json;

#[test]
fn a_plugin_on_a_renamed_dependency_runs_every_phase() {
    let vm = Host::load(plugin_wasm("renamed-crate"))
        .unwrap()
        .log_level("info")
        .upstream(|_| Response::new(200).chunks(["abc", "def"]))
        .configure(json!({
            "greeting": "hi",
            "_rules_": [{"_match_route_": ["r1"], "greeting": "from r1"}],
        }))
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("x-renamed"),
        Some("hi")
    );
    assert_eq!(resp.text(), "ABCDEF");
    let resp = vm.request(Request::get("/").route("r1")).unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("x-renamed"),
        Some("from r1")
    );
    assert!(vm.logs().iter().any(|l| l == "info [renamed-crate] done"));
    vm.tick().unwrap();
}
