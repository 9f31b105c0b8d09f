//! The README's "Testing your plugin" tests, as written there except for
//! where the `.wasm` comes from (built here by the test harness). Keep the
//! two in step.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request, Response};
use serde_json::json;

#[test]
fn adds_hello_world_and_mocks() {
    let host = Host::load(plugin_wasm("my-plugin")).unwrap();

    // Passes requests on, with `hello: world` added.
    let vm = host
        .clone()
        .configure(json!({"mockEnable": false}))
        .unwrap();
    let resp = vm.request(Request::get("/path").header("a", "b")).unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().expect("went upstream");
    assert_eq!(upstream.header("hello"), Some("world"));

    // Answers itself when mocking.
    let vm = host.clone().configure(json!({"mockEnable": true})).unwrap();
    let resp = vm.request(Request::post("/").body("hi")).unwrap();
    assert_eq!(resp.text(), "hello world");
    assert!(resp.upstream_request().is_none());

    // Refuses a bad configuration, saying why.
    let err = host.configure(json!({"mockEnable": "yes"})).err().unwrap();
    assert!(err
        .logs()
        .iter()
        .any(|l| l.contains("invalid configuration at mockEnable")));
}

#[test]
fn callouts_go_where_you_say() {
    let vm = Host::load(plugin_wasm("http-call"))
        .unwrap()
        .cluster_fn("outbound|8080||token.static", |req| {
            Response::new(200).header("x-token", &format!("for {}", req.path()))
        })
        // or .cluster(name, "127.0.0.1:8080") for a real server,
        // or .cluster_timeout(name) for one that never answers
        .configure(
            json!({"serviceSource": "ip", "serviceName": "token", "servicePort": 8080,
                          "requestPath": "/issue", "tokenHeader": "x-token"}),
        )
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("x-token"),
        Some("for /issue")
    );
    println!("{} Wasm instructions", resp.fuel());
}
