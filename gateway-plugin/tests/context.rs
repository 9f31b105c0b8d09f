//! The Higress `HttpContext` calls and metrics (`fixtures/higress-context`)
//! on the test host: what a plugin reads, what it leaves on the stream.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request};

fn vm() -> gateway_plugin_test::Vm {
    Host::load(plugin_wasm("higress-context"))
        .unwrap()
        .property("plugin_name", "higress-context")
        .configure(serde_json::Value::Null)
        .unwrap()
}

#[test]
fn reads_route_cluster_request_id_address_and_plugin_name() {
    let vm = vm();
    let resp = vm
        .request(
            Request::get("/x")
                .route("r1")
                .cluster("outbound|80||svc.static")
                .header("x-request-id", "abc-123"),
        )
        .unwrap();
    let upstream = resp.upstream_request().unwrap();
    assert_eq!(upstream.header("x-route"), Some("r1"));
    assert_eq!(
        upstream.header("x-cluster"),
        Some("outbound|80||svc.static")
    );
    assert_eq!(upstream.header("x-request-id-seen"), Some("abc-123"));
    assert_eq!(upstream.header("x-downstream"), Some("127.0.0.1:50000"));
    assert_eq!(upstream.header("x-plugin-name"), Some("higress-context"));
    assert_eq!(upstream.header("x-peer-ip"), Some("127.0.0.1"));
    assert_eq!(upstream.header("x-client-ip"), Some("-"));

    // The first entry of x-forwarded-for, IPv6 and ports read as Higress does.
    for (forwarded, seen) in [
        ("203.0.113.9, 10.0.0.1", "203.0.113.9"),
        ("[2001:db8::7]:4711", "2001:db8::7"),
        ("198.51.100.2:80", "198.51.100.2"),
        ("unknown", "-"),
    ] {
        let resp = vm
            .request(Request::get("/x").header("x-forwarded-for", forwarded))
            .unwrap();
        let upstream = resp.upstream_request().unwrap();
        assert_eq!(upstream.header("x-client-ip"), Some(seen), "{forwarded}");
    }
}

/// `remove_query_param` / `set_query_param` rewrite `:path`, keeping the
/// other pairs byte for byte; `path()` says the new one.
#[test]
fn query_parameters_are_removed_and_set_in_the_path() {
    let vm = vm();
    let cases = [
        (
            "/query?z=%7e&apikey=k%201&page=9&page=8&a;b",
            "k 1",
            "/query?z=%7e&page=1&a;b",
        ),
        ("/query", "(none)", "/query?page=1"),
        ("/query?apikey=only", "only", "/query?page=1"),
    ];
    for (path, key, rewritten) in cases {
        let resp = vm.request(Request::get(path)).unwrap();
        let upstream = resp.upstream_request().unwrap();
        assert_eq!(upstream.path(), rewritten, "{path}");
        assert_eq!(upstream.header("x-path-seen"), Some(rewritten));
        assert_eq!(upstream.header("x-apikey"), Some(key));
    }
}

#[test]
fn writes_user_attributes_trace_tags_and_reroute_as_go_does() {
    let resp = vm().request(Request::get("/")).unwrap();
    // A JSON object escaped as the body of a JSON string, as wasm-go writes it.
    assert_eq!(
        resp.property("custom_log"),
        Some(br#"{\"model\":\"qwen\",\"tokens\":42}"#.as_slice())
    );
    assert_eq!(
        resp.property("trace_span_tag.model"),
        Some(b"qwen".as_slice())
    );
    assert_eq!(resp.property("clear_route_cache"), Some(b"off".as_slice()));
}

#[test]
fn a_local_reply_carries_its_details() {
    let resp = vm().request(Request::get("/deny")).unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.response_code_details(), Some("higress_context.denied"));
}

#[test]
fn metrics_count_set_and_record() {
    let vm = vm();
    for path in ["/a", "/abc", "/deny"] {
        vm.request(Request::get(path)).unwrap();
    }
    assert_eq!(vm.metric("higress_context_requests"), Some(3));
    assert_eq!(vm.metric("higress_context_last_path_len"), Some(5));
    assert_eq!(vm.metric("higress_context_path_len"), Some(5));
}

#[test]
fn logs_as_higress_with_plugin_id_and_request_id() {
    let vm = Host::load(plugin_wasm("higress-context"))
        .unwrap()
        .configure(serde_json::json!({"_plugin_id_": "plugin-7"}))
        .unwrap();
    vm.request(Request::get("/x").header("x-request-id", "abc-123"))
        .unwrap();
    vm.request(Request::get("/y")).unwrap();
    let logs = vm.logs();
    for line in [
        "info [higress-context] [plugin-7] [nil] configured",
        "info [higress-context] [plugin-7] [abc-123] request /x",
        "info [higress-context] [plugin-7] [nil] request /y",
    ] {
        assert!(logs.iter().any(|l| l == line), "no {line:?} in {logs:?}");
    }
    // Without a plugin id, Go's placeholder.
    let vm = Host::load(plugin_wasm("higress-context"))
        .unwrap()
        .configure(serde_json::Value::Null)
        .unwrap();
    assert!(
        vm.logs()
            .iter()
            .any(|l| l == "info [higress-context] [nil] [nil] configured"),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn every_third_request_asks_for_a_fresh_vm() {
    let vm = vm();
    let asked: Vec<bool> = (0..7)
        .map(|_| {
            let resp = vm.request(Request::get("/")).unwrap();
            resp.property("wasm_need_rebuild") == Some(b"true".as_slice())
        })
        .collect();
    assert_eq!(asked, [false, false, true, false, false, true, false]);
}
