//! The pieces of an Envoy bootstrap (JSON, v3 API) that run a plugin: a
//! listener whose connection manager has the plugin as a Wasm filter (V8)
//! before the router, static clusters, the admin endpoint. Each function
//! gives one piece as a [`Value`]; callers add the fields only they need
//! (`bootstrap["static_resources"] = ...`, a cluster's protocol options).

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;

/// `{"socket_address": {"address", "port_value"}}`.
pub fn socket_address(address: SocketAddr) -> Value {
    json!({"socket_address": {"address": address.ip().to_string(), "port_value": address.port()}})
}

/// A `STATIC` cluster `name` with the one endpoint `address` (connect
/// timeout 1 s).
pub fn static_cluster(name: &str, address: SocketAddr) -> Value {
    json!({
        "name": name,
        "connect_timeout": "1s",
        "type": "STATIC",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(address)}}]}],
        },
    })
}

/// The Wasm filter's plugin configuration: the plugin `name`, its VM
/// (`vm_id`, V8, the `.wasm` at `wasm`) and its `configuration` (a
/// `StringValue`; none if `None`).
pub fn wasm_plugin(name: &str, vm_id: &str, wasm: &Path, configuration: Option<&str>) -> Value {
    let mut plugin = json!({
        "name": name,
        "root_id": "",
        "vm_config": {
            "vm_id": vm_id,
            "runtime": "envoy.wasm.runtime.v8",
            "code": {"local": {"filename": wasm}},
        },
    });
    if let Some(configuration) = configuration {
        plugin["configuration"] = json!({
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": configuration,
        });
    }
    plugin
}

/// The HTTP filter `envoy.filters.http.wasm` running `plugin` (see
/// [`wasm_plugin`]).
pub fn wasm_filter(plugin: Value) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": plugin,
        },
    })
}

/// The HTTP filter `envoy.filters.http.router`, the last of a chain.
pub fn router_filter() -> Value {
    json!({
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    })
}

/// `virtual_hosts` with one host `all` for every domain, sending every path
/// to `route` (e.g. `{"cluster": "upstream"}`).
pub fn catch_all(route: Value) -> Value {
    json!([{
        "name": "all",
        "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": route}],
    }])
}

/// The network filter `envoy.filters.network.http_connection_manager`
/// (stats prefix `ingress_http`) with the route configuration `local_route`
/// of `virtual_hosts`, and `http_filters`. Its `typed_config` takes further
/// connection manager fields.
pub fn http_connection_manager(virtual_hosts: Value, http_filters: Vec<Value>) -> Value {
    json!({
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "ingress_http",
            "route_config": {"name": "local_route", "virtual_hosts": virtual_hosts},
            "http_filters": http_filters,
        },
    })
}

/// A listener `name` on `address` with one filter chain of `filter` (see
/// [`http_connection_manager`]).
pub fn listener(name: &str, address: SocketAddr, filter: Value) -> Value {
    json!({
        "name": name,
        "address": socket_address(address),
        "filter_chains": [{"filters": [filter]}],
    })
}

/// A bootstrap with the node `node` (its id and cluster) and the admin
/// endpoint on `admin`; resources are for the caller to add.
pub fn bootstrap(node: &str, admin: SocketAddr) -> Value {
    json!({
        "node": {"id": node, "cluster": node},
        "admin": {"address": socket_address(admin)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_with_the_plugin() {
        let address = SocketAddr::from(([127, 0, 0, 1], 10000));
        let plugin = wasm_plugin("p", "", Path::new("/p.wasm"), Some("{}"));
        let manager = http_connection_manager(
            catch_all(json!({"cluster": "upstream"})),
            vec![wasm_filter(plugin), router_filter()],
        );
        let listener = listener("main", address, manager);
        let config = &listener["filter_chains"][0]["filters"][0]["typed_config"];
        let wasm = &config["http_filters"][0]["typed_config"]["config"];
        assert_eq!(wasm["configuration"]["value"], "{}");
        assert_eq!(wasm["vm_config"]["code"]["local"]["filename"], "/p.wasm");
        assert_eq!(
            config["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"],
            "upstream"
        );
        assert_eq!(listener["address"]["socket_address"]["port_value"], 10000);
    }
}
