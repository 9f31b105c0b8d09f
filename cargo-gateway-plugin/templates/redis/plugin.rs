//! The compiled plugin on the in-process test host (wasmtime), against a real
//! `redis-server` started on a free loopback port (and stopped on drop).

use gateway_plugin_test::{Host, Request, Vm};
use serde_json::json;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

{{wasm_path}}

/// The Envoy cluster of the configuration's `redis.static:6379`.
const REDIS_CLUSTER: &str = "outbound|6379||redis.static";

/// A `redis-server` without persistence, killed on drop (even when a test fails).
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (install it: apt-get install redis-server)");
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        server
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ratelimit(redis_address: &str, qpm: u32) -> Vm {
    Host::load(plugin_wasm())
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, redis_address)
        .configure(json!({
            "serviceFqdn": "redis.static",
            "servicePort": 6379,
            "timeoutMs": 500,
            "qpm": qpm,
            "keyPrefix": "test:",
        }))
        .unwrap()
}

/// Waits out a minute's last seconds: the requests of a test share a minute.
fn not_at_a_minutes_end() {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if second >= 57 {
        std::thread::sleep(Duration::from_secs(61 - second));
    }
}

#[test]
fn lets_qpm_requests_through_then_answers_429() {
    let redis = RedisServer::start();
    let vm = ratelimit(&redis.address(), 2);
    not_at_a_minutes_end();
    for left in ["1", "0"] {
        let resp = vm.request(Request::get("/")).unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.header("x-ratelimit-remaining"), Some(left));
    }
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.upstream_request().is_none());
}

#[test]
fn fails_open_when_redis_is_down() {
    let redis = RedisServer::start();
    let address = redis.address();
    drop(redis); // nobody listens there any more
    let vm = ratelimit(&address, 1);
    for _ in 0..2 {
        let resp = vm.request(Request::get("/")).unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.upstream_request().is_some());
    }
    assert!(
        vm.logs().iter().any(|l| l.contains("redis error")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn the_sample_configuration_loads() {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../config.json")).unwrap();
    // The address is never dialled: configuring only names the cluster.
    Host::load(plugin_wasm())
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, "127.0.0.1:1")
        .configure(sample)
        .unwrap();
}
