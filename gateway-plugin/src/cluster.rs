//! Cluster descriptions: which upstream cluster a callout goes to, and the
//! `:authority` it carries by default.
//!
//! The names are Higress's, byte for byte (`pkg/wrapper/cluster_wrapper.go`
//! in higress-group/wasm-go): a Higress gateway has these clusters already,
//! named from its service registries (`outbound|<port>|<version>|<host>`).
//! In plain Envoy, name your cluster the same way in `envoy.yaml`.

use crate::host;

/// Where a callout goes: a cluster name and a default `:authority`.
///
/// Implemented by every cluster kind below; implement it yourself for a
/// naming scheme of your own.
pub trait Cluster {
    /// The Envoy cluster name.
    fn cluster_name(&self) -> String;
    /// The `:authority` used when the request URL has no host.
    fn host_name(&self) -> String;
    /// Whether the name or host depends on the current request (as
    /// [`RouteCluster`]'s do); if not, an `HttpClient` computes them once.
    fn per_request(&self) -> bool {
        false
    }
}

/// A Kubernetes service: `outbound|<port>|<version>|<service>.<namespace>.svc.cluster.local`.
///
/// ```
/// use gateway_plugin::cluster::{Cluster, K8sCluster};
/// let c = K8sCluster { service_name: "token".into(), namespace: "auth".into(), port: 8080, ..Default::default() };
/// assert_eq!(c.cluster_name(), "outbound|8080||token.auth.svc.cluster.local");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sCluster {
    /// The service name.
    pub service_name: String,
    /// `default` when empty.
    pub namespace: String,
    /// The service port.
    pub port: u16,
    /// The service version (subset), often empty.
    pub version: String,
    /// The `:authority`; `<service>.<namespace>.svc.cluster.local` when empty.
    pub host: String,
}

impl Cluster for K8sCluster {
    fn cluster_name(&self) -> String {
        let namespace = if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        };
        format!(
            "outbound|{}|{}|{}.{}.svc.cluster.local",
            self.port, self.version, self.service_name, namespace
        )
    }

    fn host_name(&self) -> String {
        if !self.host.is_empty() {
            return self.host.clone();
        }
        // Higress uses the namespace as given here, without the `default`
        // fallback of the cluster name; kept identical.
        format!("{}.{}.svc.cluster.local", self.service_name, self.namespace)
    }
}

/// A Nacos service: `outbound|<port>|<version>|<service>.<group>.<namespace_id>.nacos`
/// (`nacos-ext` for an external registry such as EDAS/SAE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NacosCluster {
    /// The service name.
    pub service_name: String,
    /// `DEFAULT-GROUP` when empty; `_` becomes `-`.
    pub group: String,
    /// The Nacos namespace id.
    pub namespace_id: String,
    /// The service port.
    pub port: u16,
    /// An external registry (EDAS/SAE): the name ends in `nacos-ext`.
    pub is_ext_registry: bool,
    /// The service version (subset), often empty.
    pub version: String,
    /// The `:authority`; the service name when empty.
    pub host: String,
}

impl Cluster for NacosCluster {
    fn cluster_name(&self) -> String {
        let group = if self.group.is_empty() {
            "DEFAULT-GROUP".to_string()
        } else {
            self.group.replace('_', "-")
        };
        let tail = if self.is_ext_registry {
            "nacos-ext"
        } else {
            "nacos"
        };
        format!(
            "outbound|{}|{}|{}.{}.{}.{}",
            self.port, self.version, self.service_name, group, self.namespace_id, tail
        )
    }

    fn host_name(&self) -> String {
        if self.host.is_empty() {
            self.service_name.clone()
        } else {
            self.host.clone()
        }
    }
}

/// A static-IP service: `outbound|<port>||<service>.static`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticIpCluster {
    /// The service name.
    pub service_name: String,
    /// The service port.
    pub port: u16,
    /// The `:authority`; the service name when empty.
    pub host: String,
}

impl Cluster for StaticIpCluster {
    fn cluster_name(&self) -> String {
        format!("outbound|{}||{}.static", self.port, self.service_name)
    }

    fn host_name(&self) -> String {
        if self.host.is_empty() {
            self.service_name.clone()
        } else {
            self.host.clone()
        }
    }
}

/// A DNS service: `outbound|<port>||<service>.dns`, `:authority` the domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsCluster {
    /// The service name.
    pub service_name: String,
    /// The `:authority` of callouts.
    pub domain: String,
    /// The service port.
    pub port: u16,
}

impl Cluster for DnsCluster {
    fn cluster_name(&self) -> String {
        format!("outbound|{}||{}.dns", self.port, self.service_name)
    }

    fn host_name(&self) -> String {
        self.domain.clone()
    }
}

/// A Consul service: `outbound|<port>||<service>.<datacenter>.consul`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsulCluster {
    /// The service name.
    pub service_name: String,
    /// The Consul datacenter.
    pub datacenter: String,
    /// The service port.
    pub port: u16,
    /// The `:authority`; the service name when empty.
    pub host: String,
}

impl Cluster for ConsulCluster {
    fn cluster_name(&self) -> String {
        format!(
            "outbound|{}||{}.{}.consul",
            self.port, self.service_name, self.datacenter
        )
    }

    fn host_name(&self) -> String {
        if self.host.is_empty() {
            self.service_name.clone()
        } else {
            self.host.clone()
        }
    }
}

/// A fully qualified domain name: `outbound|<port>||<fqdn>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FqdnCluster {
    /// The fully qualified domain name.
    pub fqdn: String,
    /// The `:authority`; the FQDN when empty.
    pub host: String,
    /// The service port.
    pub port: u16,
}

impl Cluster for FqdnCluster {
    fn cluster_name(&self) -> String {
        format!("outbound|{}||{}", self.port, self.fqdn)
    }

    fn host_name(&self) -> String {
        if self.host.is_empty() {
            self.fqdn.clone()
        } else {
            self.host.clone()
        }
    }
}

/// The current route's cluster (property `cluster_name`), read when the
/// callout is made; `:authority` is `host`, else the request's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteCluster {
    /// The `:authority` of callouts.
    pub host: String,
}

impl Cluster for RouteCluster {
    fn per_request(&self) -> bool {
        true
    }

    fn cluster_name(&self) -> String {
        // Higress: `cluster_name`; upstream Envoy: `xds.cluster_name`.
        let name = host::gateway_name_property("cluster_name");
        if name.is_empty() {
            log::error!("get route cluster failed: the request has no cluster_name");
        }
        name
    }

    fn host_name(&self) -> String {
        if !self.host.is_empty() {
            return self.host.clone();
        }
        host::get_map_value(host::MapType::HttpRequestHeaders, ":authority")
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

/// A cluster named explicitly, with an explicit `:authority`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetCluster {
    /// The Envoy cluster name, as is.
    pub cluster: String,
    /// The `:authority` of callouts.
    pub host: String,
}

impl Cluster for TargetCluster {
    fn cluster_name(&self) -> String {
        self.cluster.clone()
    }

    fn host_name(&self) -> String {
        self.host.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_string()
    }

    #[test]
    fn k8s() {
        let c = K8sCluster {
            service_name: s("foo"),
            namespace: s("bar"),
            port: 8080,
            version: s("v1"),
            host: s(""),
        };
        assert_eq!(
            c.cluster_name(),
            "outbound|8080|v1|foo.bar.svc.cluster.local"
        );
        assert_eq!(c.host_name(), "foo.bar.svc.cluster.local");
        let c = K8sCluster {
            service_name: s("foo"),
            port: 80,
            host: s("foo.example"),
            ..Default::default()
        };
        assert_eq!(
            c.cluster_name(),
            "outbound|80||foo.default.svc.cluster.local"
        );
        assert_eq!(c.host_name(), "foo.example");
        // As Higress: the host name does not fall back to `default`.
        let c = K8sCluster {
            service_name: s("foo"),
            port: 80,
            ..Default::default()
        };
        assert_eq!(c.host_name(), "foo..svc.cluster.local");
    }

    #[test]
    fn nacos() {
        let c = NacosCluster {
            service_name: s("svc"),
            group: s("my_group"),
            namespace_id: s("ns-1"),
            port: 8848,
            version: s("1.0"),
            ..Default::default()
        };
        assert_eq!(
            c.cluster_name(),
            "outbound|8848|1.0|svc.my-group.ns-1.nacos"
        );
        assert_eq!(c.host_name(), "svc");
        let c = NacosCluster {
            service_name: s("svc"),
            namespace_id: s("public"),
            port: 80,
            is_ext_registry: true,
            host: s("h"),
            ..Default::default()
        };
        assert_eq!(
            c.cluster_name(),
            "outbound|80||svc.DEFAULT-GROUP.public.nacos-ext"
        );
        assert_eq!(c.host_name(), "h");
    }

    #[test]
    fn static_ip() {
        let c = StaticIpCluster {
            service_name: s("token"),
            port: 8000,
            host: s(""),
        };
        assert_eq!(c.cluster_name(), "outbound|8000||token.static");
        assert_eq!(c.host_name(), "token");
        let c = StaticIpCluster {
            host: s("10.0.0.1"),
            ..c
        };
        assert_eq!(c.host_name(), "10.0.0.1");
    }

    #[test]
    fn dns() {
        let c = DnsCluster {
            service_name: s("httpbin"),
            domain: s("httpbin.org"),
            port: 443,
        };
        assert_eq!(c.cluster_name(), "outbound|443||httpbin.dns");
        assert_eq!(c.host_name(), "httpbin.org");
    }

    #[test]
    fn consul() {
        let c = ConsulCluster {
            service_name: s("svc"),
            datacenter: s("dc1"),
            port: 8500,
            host: s(""),
        };
        assert_eq!(c.cluster_name(), "outbound|8500||svc.dc1.consul");
        assert_eq!(c.host_name(), "svc");
    }

    #[test]
    fn fqdn() {
        let c = FqdnCluster {
            fqdn: s("api.example.com"),
            host: s(""),
            port: 80,
        };
        assert_eq!(c.cluster_name(), "outbound|80||api.example.com");
        assert_eq!(c.host_name(), "api.example.com");
    }

    #[test]
    fn target() {
        let c = TargetCluster {
            cluster: s("my_cluster"),
            host: s("api"),
        };
        assert_eq!(c.cluster_name(), "my_cluster");
        assert_eq!(c.host_name(), "api");
    }
}
