//! `run`'s Envoy: which binary, the bootstrap it gets (the listener with
//! the plugin, the `upstream` cluster and the `--cluster` ones), and each
//! start: Envoy launched through [`gateway_plugin_envoy`], its stderr
//! lines sent to the main loop, held back until its admin `/ready`
//! answers, and read for the reason when it exits first.

use super::args::{port_in_use, Upstream};
use super::logs::{missing_import, parse_line, plugin_error, LinePrinter};
use super::Event;
use anyhow::{anyhow, bail, Context, Result};
use gateway_plugin_envoy::binary::{self, ENVOY_VERSION};
use gateway_plugin_envoy::bootstrap::{
    catch_all, http_connection_manager, listener, router_filter, static_cluster, wasm_filter,
    wasm_plugin,
};
use gateway_plugin_envoy::{accepts, describe_exit, is_ready, EnvoyCommand, EnvoyProcess};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

/// How long Envoy may take to come up: V8 compiles the plugin first, which
/// for a debug build takes a few seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the startup wait looks at Envoy's admin `/ready`.
const POLL: Duration = Duration::from_millis(50);

/// How long a stopping Envoy has between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The Envoy binary: `$ENVOY_BIN`, else the checkout's (the repository
/// this tool was built from, if it is there and the same version), else the
/// per-user install (made on first use).
pub(super) fn envoy_binary() -> Result<PathBuf> {
    if let Some(path) = binary::from_env() {
        if !path.is_file() {
            bail!("ENVOY_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    if let Some(path) = checkout.and_then(|root| binary::checkout_envoy(root, ENVOY_VERSION)) {
        return Ok(path);
    }
    Ok(binary::cached_envoy(ENVOY_VERSION)?)
}

/// A folder for Envoy's configuration, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    /// A new folder under the system's temporary folder.
    pub(super) fn create() -> Result<TempDir> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "cargo-gateway-plugin-run-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for a (stopping or stopped) Envoy to exit; its status as text.
pub(super) fn exit_status(envoy: &mut EnvoyProcess) -> String {
    match envoy.wait() {
        Ok(status) => describe_exit(status),
        Err(err) => err.to_string(),
    }
}

/// How a start ended.
pub(super) enum Started {
    /// Envoy is ready.
    Ready(EnvoyProcess),
    /// Ctrl-C or SIGTERM came first.
    Stopped,
}

/// Starts Envoys (again, under `--watch`) with what does not change.
pub(super) struct Runner {
    pub(super) envoy_bin: PathBuf,
    pub(super) plugin_name: String,
    pub(super) port: u16,
    pub(super) upstream: Upstream,
    pub(super) clusters: Vec<(String, SocketAddr)>,
    /// Envoy's level for its `wasm` component.
    pub(super) log_level: String,
    pub(super) dir: TempDir,
    pub(super) events: Sender<Event>,
    /// The current Envoy's number (see [`Event::Line`]).
    pub(super) generation: u64,
}

impl Runner {
    /// Starts Envoy with `wasm` and `config`, and waits until its admin
    /// `/ready` answers. Its lines meanwhile are held back: printed once it
    /// is ready, or, when it exits, read for the reason.
    pub(super) fn start(
        &mut self,
        wasm: &Path,
        config: Option<&str>,
        events: &Receiver<Event>,
    ) -> Result<Started> {
        self.generation += 1;
        let admin_port = gateway_plugin_envoy::free_port().context("cannot bind 127.0.0.1:0")?;
        let config_path = self.write_bootstrap(wasm, config, admin_port)?;
        let envoy = self.spawn(&config_path)?;
        self.wait_ready(envoy, admin_port, events)
    }

    /// Writes the bootstrap into the temporary folder; its path.
    fn write_bootstrap(
        &self,
        wasm: &Path,
        config: Option<&str>,
        admin_port: u16,
    ) -> Result<PathBuf> {
        let bootstrap = self.bootstrap(wasm, config, admin_port);
        let config_path = self.dir.0.join("envoy.json");
        let text =
            serde_json::to_vec_pretty(&bootstrap).context("cannot write Envoy's bootstrap")?;
        std::fs::write(&config_path, text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        Ok(config_path)
    }

    /// Starts this generation's Envoy: its stderr lines go to the main
    /// loop as [`Event::Line`], then [`Event::Exited`].
    fn spawn(&self, config_path: &Path) -> Result<EnvoyProcess> {
        let generation = self.generation;
        let lines = self.events.clone();
        EnvoyCommand::new(&self.envoy_bin, config_path)
            .wasm_log_level(&self.log_level)
            // A Ctrl-C in the terminal reaches us alone, and we stop Envoy
            // (an Envoy stopping on its own would look like a crash).
            .own_process_group()
            .stop_grace(STOP_GRACE)
            .stderr_lines(move |line| {
                let event = match line {
                    Some(text) => Event::Line(generation, text),
                    None => Event::Exited(generation),
                };
                lines.send(event).is_ok()
            })
            .spawn()
            .with_context(|| format!("cannot start {}", self.envoy_bin.display()))
    }

    /// Holds Envoy's lines back until it is ready (then prints them), or
    /// until it exits (then reads them for the reason).
    fn wait_ready(
        &self,
        mut envoy: EnvoyProcess,
        admin_port: u16,
        events: &Receiver<Event>,
    ) -> Result<Started> {
        let generation = self.generation;
        let mut held = Vec::new();
        let mut changed = false;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match events.recv_timeout(POLL) {
                Ok(Event::Stop) => return Ok(Started::Stopped),
                Ok(Event::Line(g, line)) if g == generation => held.push(line),
                Ok(Event::Exited(g)) if g == generation => {
                    let status = exit_status(&mut envoy);
                    return Err(self.startup_failure(&held, &status));
                }
                Ok(Event::Changed) => changed = true,
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("lost Envoy's output"),
            }
            if is_ready(admin_port) && accepts(self.port) {
                break;
            }
            if Instant::now() > deadline {
                let reason = plugin_error(&held)
                    .map(|line| format!(" (the plugin logged: {line})"))
                    .unwrap_or_default();
                bail!(
                    "envoy was not ready within {} s{reason}",
                    READY_TIMEOUT.as_secs()
                );
            }
        }
        let mut printer = LinePrinter::default();
        for line in &held {
            printer.print(line);
        }
        if changed {
            // A change during the start is handled once it is up.
            let _ = self.events.send(Event::Changed);
        }
        Ok(Started::Ready(envoy))
    }

    /// Why Envoy exited before it was ready, from what it wrote.
    fn startup_failure(&self, lines: &[String], status: &str) -> anyhow::Error {
        if let Some(line) = plugin_error(lines) {
            return anyhow!("the plugin refused its configuration: {line}");
        }
        if let Some(reason) = lines.iter().find_map(|l| missing_import(l)) {
            return anyhow!("{reason}");
        }
        let bind = format!("cannot bind '127.0.0.1:{}'", self.port);
        if let Some(line) = lines.iter().find(|l| l.contains(&bind)) {
            let reason = line.rsplit(": ").next().unwrap_or("in use");
            return port_in_use(self.port, reason);
        }
        // Envoy's last critical line is its reason; without one, its last line.
        let reason = lines
            .iter()
            .rev()
            .filter_map(|l| parse_line(l))
            .find(|l| l.level == "critical")
            .map(|l| l.message.to_string())
            .or_else(|| {
                lines
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "no output".to_string());
        anyhow!("envoy exited ({status}) before it was ready: {reason}")
    }

    /// Envoy's bootstrap: the listener with the plugin, the `upstream`
    /// cluster and the `--cluster` ones, the admin endpoint.
    fn bootstrap(&self, wasm: &Path, config: Option<&str>, admin_port: u16) -> serde_json::Value {
        let mut plugin = wasm_plugin(&self.plugin_name, "", wasm, config);
        // As Higress has it (Envoy 1.35 and later): a plugin may hold a
        // request's headers for its body handler (`hold_headers`; an MCP
        // server does), so the upstream does not see the request first.
        plugin["allow_on_headers_stop_iteration"] = true.into();
        let mut route = json!({"cluster": "upstream"});
        if let Some(host) = &self.upstream.host_rewrite {
            route["host_rewrite_literal"] = host.as_str().into();
        }
        let manager =
            http_connection_manager(catch_all(route), vec![wasm_filter(plugin), router_filter()]);
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let clusters: Vec<serde_json::Value> =
            std::iter::once(static_cluster("upstream", self.upstream.address))
                .chain(
                    self.clusters
                        .iter()
                        .map(|(name, address)| static_cluster(name, *address)),
                )
                .collect();
        let mut bootstrap = gateway_plugin_envoy::bootstrap::bootstrap(
            "cargo-gateway-plugin-run",
            loopback(admin_port),
        );
        bootstrap["static_resources"] = json!({
            "listeners": [listener("main", loopback(self.port), manager)],
            "clusters": clusters,
        });
        // A connection limit: without one Envoy warns about it at every
        // start, a line that would only be noise here.
        bootstrap["overload_manager"] = json!({"resource_monitors": [{
            "name": "envoy.resource_monitors.global_downstream_max_connections",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                "max_active_downstream_connections": 10000,
            },
        }]});
        bootstrap
    }

    /// Tells where to send requests.
    pub(super) fn print_listening(&self, wasm: &Path) {
        let port = self.port;
        println!(
            "listening on http://127.0.0.1:{port}  (upstream: {}, plugin: {})",
            self.upstream.shown,
            wasm.display()
        );
        println!("  curl -i http://127.0.0.1:{port}/");
    }
}
