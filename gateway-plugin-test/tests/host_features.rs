//! The host's non-HTTP features, driven by a plugin on the bare proxy-wasm
//! Rust SDK (`fixtures/host-features`): ticks, metrics, shared data and
//! its CAS, shared queues, properties, WASI stdout.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request, Response};

#[test]
fn ticks_metrics_shared_data_queues_properties_and_stdout() {
    let vm = Host::load(plugin_wasm("host-features"))
        .unwrap()
        .property("route_name", "api")
        .configure(serde_json::Value::Null)
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(vm.tick_period_ms(), 1000);
    vm.tick().unwrap();
    vm.tick().unwrap();
    assert_eq!(vm.metric("ticks"), Some(2));

    let resp = vm.request(Request::get("/a?x=1")).unwrap();
    let upstream = resp.upstream_request().unwrap();
    assert_eq!(
        upstream.header("x-ticks"),
        Some("2"),
        "shared data written on tick"
    );
    assert_eq!(
        upstream.header("x-route"),
        Some("api"),
        "a property the test set"
    );
    assert_eq!(
        upstream.header("x-path"),
        Some("/a?x=1"),
        "a built-in property"
    );
    assert_eq!(
        upstream.header("x-custom"),
        Some("v"),
        "a property the plugin set"
    );
    assert_eq!(
        upstream.header("x-cas"),
        Some("mismatch"),
        "a stale CAS is refused"
    );

    vm.request(Request::get("/b")).unwrap();
    assert_eq!(vm.metric("requests_total"), Some(2));
    assert_eq!(
        vm.metric("events_seen"),
        Some(2),
        "queued events reached on_queue_ready"
    );
    assert_eq!(vm.metric("no-such-metric"), None);
    assert!(
        vm.logs()
            .contains(&"info stdio: hello from stdout".to_string()),
        "{:?}",
        vm.logs()
    );
}

/// A test written as `.header(":authority", ..)` (and `:path`, `:method`,
/// `:scheme`) sets the request's own pseudo-header, as it did before the
/// host validated header names.
#[test]
fn pseudo_headers_given_as_headers_set_the_requests_own() {
    let vm = gateway_plugin_test::Host::load(plugin_wasm("my-plugin"))
        .unwrap()
        .configure(serde_json::json!({}))
        .unwrap();
    let resp = vm
        .request(
            Request::get("/")
                .header(":authority", "foo.com")
                .header(":PATH", "/a?b=1")
                .header(":method", "PUT")
                .header_bytes(":scheme", b"https"),
        )
        .unwrap();
    let upstream = resp.upstream_request().expect("reached the upstream");
    assert_eq!(upstream.authority(), "foo.com");
    assert_eq!(upstream.path(), "/a?b=1");
    assert_eq!(upstream.method(), "PUT");

    // And an upstream's answer given `:status` as a header has that status.
    let vm = gateway_plugin_test::Host::load(plugin_wasm("my-plugin"))
        .unwrap()
        .upstream(|_| Response::new(200).header(":status", "503"))
        .configure(serde_json::json!({}))
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 503);
}

#[test]
fn requests_a_gateway_would_refuse_are_refused_naming_the_header() {
    let vm = gateway_plugin_test::Host::load(plugin_wasm("my-plugin"))
        .unwrap()
        .configure(serde_json::json!({}))
        .unwrap();
    let cases = [
        (
            Request::get("/").header("x-a", "1\r\nx-injected: 1"),
            "x-a",
            "CR, LF or NUL",
        ),
        (
            Request::get("/").header("x-nul", "a\0b"),
            "x-nul",
            "CR, LF or NUL",
        ),
        (
            Request::get("/").header("bad name", "1"),
            "bad name",
            "not an HTTP token",
        ),
        (Request::get("/").header("", "1"), "", "empty name"),
        (
            Request::post("/").body("x").trailer("x-t", "a\nb"),
            "x-t",
            "CR, LF or NUL",
        ),
        (Request::get("/a\r\nb"), ":path", "CR, LF or NUL"),
        (
            Request::get("/").header(":authority", "a\nb"),
            ":authority",
            "CR, LF or NUL",
        ),
        (
            Request::get("/").header(":protocol", "websocket"),
            ":protocol",
            "not a request pseudo-header",
        ),
    ];
    for (request, header, reason) in cases {
        match vm.request(request) {
            Err(gateway_plugin_test::Error::BadRequest {
                header: h,
                reason: r,
            }) => {
                assert_eq!(h, header);
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("{header:?}: {other:?}"),
        }
    }
    // A well-formed request still goes through.
    assert_eq!(
        vm.request(Request::get("/").header("x-a", "1"))
            .unwrap()
            .status(),
        200
    );
}
