//! Higress's per-route configuration (`_rules_`) end to end on the test host,
//! which answers properties as upstream Envoy does (`xds.route_name`,
//! `xds.cluster_name`) unless told to answer as Higress.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request, Response};
use serde_json::json;

fn my_plugin() -> Host {
    Host::load(plugin_wasm("my-plugin")).unwrap()
}

/// `mockEnable` off globally, on for each kind of rule.
fn rules_config(with_global: bool) -> serde_json::Value {
    let mut config = json!({"_rules_": [
        {"_match_route_": ["r1"], "mockEnable": true},
        {"_match_domain_": ["*.mock.example", "exact.example"], "mockEnable": true},
        {"_match_service_": ["svc.static:8080"], "mockEnable": true},
        {"_match_route_prefix_": ["pre-"], "mockEnable": true},
        {"_match_route_": ["r2"], "_match_service_": ["both.static"], "mockEnable": true},
    ]});
    if with_global {
        config["mockEnable"] = false.into();
    }
    config
}

/// (request, answered by the mock?)
fn cases() -> Vec<(Request, bool)> {
    vec![
        (Request::get("/").route("r1"), true),
        (
            Request::get("/").header("host", "a.mock.example:8080"),
            true,
        ),
        (Request::get("/").header("host", "exact.example"), true),
        (Request::get("/").header("host", "mock.example"), false),
        (Request::get("/").cluster("outbound|8080||svc.static"), true),
        (
            Request::get("/").cluster("outbound|9090||svc.static"),
            false,
        ),
        (Request::get("/").route("pre-api"), true),
        (
            Request::get("/")
                .route("r2")
                .cluster("outbound|80||both.static"),
            true,
        ),
        (Request::get("/").route("r2"), false),
        (Request::get("/").route("other"), false),
    ]
}

#[test]
fn each_rule_kind_picks_its_config_else_the_global_one() {
    for host in [my_plugin(), my_plugin().higress_properties()] {
        let vm = host.configure(rules_config(true)).unwrap();
        for (i, (request, mocked)) in cases().into_iter().enumerate() {
            let resp = vm.request(request).unwrap();
            match mocked {
                true => {
                    assert_eq!(resp.text(), "hello world", "case {i}");
                    assert!(resp.upstream_request().is_none(), "case {i}");
                }
                false => {
                    // The global config: passed on, with the header added.
                    let upstream = resp
                        .upstream_request()
                        .unwrap_or_else(|| panic!("case {i}"));
                    assert_eq!(upstream.header("hello"), Some("world"), "case {i}");
                }
            }
        }
    }
}

#[test]
fn with_only_rules_an_unmatched_request_passes_untouched() {
    let vm = my_plugin().configure(rules_config(false)).unwrap();
    for (i, (request, mocked)) in cases().into_iter().enumerate() {
        let resp = vm.request(request).unwrap();
        match mocked {
            true => assert_eq!(resp.text(), "hello world", "case {i}"),
            false => {
                // No handler ran: not even the header was added.
                let upstream = resp
                    .upstream_request()
                    .unwrap_or_else(|| panic!("case {i}"));
                assert_eq!(upstream.header("hello"), None, "case {i}");
            }
        }
    }
}

#[test]
fn bad_rule_documents_are_refused_naming_the_place() {
    for (config, expected) in [
        (
            json!({"_rules_": [{"mockEnable": true}]}),
            "[my-plugin] invalid configuration at _rules_[0]: a rule needs at least one of '_match_route_', '_match_domain_', '_match_service_' and '_match_route_prefix_'",
        ),
        (
            json!({"_rules_": [{"_match_domain_": "a.com", "mockEnable": true}]}),
            "[my-plugin] invalid configuration at _rules_[0]._match_domain_: must be a list of strings, not a string",
        ),
        (
            json!({"_rules_": [{"_match_route_": ["r"]}, {"_match_route_": ["s"], "mockEnable": "yes"}]}),
            "[my-plugin] invalid configuration at _rules_[1].mockEnable: invalid type: string \"yes\", expected a boolean",
        ),
        (
            json!({"_rules_": {"_match_route_": ["r"]}}),
            "[my-plugin] invalid configuration at _rules_: must be a list of rules, not an object",
        ),
        (
            json!({"_rules_": []}),
            "[my-plugin] invalid configuration at _rules_: no valid rules, and no global configuration",
        ),
    ] {
        let err = my_plugin()
            .configure(config.clone())
            .err()
            .unwrap_or_else(|| panic!("{config} accepted"));
        assert!(
            err.logs().iter().any(|l| l == &format!("error {expected}")),
            "{config}: {:?}",
            err.logs()
        );
    }
}

#[test]
fn a_global_part_that_does_not_parse_is_dropped_with_a_warning_when_rules_exist() {
    let vm = my_plugin()
        .configure(json!({"mockEnable": "yes", "_rules_": [{"_match_route_": ["r1"], "mockEnable": true}]}))
        .unwrap();
    assert!(
        vm.logs().iter().any(|l| l
            .starts_with("warn [my-plugin] invalid configuration at mockEnable")
            && l.ends_with("the global configuration is ignored, only `_rules_` apply")),
        "{:?}",
        vm.logs()
    );
    assert_eq!(
        vm.request(Request::get("/").route("r1")).unwrap().text(),
        "hello world"
    );
    let passed = vm.request(Request::get("/")).unwrap();
    assert_eq!(passed.upstream_request().unwrap().header("hello"), None);
}

/// An async plugin keeps the config it was given for the whole stream,
/// across its awaits, with streams of different rules interleaved.
#[test]
fn the_picked_config_holds_across_awaits() {
    let vm = Host::load(plugin_wasm("http-call"))
        .unwrap()
        .cluster_fn("outbound|8080||token.static", |req| {
            Response::new(200)
                .header("x-token", &format!("token:{}", req.path()))
                .header("x-other", &format!("other:{}", req.path()))
        })
        .configure(json!({
            "serviceSource": "ip", "serviceName": "token", "servicePort": 8080,
            "requestPath": "/global", "tokenHeader": "x-token",
            "_rules_": [{"_match_route_": ["r1"],
                "serviceSource": "ip", "serviceName": "token", "servicePort": 8080,
                "requestPath": "/r1", "tokenHeader": "x-other"}],
        }))
        .unwrap();
    let requests = (0..40)
        .map(|i| match i % 2 {
            0 => Request::get("/").route("r1"),
            _ => Request::get("/"),
        })
        .collect();
    for (i, resp) in vm.requests(requests).unwrap().iter().enumerate() {
        let upstream = resp.upstream_request().unwrap();
        match i % 2 {
            0 => {
                assert_eq!(upstream.header("x-other"), Some("other:/r1"), "{i}");
                assert_eq!(upstream.header("x-token"), None, "{i}");
            }
            _ => assert_eq!(upstream.header("x-token"), Some("token:/global"), "{i}"),
        }
    }
}

/// `#[parse_rule_config]`: rules built on the global config (Higress's
/// key-auth shape: global consumers, per-route `allow`).
#[test]
fn override_configs_build_rules_on_the_global_config() {
    let host = Host::load(plugin_wasm("override-config")).unwrap();
    let vm = host
        .clone()
        .configure(json!({
            "consumers": ["c1", "c2"],
            "_rules_": [{"_match_route_": ["r1"], "allow": ["c1"]}],
        }))
        .unwrap();
    for (route, consumer, status) in [
        ("r1", "c1", 200),
        ("r1", "c2", 403),
        ("r1", "c3", 401),
        ("other", "c2", 200),
        ("other", "c3", 401),
    ] {
        let resp = vm
            .request(
                Request::get("/")
                    .route(route)
                    .header("x-consumer", consumer),
            )
            .unwrap();
        assert_eq!(
            resp.status(),
            status,
            "{consumer} on {route}: {}",
            resp.text()
        );
    }
    // A rule that repeats the global-only key is refused, naming the rule.
    let err = host
        .clone()
        .configure(json!({
            "consumers": ["c1"],
            "_rules_": [{"_match_route_": ["r1"], "consumers": ["c2"], "allow": ["c1"]}],
        }))
        .err()
        .unwrap();
    assert!(
        err.logs().iter().any(|l| l
            == "error [override-config] invalid configuration at _rules_[0]: consumers and allow should not be configured at the same level"),
        "{:?}",
        err.logs()
    );
    // Only rules: they build on the config of an empty global part.
    let vm = host
        .configure(json!({"_rules_": [{"_match_route_": ["r1"], "allow": ["c1"]}]}))
        .unwrap();
    let resp = vm
        .request(Request::get("/").route("r1").header("x-consumer", "c1"))
        .unwrap();
    assert_eq!(resp.status(), 401, "no consumers globally: {}", resp.text());
}
