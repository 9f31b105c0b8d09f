//! The compiled plugin on the in-process test host (wasmtime): the upstream
//! answers in chunks, each its own body callback, as a streaming server's
//! answer reaches a gateway.

use gateway_plugin_test::{Host, Response, Request, Vm};
use serde_json::json;

{{wasm_path}}

fn vm(upstream: fn() -> Response) -> Vm {
    Host::load(plugin_wasm())
        .unwrap()
        .upstream(move |_req| upstream())
        .configure(json!({"from": "world", "to": "there"}))
        .unwrap()
}

#[test]
fn rewrites_matches_split_over_chunks() {
    let vm = vm(|| {
        Response::new(200)
            .header("content-type", "text/plain")
            .chunks(["hello wo", "rld, world", "!"])
    });
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "hello there, there!");
}

#[test]
fn streams_chunks_on_before_the_body_ends() {
    let vm = vm(|| {
        Response::new(200)
            .header("content-type", "text/event-stream")
            .chunks(["data: hello world\n\n", "data: bye\n\n"])
    });
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.text(), "data: hello there\n\ndata: bye\n\n");
    let first = &resp.chunks()[0];
    assert!(first.text().starts_with("data: hello there"), "{:?}", resp.chunks());
    assert!(first.upstream_chunks_sent() < 2, "the first event waited for the body's end");
}

#[test]
fn leaves_binary_bodies_alone() {
    let vm = vm(|| {
        Response::new(200)
            .header("content-type", "application/octet-stream")
            .body("world")
    });
    assert_eq!(vm.request(Request::get("/")).unwrap().text(), "world");
}
