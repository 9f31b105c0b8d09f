//! Envoy for the tests: the bootstrap of an [`EnvoyConfig`] (a listener
//! with the plugin before the router, or listeners from a watched LDS file;
//! the `backend` cluster and callout clusters), and a running [`Envoy`]
//! with its admin endpoint, access log and log. The binary, the process
//! and the bootstrap's pieces are [`gateway_plugin_envoy`]'s, shared with
//! `cargo gateway-plugin run`.

use crate::{free_port, plugin_wasm, request, workspace_root, ScratchDir};
use gateway_plugin_envoy::bootstrap::{
    catch_all, http_connection_manager, listener, router_filter, static_cluster, wasm_filter,
    wasm_plugin,
};
use gateway_plugin_envoy::{binary, EnvoyCommand, EnvoyProcess, NotReady};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Envoy binary: `$ENVOY_BIN`, else the project-local install that
/// `scripts/install-envoy` makes under `.tools/envoy`.
pub fn envoy_binary() -> PathBuf {
    let root = workspace_root();
    binary::from_env_or_checkout(&root).unwrap_or_else(|| {
        panic!(
            "Envoy is not installed at {}: run `bash scripts/install-envoy` (or `bash scripts/test`), or set ENVOY_BIN",
            binary::checkout_binary(&root).display()
        )
    })
}

/// How to start Envoy.
pub struct EnvoyConfig {
    /// The plugin's `.wasm`.
    pub wasm: PathBuf,
    /// The plugin's name (the filter's `config.name`).
    pub plugin_name: String,
    /// The plugin configuration, sent as JSON text (`None`: no configuration).
    pub configuration: Option<serde_json::Value>,
    /// The port of the upstream cluster `backend` every route goes to.
    pub backend_port: u16,
    /// Envoy's log level for the `wasm` component (`info` by default).
    pub wasm_log_level: &'static str,
    /// More upstream clusters for callouts: `(name, port on 127.0.0.1)`.
    pub clusters: Vec<(String, u16)>,
    /// Listeners from a file (LDS) instead of the one static listener, each
    /// with its own plugin configuration and all sharing one `vm_id` (so one
    /// VM per worker holds a root context per listener).
    pub lds: Option<Vec<LdsListener>>,
    /// The route configuration's `virtual_hosts` (default: every domain,
    /// every path to `backend`).
    pub virtual_hosts: Option<serde_json::Value>,
    /// An access log line format (Envoy's command operators) written to
    /// `access.log` in Envoy's scratch folder; see [`Envoy::access_log`].
    pub access_log_format: Option<String>,
    /// The Wasm filter's `allow_on_headers_stop_iteration` (Envoy's
    /// default, `false`, when `None`).
    pub allow_on_headers_stop_iteration: Option<bool>,
    /// The connection manager's `request_timeout` in milliseconds (none by
    /// default): a request not sent upstream by then is answered by Envoy
    /// (504 once the client has sent all of it).
    pub request_timeout_ms: Option<u64>,
    /// Whether the listener has the Wasm filter (`false`: the router only,
    /// for baselines and backends).
    pub with_plugin: bool,
}

/// A listener served from the LDS file: its name, port and the plugin's
/// configuration on it.
#[derive(Clone)]
pub struct LdsListener {
    pub name: String,
    pub port: u16,
    pub configuration: serde_json::Value,
}

impl LdsListener {
    /// A listener on a free port.
    pub fn new(name: &str, configuration: serde_json::Value) -> LdsListener {
        LdsListener {
            name: name.to_string(),
            port: free_port(),
            configuration,
        }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl EnvoyConfig {
    pub fn new(example: &str, backend_port: u16) -> EnvoyConfig {
        EnvoyConfig {
            wasm: plugin_wasm(example),
            plugin_name: example.to_string(),
            ..EnvoyConfig::new_unbuilt(backend_port)
        }
    }

    /// An Envoy without a plugin (the router only), routing to `backend`.
    pub fn plain(backend_port: u16) -> EnvoyConfig {
        EnvoyConfig {
            with_plugin: false,
            ..EnvoyConfig::new_unbuilt(backend_port)
        }
    }

    fn new_unbuilt(backend_port: u16) -> EnvoyConfig {
        EnvoyConfig {
            wasm: PathBuf::new(),
            plugin_name: String::new(),
            configuration: None,
            backend_port,
            wasm_log_level: "info",
            clusters: Vec::new(),
            lds: None,
            virtual_hosts: None,
            access_log_format: None,
            allow_on_headers_stop_iteration: None,
            request_timeout_ms: None,
            with_plugin: true,
        }
    }

    /// Sets the Wasm filter's `allow_on_headers_stop_iteration` (Envoy
    /// 1.35+): a header pause then holds only the headers, and the body
    /// comes on to the plugin meanwhile, as in Higress.
    pub fn allow_on_headers_stop_iteration(mut self, allow: bool) -> EnvoyConfig {
        self.allow_on_headers_stop_iteration = Some(allow);
        self
    }

    /// Sets the connection manager's `request_timeout`.
    pub fn request_timeout_ms(mut self, ms: u64) -> EnvoyConfig {
        self.request_timeout_ms = Some(ms);
        self
    }

    /// Writes an access log line per request in `format` (e.g.
    /// `"%RESPONSE_CODE_DETAILS%\n"`), read back with [`Envoy::access_log`].
    pub fn access_log(mut self, format: &str) -> EnvoyConfig {
        self.access_log_format = Some(format.to_string());
        self
    }

    /// Replaces the route configuration's `virtual_hosts`, e.g. to name
    /// routes and serve domains apart.
    pub fn virtual_hosts(mut self, virtual_hosts: serde_json::Value) -> EnvoyConfig {
        self.virtual_hosts = Some(virtual_hosts);
        self
    }

    /// Serves `listeners` from a watched LDS file (see [`Envoy::set_listeners`])
    /// instead of the static listener.
    pub fn lds(mut self, listeners: Vec<LdsListener>) -> EnvoyConfig {
        self.lds = Some(listeners);
        self
    }

    /// Adds a cluster named `name` (e.g. `outbound|8080||token.static`, as
    /// the plugin computes it) that sends to `127.0.0.1:port`.
    pub fn cluster(mut self, name: &str, port: u16) -> EnvoyConfig {
        self.clusters.push((name.to_string(), port));
        self
    }

    pub fn configuration(mut self, json: serde_json::Value) -> EnvoyConfig {
        self.configuration = Some(json);
        self
    }

    pub fn wasm_log_level(mut self, level: &'static str) -> EnvoyConfig {
        self.wasm_log_level = level;
        self
    }

    /// A listener with the plugin (configured with `configuration`) before
    /// the router, every route to `backend`.
    fn listener(
        &self,
        name: &str,
        port: u16,
        configuration: Option<&serde_json::Value>,
        dir: &Path,
    ) -> serde_json::Value {
        let configuration = configuration.map(|c| c.to_string());
        // One VM for every listener's filter: a root context each.
        let mut plugin = wasm_plugin(
            &self.plugin_name,
            "shared",
            &self.wasm,
            configuration.as_deref(),
        );
        if let Some(allow) = self.allow_on_headers_stop_iteration {
            plugin["allow_on_headers_stop_iteration"] = allow.into();
        }
        let http_filters = match self.with_plugin {
            true => vec![wasm_filter(plugin), router_filter()],
            false => vec![router_filter()],
        };
        let virtual_hosts = self
            .virtual_hosts
            .clone()
            .unwrap_or_else(|| catch_all(json!({"cluster": "backend"})));
        let mut manager = http_connection_manager(virtual_hosts, http_filters);
        let config = &mut manager["typed_config"];
        // HTTP/1.1 clients may send and get trailers (HTTP/2 always can;
        // the codec is picked per connection).
        config["http_protocol_options"] = json!({"enable_trailers": true});
        config["access_log"] = self.access_log_config(dir);
        if let Some(ms) = self.request_timeout_ms {
            config["request_timeout"] = format!("{}s", ms as f64 / 1000.0).into();
        }
        listener(name, loopback(port), manager)
    }

    /// The connection manager's `access_log`: a file in `dir` with
    /// [`access_log_format`](Self::access_log_format) lines, if set.
    fn access_log_config(&self, dir: &Path) -> serde_json::Value {
        let access_log: Vec<serde_json::Value> = self
            .access_log_format
            .iter()
            .map(|format| {
                json!({
                    "name": "envoy.access_loggers.file",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                        "path": dir.join(ACCESS_LOG),
                        "log_format": {"text_format_source": {"inline_string": format}},
                    },
                })
            })
            .collect();
        access_log.into()
    }

    /// The LDS file's content: a discovery response with `listeners`.
    fn lds_file(&self, listeners: &[LdsListener], version: u64, dir: &Path) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = listeners
            .iter()
            .map(|l| {
                let mut listener = self.listener(&l.name, l.port, Some(&l.configuration), dir);
                listener["@type"] = "type.googleapis.com/envoy.config.listener.v3.Listener".into();
                listener
            })
            .collect();
        json!({"version_info": version.to_string(), "resources": resources})
    }

    fn bootstrap(&self, listen_port: u16, admin_port: u16, dir: &Path) -> serde_json::Value {
        let clusters: Vec<serde_json::Value> =
            std::iter::once(cluster("backend", self.backend_port))
                .chain(
                    self.clusters
                        .iter()
                        .map(|(name, port)| cluster(name, *port)),
                )
                .collect();
        let mut bootstrap =
            gateway_plugin_envoy::bootstrap::bootstrap("gateway-plugin-e2e", loopback(admin_port));
        bootstrap["static_resources"] = json!({"clusters": clusters});
        match &self.lds {
            None => {
                bootstrap["static_resources"]["listeners"] =
                    json!([self.listener("main", listen_port, self.configuration.as_ref(), dir)]);
            }
            Some(_) => {
                bootstrap["dynamic_resources"] = json!({"lds_config": {
                    "resource_api_version": "V3",
                    "path_config_source": {
                        "path": dir.join(LDS_FILE),
                        "watched_directory": {"path": dir},
                    },
                }});
            }
        }
        bootstrap
    }
}

const LDS_FILE: &str = "lds.json";
const ACCESS_LOG: &str = "access.log";

/// 127.0.0.1:`port`.
fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A cluster `name` sending to 127.0.0.1:`port`, with trailers to and from
/// HTTP/1.1 upstreams and circuit breakers far above any test's load.
fn cluster(name: &str, port: u16) -> serde_json::Value {
    let mut cluster = static_cluster(name, loopback(port));
    // Trailers reach (and come back from) HTTP/1.1 upstreams.
    cluster["typed_extension_protocol_options"] = json!({
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http_protocol_options": {"enable_trailers": true}},
        },
    });
    // Load tests keep thousands of callouts in flight.
    cluster["circuit_breakers"] = json!({"thresholds": [{
        "max_connections": 100000,
        "max_pending_requests": 100000,
        "max_requests": 100000,
    }]});
    cluster
}

/// A running Envoy; killed on drop.
pub struct Envoy {
    /// First, so dropped first: Envoy is killed before its folder goes.
    process: EnvoyProcess,
    port: u16,
    admin_port: u16,
    log_path: PathBuf,
    config: EnvoyConfig,
    lds_version: u64,
    dir: ScratchDir,
}

/// Envoy did not come up; `log` is everything it wrote.
#[derive(Debug)]
pub struct EnvoyFailed {
    pub reason: String,
    pub log: String,
}

impl Envoy {
    /// Starts Envoy and waits until it is ready to serve.
    pub fn start(config: EnvoyConfig) -> Result<Envoy, EnvoyFailed> {
        let dir = ScratchDir::new("envoy");
        let listen_port = free_port();
        let admin_port = free_port();
        let config_path = dir.path().join("envoy.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config.bootstrap(listen_port, admin_port, dir.path()))
                .expect("json"),
        )
        .expect("write envoy.json");
        if let Some(listeners) = &config.lds {
            write_atomically(
                &dir.path().join(LDS_FILE),
                &config.lds_file(listeners, 1, dir.path()),
            );
        }
        let log_path = dir.path().join("envoy.log");
        let binary = envoy_binary();
        let process = EnvoyCommand::new(&binary, &config_path)
            // A removed listener is drained for 1 s, not Envoy's 10 minutes.
            .args(["--drain-time-s", "1", "--drain-strategy", "immediate"])
            // Access logs reach their file within 0.2 s, not Envoy's 10 s.
            .args(["--file-flush-interval-msec", "200"])
            .wasm_log_level(config.wasm_log_level)
            .stderr_to_file(&log_path)
            .spawn()
            .map_err(|e| EnvoyFailed {
                reason: format!("cannot start {}: {e}", binary.display()),
                log: String::new(),
            })?;
        let mut envoy = Envoy {
            process,
            port: listen_port,
            admin_port,
            log_path,
            config,
            lds_version: 1,
            dir,
        };
        let reason = match envoy
            .process
            .wait_ready(admin_port, Duration::from_secs(60))
        {
            Ok(()) => return Ok(envoy),
            Err(NotReady::Exited(status)) => format!("envoy exited: {status}"),
            Err(NotReady::TimedOut) => "envoy was not ready within 60 s".to_string(),
        };
        Err(EnvoyFailed {
            reason,
            log: envoy.log(),
        })
    }

    /// Replaces the listeners of an Envoy started with [`EnvoyConfig::lds`]
    /// (the LDS file is replaced by a rename, as Envoy's file watch wants),
    /// and waits until Envoy's active listeners are exactly these.
    pub fn set_listeners(&mut self, listeners: &[LdsListener]) {
        self.lds_version += 1;
        write_atomically(
            &self.dir.path().join(LDS_FILE),
            &self
                .config
                .lds_file(listeners, self.lds_version, self.dir.path()),
        );
        let mut wanted: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        wanted.sort();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut active = self.active_listeners();
            active.sort();
            if active == wanted {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "listeners are {active:?}, not {wanted:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The bytes Envoy's heap has allocated (admin `/memory`, `allocated`):
    /// every VM's memory and Envoy's own.
    pub fn heap_allocated(&self) -> Option<u64> {
        let url = format!("http://127.0.0.1:{}/memory", self.admin_port);
        let resp = request("GET", &url, &[], b"").ok()?;
        let json: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
        json["allocated"].as_str()?.parse().ok()
    }

    /// A counter or gauge from Envoy's admin `/stats`.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let url = format!(
            "http://127.0.0.1:{}/stats?filter=^{}$",
            self.admin_port,
            name.replace('.', "\\.")
        );
        let resp = request("GET", &url, &[], b"").ok()?;
        resp.text().lines().find_map(|line| {
            let (stat, value) = line.split_once(": ")?;
            (stat == name).then(|| value.trim().parse().ok())?
        })
    }

    /// Waits up to 20 s until `stat` has `value`.
    pub fn wait_for_stat(&self, name: &str, value: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.stat(name) != Some(value) {
            assert!(
                Instant::now() < deadline,
                "{name} is {:?}, not {value}",
                self.stat(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The names of Envoy's active listeners (admin `/listeners`).
    pub fn active_listeners(&self) -> Vec<String> {
        let url = format!("http://127.0.0.1:{}/listeners", self.admin_port);
        let Ok(resp) = request("GET", &url, &[], b"") else {
            return Vec::new();
        };
        resp.text()
            .lines()
            .filter_map(|line| line.split("::").next())
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `http://127.0.0.1:<listener>/<path>`.
    /// The listener's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The access log's lines so far (see [`EnvoyConfig::access_log`]),
    /// waiting up to 5 s for at least `lines` of them (Envoy flushes the
    /// file now and then).
    pub fn access_log(&self, lines: usize) -> Vec<String> {
        let path = self.dir.path().join(ACCESS_LOG);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let found: Vec<String> = text.lines().map(str::to_string).collect();
            if found.len() >= lines || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything Envoy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits up to 5 s for a line containing `needle` to reach the log (Envoy
    /// flushes its log file asynchronously).
    pub fn wait_for_log(&self, needle: &str) -> Option<String> {
        self.wait_for_log_within(needle, Duration::from_secs(5))
    }

    /// Waits up to `limit` for a line containing `needle` to reach the log.
    pub fn wait_for_log_within(&self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes `json` to `path` by a rename from a file beside it, so a watcher
/// never reads it half-written.
fn write_atomically(path: &Path, json: &serde_json::Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(json).expect("json")).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}
