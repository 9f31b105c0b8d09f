//! Per-route configuration (`_rules_`) in a real Envoy: named routes, two
//! virtual hosts and a Higress-style cluster name, so that each kind of rule
//! meets what upstream Envoy really gives a plugin (`xds.route_name`,
//! `xds.cluster_name`, `:authority`). And a `RouteCluster` callout, which
//! needs the route's cluster name from the same place.

use gateway_plugin_e2e::{request, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

/// The cluster name Higress would give a service `svc.static` on port 80.
const SERVICE_CLUSTER: &str = "outbound|80||svc.static";

fn virtual_hosts() -> serde_json::Value {
    let route = |name: &str, prefix: &str, cluster: &str| json!({"name": name, "match": {"prefix": prefix}, "route": {"cluster": cluster}});
    json!([
        {"name": "mock-domain", "domains": ["a.mock.example", "a.mock.example:*"],
         "routes": [route("mock-domain-route", "/", "backend")]},
        {"name": "all", "domains": ["*"], "routes": [
            route("mock-route", "/by-route", "backend"),
            route("via-service", "/by-service", SERVICE_CLUSTER),
            route("plain", "/", "backend"),
        ]},
    ])
}

fn start(backend: &EchoBackend, configuration: serde_json::Value) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("my-plugin", backend.port())
            .configuration(configuration)
            .cluster(SERVICE_CLUSTER, backend.port())
            .virtual_hosts(virtual_hosts()),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

fn get(envoy: &Envoy, path: &str, host: Option<&str>) -> gateway_plugin_e2e::Response {
    let headers: Vec<(&str, &str)> = host.map(|h| ("host", h)).into_iter().collect();
    request("GET", &envoy.url(path), &headers, b"").unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn routes_domains_and_services_pick_their_rules() {
    let backend = EchoBackend::start();
    let mut config = json!({"_rules_": [
        {"_match_route_": ["mock-route"], "mockEnable": true},
        {"_match_domain_": ["*.mock.example"], "mockEnable": true},
        {"_match_service_": ["svc.static:80"], "mockEnable": true},
    ]});
    for with_global in [true, false] {
        if with_global {
            config["mockEnable"] = false.into();
        } else {
            config.as_object_mut().unwrap().remove("mockEnable");
        }
        let envoy = start(&backend, config.clone());
        for (path, host, mocked) in [
            ("/by-route", None, true),
            ("/", Some("a.mock.example"), true),
            ("/by-service", None, true),
            ("/", None, false),
            ("/other", Some("b.example"), false),
        ] {
            let resp = get(&envoy, path, host);
            assert_eq!(resp.status, 200, "{path} {host:?}: {}", resp.text());
            if mocked {
                assert_eq!(
                    resp.text(),
                    "hello world",
                    "{path} {host:?} (global: {with_global})"
                );
            } else {
                // The global config adds `hello: world`; without one the
                // plugin leaves the request alone.
                let echo = resp.json();
                let hello = echo["headers"].get("hello").and_then(|v| v.as_str());
                let expected = with_global.then_some("world");
                assert_eq!(hello, expected, "{path} {host:?}: {echo}");
            }
        }
        let log = envoy.log();
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[test]
fn a_route_cluster_callout_reaches_the_routes_own_cluster() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("route-callout", backend.port()))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let resp = get(&envoy, "/api", None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.json();
    assert_eq!(echo["path"], "/api");
    // The callout went to `backend` (the route's cluster) and got its 200.
    assert_eq!(echo["headers"]["x-callout-status"], "200", "{echo}");
    assert_eq!(backend.requests(), 2, "the callout and the request");
}

#[test]
fn route_rules_example_serves_a_value_per_route_domain_and_service() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(
        EnvoyConfig::new("route-rules", backend.port())
            .configuration(json!({"value": "default", "_rules_": [
                {"_match_route_": ["mock-route"], "value": "by-route"},
                {"_match_domain_": ["*.mock.example"], "value": "by-domain"},
                {"_match_service_": ["svc.static"], "value": "by-service"},
            ]}))
            .cluster(SERVICE_CLUSTER, backend.port())
            .virtual_hosts(virtual_hosts()),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    for (path, host, expected) in [
        ("/by-route", None, "by-route"),
        ("/", Some("a.mock.example"), "by-domain"),
        ("/by-service", None, "by-service"),
        ("/", None, "default"),
    ] {
        let echo = get(&envoy, path, host).json();
        assert_eq!(
            echo["headers"]["x-served-by"], expected,
            "{path} {host:?}: {echo}"
        );
    }
}
