//! `examples/key-auth` in a real Envoy: named routes and virtual-host
//! domains carry `_rules_` with their own `allow` lists (`global_auth:
//! false`, so elsewhere no key is needed).

use gateway_plugin_e2e::{request, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

#[test]
fn routes_and_domains_allow_their_own_consumers() {
    let backend = EchoBackend::start();
    let route = |name: &str, prefix: &str| json!({"name": name, "match": {"prefix": prefix}, "route": {"cluster": "backend"}});
    let envoy = Envoy::start(
        EnvoyConfig::new("key-auth", backend.port())
            .configuration(json!({
                "global_auth": false,
                "keys": ["x-api-key"],
                "in_header": true,
                "consumers": [
                    {"name": "consumer1", "credential": "token1"},
                    {"name": "consumer2", "credential": "token2"},
                ],
                "_rules_": [
                    {"_match_route_": ["route-a"], "allow": ["consumer1"]},
                    {"_match_domain_": ["*.internal.example"], "allow": ["consumer2"]},
                ],
            }))
            .virtual_hosts(json!([
                {"name": "internal", "domains": ["*.internal.example"],
                 "routes": [route("internal-route", "/")]},
                {"name": "all", "domains": ["*"],
                 "routes": [route("route-a", "/a"), route("route-b", "/")]},
            ])),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let send = |path: &str, host: Option<&str>, key: Option<&str>| {
        let mut headers = Vec::new();
        if let Some(host) = host {
            headers.push(("host", host));
        }
        if let Some(key) = key {
            headers.push(("x-api-key", key));
        }
        request("GET", &envoy.url(path), &headers, b"").unwrap()
    };
    let consumer = |resp: &gateway_plugin_e2e::Response| {
        resp.json()["headers"]["x-mse-consumer"]
            .as_str()
            .map(str::to_string)
    };

    let resp = send("/a", None, Some("token1"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(consumer(&resp).as_deref(), Some("consumer1"));

    let resp = send("/a", None, Some("token2"));
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(
        resp.header("www-authenticate"),
        Some("Key realm=MSE Gateway")
    );

    let resp = send("/a", None, None);
    assert_eq!(resp.status, 401, "{}", resp.text());

    let resp = send("/x", Some("svc.internal.example"), Some("token2"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(consumer(&resp).as_deref(), Some("consumer2"));

    let resp = send("/x", Some("svc.internal.example"), Some("token1"));
    assert_eq!(resp.status, 403, "{}", resp.text());

    // No rule matches: global_auth is false, no key needed.
    let resp = send("/b", None, None);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(consumer(&resp), None);
}
