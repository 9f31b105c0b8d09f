//! Several plugin configurations in one VM, as Envoy runs the filters that
//! share a `vm_config` (and Higress does on every configuration push): each
//! is a root context of its own, and roots are created and deleted while the
//! other roots' streams wait on their callouts. The plugin is
//! `examples/http-call`, configured twice with different token paths, so
//! each answer shows which configuration served it.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{ClientResponse, Host, Request, Response, RootId, Vm};
use serde_json::json;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

/// The token service, in-process: `x-token: <path the plugin asked>:<who>`.
fn host() -> Host {
    Host::load(plugin_wasm("http-call"))
        .unwrap()
        .cluster_fn(TOKEN_CLUSTER, |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("{}:{who}", req.path()))
        })
        .log_level("debug")
}

fn config(path: &str) -> serde_json::Value {
    json!({
        "serviceSource": "ip",
        "serviceName": "token",
        "servicePort": 8080,
        "requestPath": path,
        "tokenHeader": "x-token",
    })
}

fn request(root: RootId, i: usize) -> Request {
    Request::get("/")
        .header("authorization", &format!("user-{i}"))
        .root(root)
}

fn assert_served_by(resp: &ClientResponse, path: &str, i: usize, vm: &Vm) {
    assert_eq!(
        resp.status(),
        200,
        "stream {i}: {}\n{:?}",
        resp.text(),
        vm.logs()
    );
    let upstream = resp.upstream_request().expect("went upstream");
    assert_eq!(
        upstream.header("x-token"),
        Some(format!("{path}:user-{i}").as_str()),
        "stream {i}"
    );
}

fn assert_no_panic_and_nothing_left(vm: &Vm) {
    let logs = vm.logs();
    assert!(
        !logs.iter().any(|l| l.contains("panicked")),
        "the VM trapped: {logs:?}"
    );
    let last = logs
        .iter()
        .rev()
        .find(|l| l.contains("ended; live tasks:"))
        .expect("a stream-end line");
    assert!(last.ends_with("live tasks: 0, live callouts: 0"), "{last}");
}

#[test]
fn a_root_deleted_while_another_roots_streams_await_callouts() {
    let vm = host().configure(config("/a")).unwrap();
    for seed in 1..=8u64 {
        let b = vm.add_root(config("/b")).unwrap();
        // 24 streams on each root, interleaved; `b` is removed on the way
        // and deleted as soon as its last stream ends, while the first
        // root's streams still wait on their callouts.
        let requests: Vec<Request> = (0..48)
            .map(|i| match i % 2 {
                0 => request(RootId::FIRST, i),
                _ => request(b, i),
            })
            .collect();
        let responses = vm.requests_removing_root(requests, b, seed).unwrap();
        for (i, resp) in responses.iter().enumerate() {
            let path = if i % 2 == 0 { "/a" } else { "/b" };
            assert_served_by(resp, path, i, &vm);
        }
        // The first root goes on with its callouts.
        let responses = vm
            .requests_with_seed((0..16).map(|i| request(RootId::FIRST, i)).collect(), seed)
            .unwrap();
        for (i, resp) in responses.iter().enumerate() {
            assert_served_by(resp, "/a", i, &vm);
        }
        let removed = format!("root context {} removed; 1 left in this VM", b.context_id());
        assert!(
            vm.logs().iter().any(|l| l.contains(&removed)),
            "seed {seed}: {:?}",
            vm.logs()
        );
    }
    assert_no_panic_and_nothing_left(&vm);
}

#[test]
fn the_first_root_can_go_and_a_later_one_carries_on() {
    let vm = host().configure(config("/a")).unwrap();
    let b = vm.add_root(config("/b")).unwrap();
    let requests: Vec<Request> = (0..40)
        .map(|i| request(if i % 2 == 0 { RootId::FIRST } else { b }, i))
        .collect();
    let responses = vm
        .requests_removing_root(requests, RootId::FIRST, 42)
        .unwrap();
    for (i, resp) in responses.iter().enumerate() {
        assert_served_by(resp, if i % 2 == 0 { "/a" } else { "/b" }, i, &vm);
    }
    let responses = vm
        .requests((0..16).map(|i| request(b, i)).collect())
        .unwrap();
    for (i, resp) in responses.iter().enumerate() {
        assert_served_by(resp, "/b", i, &vm);
    }
    assert_no_panic_and_nothing_left(&vm);
}

#[test]
fn a_configuration_refused_for_a_second_root_leaves_the_first_working() {
    let vm = host().configure(config("/a")).unwrap();
    let err = vm
        .add_root(json!({"requestPath": "/b"}))
        .expect_err("refused");
    assert!(
        err.logs()
            .iter()
            .any(|l| l.contains("missing tokenHeader in config")),
        "{err}"
    );
    assert_served_by(
        &vm.request(request(RootId::FIRST, 1)).unwrap(),
        "/a",
        1,
        &vm,
    );
}

/// A root deleted while its stream-done tasks still wait on callouts (made
/// on its behalf): those callouts fail, the tasks finish with the error at
/// the next request, and nothing is left behind or trapped.
#[test]
fn a_deleted_roots_waiting_stream_done_callouts_fail_cleanly() {
    let vm = Host::load(plugin_wasm("callout-chain"))
        .unwrap()
        .cluster_fn(TOKEN_CLUSTER, |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("token-for-{who}"))
        })
        .log_level("debug")
        .configure(serde_json::Value::Null)
        .unwrap();
    for seed in 1..=4u64 {
        let b = vm.add_root(serde_json::Value::Null).unwrap();
        let requests = (0..20)
            .map(|i| {
                Request::post("/")
                    .header("authorization", &format!("user-{i}"))
                    .body(format!("hello-{i}"))
                    .root(if i % 2 == 0 { RootId::FIRST } else { b })
            })
            .collect();
        for resp in vm.requests_removing_root(requests, b, seed).unwrap() {
            assert_eq!(resp.status(), 200, "seed {seed}: {}", resp.text());
        }
        // The next requests run what the deletion woke.
        for resp in vm
            .requests((0..4).map(|_| Request::get("/")).collect())
            .unwrap()
        {
            assert_eq!(resp.status(), 200);
        }
    }
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.contains("cancelled: its plugin configuration was removed")),
        "no stream-done callout was waiting when its root went: {:?}",
        vm.logs()
    );
    assert_no_panic_and_nothing_left(&vm);
}
