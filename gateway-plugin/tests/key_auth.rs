//! `examples/key-auth`, the port of Higress's key-auth, on the test host:
//! its answers, its `global_auth` modes with `_rules_`, keys in the query,
//! and its configuration errors.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{ClientResponse, Host, Request, Vm};
use serde_json::{json, Value};

fn config(extra: Value) -> Value {
    let mut config = json!({
        "keys": ["x-api-key", "apikey"],
        "in_header": true,
        "consumers": [
            {"name": "consumer1", "credential": "token1"},
            {"name": "consumer2", "credential": "token2"},
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn vm(config: Value) -> Vm {
    Host::load(plugin_wasm("key-auth"))
        .unwrap()
        .configure(config)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn denied(resp: &ClientResponse, status: u16, why: &str) {
    assert_eq!(resp.status(), status, "{}", resp.text());
    assert_eq!(
        resp.text(),
        format!("Request denied by Key Auth check. {why}")
    );
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Key realm=MSE Gateway")
    );
    assert!(resp.upstream_request().is_none());
}

fn consumer(resp: &ClientResponse) -> Option<&str> {
    resp.upstream_request()?.header("x-mse-consumer")
}

#[test]
fn answers_as_the_go_plugin() {
    let vm = vm(config(json!({})));
    denied(
        &vm.request(Request::get("/")).unwrap(),
        401,
        "No Key Authentication information found.",
    );
    denied(
        &vm.request(
            Request::get("/")
                .header("x-api-key", "token1")
                .header("apikey", "token2"),
        )
        .unwrap(),
        401,
        "Muti Key Authentication information found.",
    );
    denied(
        &vm.request(Request::get("/").header("x-api-key", "nope"))
            .unwrap(),
        403,
        "Unauthorized consumer.",
    );
    let resp = vm
        .request(Request::get("/").header("apikey", "token2"))
        .unwrap();
    assert_eq!(consumer(&resp), Some("consumer2"));
}

#[test]
fn rules_allow_consumers_per_route_in_each_global_auth_mode() {
    let rules = json!([{"_match_route_": ["route-a"], "allow": ["consumer1"]}]);
    for (mode, unmatched_needs_key) in [
        (json!(null), true),
        (json!(true), true),
        (json!(false), false),
    ] {
        let mut extra = json!({"_rules_": rules});
        if !mode.is_null() {
            extra["global_auth"] = mode.clone();
        }
        let vm = vm(config(extra));
        let on_a = |key: &str| {
            vm.request(Request::get("/").route("route-a").header("x-api-key", key))
                .unwrap()
        };
        assert_eq!(consumer(&on_a("token1")), Some("consumer1"), "mode {mode}");
        denied(&on_a("token2"), 403, "Unauthorized consumer.");
        let elsewhere = vm.request(Request::get("/").route("route-b")).unwrap();
        if unmatched_needs_key {
            denied(&elsewhere, 401, "No Key Authentication information found.");
            let with_key = vm
                .request(
                    Request::get("/")
                        .route("route-b")
                        .header("x-api-key", "token2"),
                )
                .unwrap();
            assert_eq!(consumer(&with_key), Some("consumer2"), "mode {mode}");
        } else {
            assert_eq!(elsewhere.status(), 200, "mode {mode}: {}", elsewhere.text());
            assert_eq!(consumer(&elsewhere), None);
        }
    }
}

#[test]
fn keys_in_the_query() {
    let vm = vm(config(json!({"in_header": false, "in_query": true})));
    let resp = vm
        .request(Request::get("/path?a=1&apikey=token%31"))
        .unwrap();
    assert_eq!(consumer(&resp), Some("consumer1"), "{}", resp.text());
    denied(
        &vm.request(Request::get("/path?a=1")).unwrap(),
        401,
        "No Key Authentication information found.",
    );
    // As Go's `url.Query()`: `+` is a space, a pair with a bad escape or a
    // `;` is no parameter, and two keys (or one key twice) are two tokens.
    let spaced = self::vm(config(json!({
        "in_header": false, "in_query": true,
        "consumers": [{"name": "spaced", "credential": "token 1"}],
    })));
    let resp = spaced.request(Request::get("/?apikey=token+1")).unwrap();
    assert_eq!(consumer(&resp), Some("spaced"), "{}", resp.text());
    for path in ["/?apikey=token1%zz", "/?apikey=token1;x=1", "/?apikey=%"] {
        denied(
            &vm.request(Request::get(path)).unwrap(),
            401,
            "No Key Authentication information found.",
        );
    }
    for path in [
        "/?apikey=token1&apikey=token2",
        "/?x-api-key=token1&apikey=token1",
    ] {
        denied(
            &vm.request(Request::get(path)).unwrap(),
            401,
            "Muti Key Authentication information found.",
        );
    }
}

#[test]
fn configuration_errors_are_the_go_plugins_with_the_place() {
    for (config, line) in [
        (
            json!({"in_header": true, "consumers": []}),
            "invalid configuration: keys is required",
        ),
        (
            config(
                json!({"consumers": [{"name": "c", "credential": "t"}, {"name": "d", "credential": "t"}]}),
            ),
            "invalid configuration: duplicate consumer credential: t",
        ),
        (
            config(json!({"_rules_": [{"_match_route_": ["r"]}]})),
            "invalid configuration at _rules_[0]: allow is required",
        ),
    ] {
        let err = Host::load(plugin_wasm("key-auth"))
            .unwrap()
            .configure(config.clone())
            .err()
            .unwrap_or_else(|| panic!("{config} accepted"));
        let expected = format!("error [key-auth] {line}");
        assert!(err.logs().contains(&expected), "{:?}", err.logs());
    }
}
