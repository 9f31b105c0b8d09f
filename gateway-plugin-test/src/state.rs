//! What the host keeps for a running plugin (wasmtime's store data): the
//! streams' header maps and bodies, callouts waiting for delivery, logs,
//! shared data, queues and metrics. Host functions (`imports/`) read and
//! change it; the scheduler (`schedule.rs`) drives the streams from it.

use crate::http::{HeaderMap, Response, UpstreamRequest};
use std::collections::{HashMap, VecDeque};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// A callout handler: a closure that answers like a server would.
pub(crate) type Answer = Arc<dyn Fn(&UpstreamRequest) -> Response + Send + Sync>;

/// Where a cluster's callouts go.
#[derive(Clone)]
pub(crate) enum Target {
    /// A real server, `host:port`.
    Address(String),
    /// Answered in-process.
    Fn(Answer),
    /// Never answered: the call times out.
    Timeout,
}

/// Everything configured before the VM starts; shared, read-only.
#[derive(Clone)]
pub(crate) struct Setup {
    pub clusters: HashMap<String, Target>,
    pub redis: HashMap<String, String>,
    pub upstream: Answer,
    pub log_level: i32,
    pub properties: HashMap<String, Vec<u8>>,
    pub vm_config: Vec<u8>,
    /// Answer `route_name` and `cluster_name` as Higress does (else only
    /// `xds.route_name` and `xds.cluster_name`, as upstream Envoy).
    pub higress_properties: bool,
    /// A header pause lets the body through to the plugin
    /// (`allow_on_headers_stop_iteration`, Higress).
    pub allow_stop_iteration: bool,
}

/// One HTTP stream's data, as host calls see it.
#[derive(Default)]
pub(crate) struct StreamData {
    /// Header maps: values as bytes, copied byte for byte.
    pub request_headers: HeaderMap,
    pub response_headers: HeaderMap,
    pub request_trailers: HeaderMap,
    pub response_trailers: HeaderMap,
    /// The body data the plugin sees now (buffered, not yet passed on).
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub properties: HashMap<String, Vec<u8>>,
    /// The root context the stream belongs to.
    pub root: u32,
    pub request_headers_sent: bool,
    pub response_headers_sent: bool,
    pub continue_request: bool,
    pub continue_response: bool,
    pub local_response: Option<Response>,
    /// The last body callback of each direction (request, response)
    /// returned `Pause`: the host buffers that body (Envoy's
    /// `buffering_*_body_`).
    pub buffering: [bool; 2],
    /// In a trailers callback of a body the host does not buffer: there is
    /// no body to write to (Envoy answers `BadArgument`).
    pub no_body_buffer: [bool; 2],
    /// The details of the plugin's local response (`%RESPONSE_CODE_DETAILS%`).
    pub response_code_details: Option<String>,
    pub closed: bool,
}

/// What a dispatched callout asks for.
pub(crate) enum CalloutKind {
    Http {
        cluster: String,
        request: UpstreamRequest,
        timeout: Duration,
    },
    Redis {
        cluster: String,
        query: Vec<u8>,
    },
}

/// A callout dispatched and not answered yet.
pub(crate) struct Pending {
    /// Unique among all callouts (tokens of HTTP and Redis calls may be equal).
    pub serial: u64,
    pub token: u32,
    /// The context whose callback gets the answer.
    pub context: u32,
    /// The stream whose work this is (for fuel), if any.
    pub origin: Option<u32>,
    pub kind: CalloutKind,
}

/// The answer to an HTTP callout, readable during its callback.
pub(crate) struct CalloutAnswer {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub(crate) struct Metric {
    pub name: String,
    pub kind: i32,
    pub value: i64,
}

/// A Redis cluster the plugin initialised.
pub(crate) struct RedisConn {
    pub address: String,
    pub username: String,
    pub password: String,
    pub timeout: Duration,
    pub database: u32,
    pub stream: Option<TcpStream>,
}

pub(crate) struct State {
    pub setup: Arc<Setup>,
    pub plugin_config: Vec<u8>,
    pub vm_config: Vec<u8>,
    pub logs: Vec<String>,
    /// The first root context (ticks and queues are its).
    pub root_id: u32,
    /// Every live root context: one per plugin configuration in this VM.
    pub roots: Vec<u32>,
    /// The context host calls act on.
    pub effective: u32,
    /// The stream the current callback works for (fuel, callout origin).
    pub attributed: Option<u32>,
    pub streams: HashMap<u32, StreamData>,
    pub callout_answer: Option<CalloutAnswer>,
    pub redis_reply: Option<Vec<u8>>,
    pub next_token: u32,
    pub next_redis_token: u32,
    pub serials: u64,
    pub pending: Vec<Pending>,
    pub redis: HashMap<String, RedisConn>,
    /// The cluster string of every `proxy_redis_init`, options included.
    pub redis_inits: Vec<String>,
    pub tick_period_ms: u32,
    pub shared_data: HashMap<String, (Vec<u8>, u32)>,
    pub queues: Vec<(String, VecDeque<Vec<u8>>)>,
    pub queues_ready: Vec<u32>,
    pub metrics: Vec<Metric>,
    pub fuel: HashMap<u32, u64>,
    /// Cost per plugin export, for [`Vm::profile`](crate::Vm::profile).
    pub profile: Vec<ExportCost>,
    /// Host calls the plugin made so far (counted by a call hook).
    pub host_calls: u64,
    /// Text the plugin wrote to stdout/stderr, not yet a full line.
    pub stdio: Vec<u8>,
}

/// What the plugin spent in one of its exports (`proxy_on_request_headers`,
/// `proxy_on_http_call_response`, …) since the VM started or the last
/// [`Vm::reset_profile`](crate::Vm::reset_profile): see
/// [`Vm::profile`](crate::Vm::profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportCost {
    /// The export's name.
    pub export: String,
    /// How many times the host called it.
    pub calls: u64,
    /// Wasm instructions (wasmtime fuel) spent inside it, host calls excluded.
    pub instructions: u64,
    /// Host calls the plugin made from inside it.
    pub host_calls: u64,
}

impl State {
    pub fn new(setup: Arc<Setup>, plugin_config: Vec<u8>) -> State {
        State {
            vm_config: setup.vm_config.clone(),
            setup,
            plugin_config,
            logs: Vec::new(),
            root_id: 1,
            roots: vec![1],
            effective: 1,
            attributed: None,
            streams: HashMap::new(),
            callout_answer: None,
            redis_reply: None,
            next_token: 1,
            next_redis_token: 1,
            serials: 0,
            pending: Vec::new(),
            redis: HashMap::new(),
            redis_inits: Vec::new(),
            tick_period_ms: 0,
            shared_data: HashMap::new(),
            queues: Vec::new(),
            queues_ready: Vec::new(),
            metrics: Vec::new(),
            fuel: HashMap::new(),
            profile: Vec::new(),
            host_calls: 0,
            stdio: Vec::new(),
        }
    }

    /// A new callout serial.
    pub fn next_serial(&mut self) -> u64 {
        self.serials += 1;
        self.serials
    }

    /// The stream host calls act on now, if the effective context is one.
    pub fn stream(&mut self) -> Option<&mut StreamData> {
        let id = self.effective;
        self.streams.get_mut(&id)
    }

    pub fn log(&mut self, level: i32, message: &str) {
        let level = crate::abi::LEVELS
            .get(level as usize)
            .copied()
            .unwrap_or("info");
        self.logs.push(format!("{level} {message}"));
    }
}
