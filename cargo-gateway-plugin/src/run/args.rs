//! `run`'s arguments checked before anything is built or started: the
//! configuration (a file or inline JSON), `--upstream`, `--cluster`, the
//! listener port; and the plugin's name as its log lines carry it.

use super::Args;
use crate::project::Plugin;
use anyhow::{anyhow, bail, Context, Result};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// The arguments as `run` uses them.
pub(super) struct Checked {
    /// Where the configuration comes from (before the crate's default).
    pub(super) config: ConfigSource,
    /// `--cluster`s: name and address.
    pub(super) clusters: Vec<(String, SocketAddr)>,
    /// `--upstream`, if given.
    pub(super) upstream: Option<Upstream>,
}

/// Checks everything a user can get wrong, before anything is built or
/// started.
pub(super) fn check(args: &Args) -> Result<Checked> {
    let config = match &args.config {
        Some(arg) => ConfigSource::from_arg(arg),
        None => ConfigSource::None,
    };
    config.load()?;
    let clusters = args
        .clusters
        .iter()
        .map(|c| parse_cluster(c))
        .collect::<Result<Vec<_>>>()?;
    for (i, (name, _)) in clusters.iter().enumerate() {
        if clusters[..i].iter().any(|(other, _)| other == name) {
            bail!("--cluster `{name}` is given twice");
        }
    }
    let upstream = args.upstream.as_deref().map(parse_upstream).transpose()?;
    ensure_port_free(args.port)?;
    Ok(Checked {
        config,
        clusters,
        upstream,
    })
}

/// Without `--config`, the crate's `config.json` if there is one.
pub(super) fn with_default(config: ConfigSource, args: &Args, plugin: &Plugin) -> ConfigSource {
    if args.config.is_none() {
        let default = plugin.dir.join("config.json");
        if default.is_file() {
            return ConfigSource::File(default);
        }
    }
    config
}

/// Where the plugin's configuration comes from.
pub(super) enum ConfigSource {
    /// No configuration: the plugin gets none.
    None,
    /// JSON given on the command line.
    Inline(String),
    /// A JSON file (re-read on every restart under `--watch`).
    File(PathBuf),
}

impl ConfigSource {
    /// `--config ARG`: a file if one exists at that path, else inline JSON.
    pub(super) fn from_arg(arg: &str) -> ConfigSource {
        if Path::new(arg).is_file() {
            ConfigSource::File(PathBuf::from(arg))
        } else {
            ConfigSource::Inline(arg.to_string())
        }
    }

    /// The configuration file, if the configuration is one.
    pub(super) fn file(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            _ => None,
        }
    }

    /// The configuration's JSON text, checked to be JSON (`None`: no
    /// configuration). It goes to the plugin as written.
    pub(super) fn load(&self) -> Result<Option<String>> {
        match self {
            ConfigSource::None => Ok(None),
            ConfigSource::File(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the configuration file {}", path.display())
                })?;
                if let Err(err) = serde_json::from_str::<serde_json::Value>(&text) {
                    bail!(
                        "the configuration file {} is not valid JSON: {err}",
                        path.display()
                    );
                }
                Ok(Some(text))
            }
            ConfigSource::Inline(text) => {
                if let Err(err) = serde_json::from_str::<serde_json::Value>(text) {
                    let trimmed = text.trim_start();
                    // `--config conf.json` with a typo in the name is no
                    // JSON syntax error: say both things it could have been.
                    if trimmed.starts_with(['{', '[']) {
                        bail!("the inline configuration (--config) is not valid JSON: {err}");
                    }
                    bail!("--config `{text}` is neither a file nor valid inline JSON: {err}");
                }
                Ok(Some(text.clone()))
            }
        }
    }
}

// ---- upstream and clusters ---------------------------------------------------

/// Where requests go after the plugin.
pub(super) struct Upstream {
    pub(super) address: SocketAddr,
    /// The `Host` to send upstream when the URL names a host by name (a
    /// server behind a name usually serves by name).
    pub(super) host_rewrite: Option<String>,
    /// How to show it.
    pub(super) shown: String,
}

/// `--upstream http://host[:port][/]`.
fn parse_upstream(url: &str) -> Result<Upstream> {
    let Some(rest) = url.strip_prefix("http://") else {
        if url.starts_with("https://") {
            bail!("--upstream {url}: only http:// upstreams are supported");
        }
        bail!("--upstream {url}: expected http://host:port");
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains('/') {
        bail!("--upstream {url}: expected http://host:port, without a path");
    }
    let with_port = if has_port(authority) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let (address, by_name) = resolve(&with_port).with_context(|| format!("--upstream {url}"))?;
    Ok(Upstream {
        address,
        host_rewrite: by_name.then(|| authority.to_string()),
        shown: url.to_string(),
    })
}

/// Whether `host[:port]` has the port (an IPv6 host is in brackets).
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, _)) => !host.starts_with('[') || host.ends_with(']'),
        None => false,
    }
}

/// `--cluster NAME=HOST:PORT`. Cluster names such as
/// `outbound|8080||token.static` hold no `=`: the first one splits.
fn parse_cluster(arg: &str) -> Result<(String, SocketAddr)> {
    let Some((name, address)) = arg.split_once('=') else {
        bail!("--cluster {arg}: expected NAME=HOST:PORT");
    };
    if name.is_empty() {
        bail!("--cluster {arg}: the cluster name is empty");
    }
    if name == "upstream" {
        bail!("--cluster {arg}: `upstream` is the cluster requests go to; pick another name");
    }
    let (address, _) = resolve(address).with_context(|| format!("--cluster {arg}"))?;
    Ok((name.to_string(), address))
}

/// `HOST:PORT` as an address (IPv4 preferred), and whether HOST was a name.
fn resolve(host_port: &str) -> Result<(SocketAddr, bool)> {
    let Some((host, port)) = host_port.rsplit_once(':') else {
        bail!("expected HOST:PORT, not `{host_port}`");
    };
    let port: u16 = port
        .parse()
        .map_err(|_| anyhow!("`{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok((SocketAddr::new(ip, port), false));
    }
    // Envoy's STATIC clusters take addresses: the name is resolved once, here.
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{host}`"))?
        .collect();
    let address = addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(addresses.first())
        .copied()
        .with_context(|| format!("`{host}` has no address"))?;
    Ok((address, true))
}

/// Fails, naming the port, when something listens on 127.0.0.1:`port`.
fn ensure_port_free(port: u16) -> Result<()> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(err) => Err(port_in_use(port, &err.to_string())),
    }
}

/// The error for a busy listener port.
pub(super) fn port_in_use(port: u16, reason: &str) -> anyhow::Error {
    anyhow!("cannot listen on 127.0.0.1:{port} ({reason}): pick another port with --port")
}

// ---- the plugin's name ---------------------------------------------------------

/// The plugin's name as its `#[plugin(name = "...")]` in `src/lib.rs` gives
/// it (what its log lines carry), else the package name.
pub(super) fn plugin_name(plugin: &Plugin) -> String {
    std::fs::read_to_string(plugin.dir.join("src/lib.rs"))
        .ok()
        .and_then(|source| name_in_attribute(&source))
        .unwrap_or_else(|| plugin.name.clone())
}

/// The `name = "..."` of the first `#[plugin(...)]` attribute in `source`.
fn name_in_attribute(source: &str) -> Option<String> {
    let start = source.find("#[plugin(")? + "#[plugin(".len();
    let attribute = &source[start..];
    let attribute = &attribute[..attribute.find(")]")?];
    let after_name = attribute.split("name").nth(1)?.trim_start();
    let value = after_name
        .strip_prefix('=')?
        .trim_start()
        .strip_prefix('"')?;
    Some(value[..value.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_plugin_name_from_its_attribute() {
        let source = "use x;\n#[plugin(name = \"my-plugin\", log = \"higress\")]\npub struct C;";
        assert_eq!(name_in_attribute(source).as_deref(), Some("my-plugin"));
        assert_eq!(name_in_attribute("#[plugin]\nstruct C;"), None);
    }

    #[test]
    fn cluster_names_keep_their_bars() {
        let (name, address) = parse_cluster("outbound|8080||token.static=127.0.0.1:8080").unwrap();
        assert_eq!(name, "outbound|8080||token.static");
        assert_eq!(address, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(parse_cluster("no-address").is_err());
        assert!(parse_cluster("=127.0.0.1:1").is_err());
        assert!(parse_cluster("x=127.0.0.1:notaport").is_err());
    }

    #[test]
    fn upstream_urls() {
        let up = parse_upstream("http://127.0.0.1:8080/").unwrap();
        assert_eq!(up.address, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(up.host_rewrite, None);
        let up = parse_upstream("http://localhost:9").unwrap();
        assert_eq!(up.host_rewrite.as_deref(), Some("localhost:9"));
        assert!(parse_upstream("https://example.com").is_err());
        assert!(parse_upstream("http://127.0.0.1:80/path").is_err());
        assert!(parse_upstream("127.0.0.1:80").is_err());
    }

    #[test]
    fn inline_configuration_errors_say_where() {
        let err = ConfigSource::Inline("{bad json".into()).load().unwrap_err();
        assert!(err.to_string().contains("inline configuration"), "{err}");
        let err = ConfigSource::Inline("conf.json".into()).load().unwrap_err();
        assert!(err.to_string().contains("neither a file"), "{err}");
    }
}
