//! [`Host`] (a compiled plugin plus where its callouts go) and [`Vm`] (the
//! plugin running, configured, taking requests).

use crate::abi::LEVELS;
use crate::error::Error;
use crate::http::{self, ClientResponse, Request, Response, RootId, UpstreamRequest};
use crate::imports;
use crate::machine::{Compiled, Machine};
use crate::schedule::{self, Order};
use crate::state::ExportCost;
use crate::state::{Answer, Setup, State, Target};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use wasmtime::{Config, Engine, Module, Store};

/// A compiled plugin and the world around it: clusters for its callouts, the
/// upstream, the log level. Cheap to clone; [`configure`](Host::configure)
/// starts a VM.
///
/// ```no_run
/// use gateway_plugin_test::{Host, Request};
/// # fn main() -> Result<(), gateway_plugin_test::Error> {
/// let host = Host::load("target/wasm32-wasip1/release/my_plugin.wasm")?
///     .configure(serde_json::json!({"mockEnable": true}))?;
/// let resp = host.request(Request::get("/"))?;
/// assert_eq!(resp.text(), "hello world");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Host {
    compiled: Arc<Compiled>,
    setup: Setup,
}

impl Host {
    /// Reads and compiles a plugin (`.wasm`). Every import must be one this
    /// host provides, or this fails naming it.
    pub fn load(path: impl AsRef<Path>) -> Result<Host, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Load {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Host::from_bytes(&bytes).map_err(|err| match err {
            Error::Load { reason, .. } => Error::Load {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Compiles a plugin from its bytes. Compiled plugins are kept for the
    /// life of the process: loading the same bytes again is free.
    pub fn from_bytes(wasm: &[u8]) -> Result<Host, Error> {
        type Cache = Mutex<HashMap<(u64, usize), Arc<Compiled>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let key = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            wasm.hash(&mut hasher);
            (hasher.finish(), wasm.len())
        };
        let cache = CACHE.get_or_init(Default::default);
        let cached = cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let compiled = match cached {
            Some(compiled) => compiled,
            None => {
                let compiled = Arc::new(Host::compile(wasm)?);
                let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                Arc::clone(cache.entry(key).or_insert(compiled))
            }
        };
        Ok(Host {
            compiled,
            setup: Setup {
                clusters: HashMap::new(),
                redis: HashMap::new(),
                upstream: Arc::new(http::echo),
                log_level: 2,
                properties: HashMap::new(),
                vm_config: Vec::new(),
                higress_properties: false,
                allow_stop_iteration: false,
            },
        })
    }

    fn compile(wasm: &[u8]) -> Result<Compiled, Error> {
        let load_error = |reason: String| Error::Load {
            path: "<bytes>".into(),
            reason,
        };
        let mut config = Config::new();
        config.consume_fuel(true);
        // Tests load plugins often and run them briefly: compile fast.
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let engine = Engine::new(&config).map_err(|e| load_error(e.to_string()))?;
        let module = Module::new(&engine, wasm).map_err(|e| load_error(format!("{e:?}")))?;
        let linker = imports::linker(&engine).map_err(|e| load_error(e.to_string()))?;
        let setup = Setup {
            clusters: HashMap::new(),
            redis: HashMap::new(),
            upstream: Arc::new(http::echo),
            log_level: 2,
            properties: HashMap::new(),
            vm_config: Vec::new(),
            higress_properties: false,
            allow_stop_iteration: false,
        };
        let mut probe = Store::new(&engine, State::new(Arc::new(setup), Vec::new()));
        for import in module.imports() {
            if linker.get_by_import(&mut probe, &import).is_none() {
                return Err(Error::UnknownImport {
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                });
            }
        }
        let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
        for required in ["memory", "proxy_on_context_create"] {
            if !exports.contains(&required) {
                return Err(Error::MissingExport {
                    name: required.to_string(),
                });
            }
        }
        if !exports.iter().any(|e| e.starts_with("proxy_abi_version_")) {
            return Err(Error::MissingExport {
                name: "proxy_abi_version_0_2_1".to_string(),
            });
        }
        Ok(Compiled {
            engine,
            module,
            linker,
        })
    }

    /// Callouts to Envoy cluster `name` go to the real server at `address`
    /// (`host:port`), e.g. `.cluster("outbound|8080||token.static", "127.0.0.1:8080")`.
    /// A callout to a cluster not configured here is refused at dispatch, as a
    /// gateway refuses an unknown cluster.
    pub fn cluster(mut self, name: &str, address: &str) -> Host {
        self.setup
            .clusters
            .insert(name.to_string(), Target::Address(address.to_string()));
        self
    }

    /// Callouts to cluster `name` are answered by `answer`.
    pub fn cluster_fn(
        mut self,
        name: &str,
        answer: impl Fn(&UpstreamRequest) -> Response + Send + Sync + 'static,
    ) -> Host {
        let answer: Answer = Arc::new(answer);
        self.setup
            .clusters
            .insert(name.to_string(), Target::Fn(answer));
        self
    }

    /// Callouts to cluster `name` time out: their answer has no headers.
    pub fn cluster_timeout(mut self, name: &str) -> Host {
        self.setup
            .clusters
            .insert(name.to_string(), Target::Timeout);
        self
    }

    /// Redis calls to cluster `name` go to the real `redis-server` at `address`.
    pub fn redis_cluster(mut self, name: &str, address: &str) -> Host {
        self.setup
            .redis
            .insert(name.to_string(), address.to_string());
        self
    }

    /// Replaces the default upstream (an echo of the request as JSON).
    pub fn upstream(
        mut self,
        answer: impl Fn(&UpstreamRequest) -> Response + Send + Sync + 'static,
    ) -> Host {
        self.setup.upstream = Arc::new(answer);
        self
    }

    /// The log level the plugin sees: `trace`, `debug`, `info` (default),
    /// `warn`, `error` or `critical`.
    pub fn log_level(mut self, level: &str) -> Host {
        if let Some(level) = LEVELS.iter().position(|l| l.eq_ignore_ascii_case(level)) {
            self.setup.log_level = level as i32;
        }
        self
    }

    /// A property the plugin can read (`get_property`), by its dotted path,
    /// e.g. `.property("route_name", "api")`. Strings are raw bytes, numbers
    /// 8-byte little-endian, as Envoy serializes them.
    pub fn property(mut self, path: &str, value: impl Into<Vec<u8>>) -> Host {
        self.setup.properties.insert(path.to_string(), value.into());
        self
    }

    /// Answers the properties `route_name` and `cluster_name` with the
    /// request's route and cluster, as Higress does. By default this host is
    /// upstream Envoy: those are empty and the names are under `xds.`.
    pub fn higress_properties(mut self) -> Host {
        self.setup.higress_properties = true;
        self
    }

    /// Lets a headers phase that returns `Pause` hold the headers while the
    /// body comes on to the plugin, as Higress does and as upstream Envoy
    /// does with `allow_on_headers_stop_iteration: true` in the Wasm
    /// filter's configuration: body (and trailer) callbacks then arrive
    /// while the headers wait, still changeable, and both go on when a body
    /// callback returns `Continue` or the plugin resumes the stream. By
    /// default this host is upstream Envoy without the option: a header
    /// pause stops the body too, until the plugin resumes.
    pub fn allow_on_headers_stop_iteration(mut self) -> Host {
        self.setup.allow_stop_iteration = true;
        self
    }

    /// Starts a VM and configures the plugin with `json` (`null` is an
    /// empty configuration). `Err(Error::Refused)` carries the plugin's log
    /// lines if it refuses.
    pub fn configure(self, json: serde_json::Value) -> Result<Vm, Error> {
        let config = match json {
            serde_json::Value::Null => Vec::new(),
            json => json.to_string().into_bytes(),
        };
        self.configure_bytes(config)
    }

    /// [`configure`](Host::configure) with the configuration as the gateway
    /// would pass it, byte for byte: anything, not only JSON (a BOM, bytes
    /// that are not UTF-8, a truncated document).
    ///
    /// ```no_run
    /// # use gateway_plugin_test::Host;
    /// # fn main() -> Result<(), gateway_plugin_test::Error> {
    /// let refused = Host::load("my_plugin.wasm")?.configure_bytes(b"\xFF{".to_vec());
    /// assert!(refused.is_err());
    /// # Ok(()) }
    /// ```
    pub fn configure_bytes(self, config: impl Into<Vec<u8>>) -> Result<Vm, Error> {
        let config = config.into();
        let setup = Arc::new(self.setup.clone());
        let machine = Machine::start(&self.compiled, &setup, config.clone(), Vec::new())?;
        Ok(Vm {
            compiled: Arc::clone(&self.compiled),
            setup,
            config,
            machine: Mutex::new(machine),
        })
    }
}

/// The plugin running in a VM, configured: send it requests.
///
/// Calls are serialized (a gateway worker thread runs one VM the same way);
/// `Vm` is `Send + Sync`, so tests may share one.
pub struct Vm {
    compiled: Arc<Compiled>,
    setup: Arc<Setup>,
    config: Vec<u8>,
    machine: Mutex<Machine>,
}

impl Vm {
    fn machine(&self) -> Result<MutexGuard<'_, Machine>, Error> {
        let mut machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        if machine.dead {
            // Like a gateway's reload policy: a new VM, configured again.
            let logs = std::mem::take(&mut machine.store.data_mut().logs);
            *machine = Machine::start(&self.compiled, &self.setup, self.config.clone(), logs)?;
        }
        Ok(machine)
    }

    /// Adds a plugin configuration to this VM: a root context of its own
    /// next to the first, as Envoy runs every filter configuration that
    /// shares a `vm_config` (same `vm_id` and code) in one VM. Requests go to
    /// it with [`Request::root`]. `Err(Error::Refused)` if the plugin refuses
    /// `json`. (A trap replaces the VM with one that has the first
    /// configuration only.)
    pub fn add_root(&self, json: serde_json::Value) -> Result<RootId, Error> {
        let mut machine = self.machine()?;
        let id = machine.next_context;
        machine.next_context += 1;
        let config = match json {
            serde_json::Value::Null => Vec::new(),
            json => json.to_string().into_bytes(),
        };
        machine.start_root(id, config)?;
        Ok(RootId(id))
    }

    /// Deletes a root context now (its configuration was removed), with
    /// `proxy_on_done` and `proxy_on_delete`; callouts made on its behalf are
    /// cancelled, as a gateway does.
    pub fn remove_root(&self, root: RootId) -> Result<(), Error> {
        let mut machine = self.machine()?;
        machine.delete_root(root.0)
    }

    /// [`requests`](Vm::requests), and `root` is removed during the run, as a
    /// configuration push removes a listener: at a moment drawn from the
    /// seed once all of its streams have started, and deleted (as
    /// [`remove_root`](Vm::remove_root)) when the last of them has ended,
    /// while the other roots' streams go on (and wait on their callouts).
    pub fn requests_removing_root(
        &self,
        requests: Vec<Request>,
        root: RootId,
        seed: u64,
    ) -> Result<Vec<ClientResponse>, Error> {
        eprintln!(
            "gateway-plugin-test: interleaving seed {seed}, removing root {}",
            root.0
        );
        let mut machine = self.machine()?;
        schedule::run_removing_root(&mut machine, requests, Order::Seeded(seed), Some(root.0))
    }

    /// Runs one request through the plugin, start to end: request headers
    /// and body, the upstream, response headers and body, then the stream's
    /// end; callouts are answered as they are made. Callouts still pending
    /// when the stream ends (say, from `#[on_stream_done]`) are answered too
    /// before this returns.
    pub fn request(&self, request: Request) -> Result<ClientResponse, Error> {
        let mut machine = self.machine()?;
        let mut responses = schedule::run(&mut machine, vec![request], Order::Fifo)?;
        Ok(responses.remove(0))
    }

    /// Runs many streams at once, interleaved: which stream starts or moves
    /// on next and which callout answer comes next is drawn at random from a
    /// seed, so stream B's callbacks arrive while stream A is paused, and
    /// streams end in between. The seed comes from `GATEWAY_PLUGIN_TEST_SEED`
    /// or is random; it is printed (cargo shows it when a test fails) and
    /// [`requests_with_seed`](Vm::requests_with_seed) replays it.
    /// Responses come back in the order of `requests`, all or nothing: the
    /// `Result` wraps the whole `Vec` (a trap or a stuck stream fails the
    /// run), so write `vm.requests(reqs)?.into_iter()` or
    /// `.unwrap().iter()`, not `.into_iter().map(|r| r.unwrap())`.
    pub fn requests(&self, requests: Vec<Request>) -> Result<Vec<ClientResponse>, Error> {
        let seed = std::env::var("GATEWAY_PLUGIN_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        eprintln!("gateway-plugin-test: interleaving seed {seed} (GATEWAY_PLUGIN_TEST_SEED={seed} replays it)");
        self.requests_with_seed(requests, seed)
    }

    /// [`requests`](Vm::requests) with a given seed.
    pub fn requests_with_seed(
        &self,
        requests: Vec<Request>,
        seed: u64,
    ) -> Result<Vec<ClientResponse>, Error> {
        let mut machine = self.machine()?;
        schedule::run(&mut machine, requests, Order::Seeded(seed))
    }

    /// Every line the plugin logged so far (at or above the log level), as
    /// `<level> <message>`, e.g. `info [my-plugin] hello`.
    pub fn logs(&self) -> Vec<String> {
        let machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        machine.store.data().logs.clone()
    }

    /// Forgets the log lines so far.
    pub fn clear_logs(&self) {
        let mut machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        machine.store.data_mut().logs.clear();
    }

    /// Calls the plugin's `on_tick` once (whatever period it set), and
    /// answers the callouts it makes.
    pub fn tick(&self) -> Result<(), Error> {
        let mut machine = self.machine()?;
        let on_tick = machine.exports.on_tick.clone();
        machine.call("proxy_on_tick", on_tick, 1, None, 1)?;
        schedule::run(&mut machine, Vec::new(), Order::Fifo)?;
        Ok(())
    }

    /// The tick period the plugin asked for, in ms (0: none).
    pub fn tick_period_ms(&self) -> u32 {
        let machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        machine.store.data().tick_period_ms
    }

    /// The cluster string of every `proxy_redis_init` the plugin made, as
    /// the gateway got it (Higress's options after `?`, e.g.
    /// `outbound|6379||redis.static?db=2&buffer_flush_timeout=3&...`).
    pub fn redis_inits(&self) -> Vec<String> {
        let machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        machine.store.data().redis_inits.clone()
    }

    /// Where the plugin's instructions went, per export the host called,
    /// since the VM started or the last [`reset_profile`](Self::reset_profile);
    /// most instructions first. A profile of N requests divided by N is the
    /// per-request cost of each callback, e.g. to compare an `async` handler
    /// with a hand-written plugin (`scripts/bench` prints it).
    ///
    /// ```no_run
    /// # use gateway_plugin_test::{Host, Request};
    /// # let vm = Host::load("plugin.wasm")?.configure(serde_json::json!({}))?;
    /// vm.reset_profile();
    /// for _ in 0..100 {
    ///     vm.request(Request::get("/"))?;
    /// }
    /// for cost in vm.profile() {
    ///     println!("{}: {} instructions, {} host calls per request",
    ///         cost.export, cost.instructions / 100, cost.host_calls / 100);
    /// }
    /// # Ok::<(), gateway_plugin_test::Error>(())
    /// ```
    pub fn profile(&self) -> Vec<ExportCost> {
        let machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        let mut profile = machine.store.data().profile.clone();
        profile.sort_by_key(|cost| std::cmp::Reverse(cost.instructions));
        profile
    }

    /// Starts the [`profile`](Self::profile) afresh.
    pub fn reset_profile(&self) {
        let mut machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        machine.store.data_mut().profile.clear();
    }

    /// The size of the plugin's Wasm linear memory, in bytes. It only grows
    /// (Wasm memory never shrinks), so equal sizes before and after a run of
    /// requests show that the run kept nothing.
    pub fn memory_bytes(&self) -> usize {
        let mut machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        let machine = &mut *machine;
        match machine.exports.memory {
            Some(memory) => memory.data_size(&machine.store),
            None => 0,
        }
    }

    /// A metric's value by name (counters, gauges, histograms' last record).
    pub fn metric(&self, name: &str) -> Option<i64> {
        let machine = self.machine.lock().unwrap_or_else(|p| p.into_inner());
        let metrics = &machine.store.data().metrics;
        metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }
}
