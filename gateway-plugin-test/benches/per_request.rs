//! Per-request cost of the example plugins on the in-process host, against a
//! baseline measured in the same run: `tests/fixtures/handwritten`, which is
//! `examples/my-plugin` written by hand on the proxy-wasm SDK (and, for the
//! callout, `tests/fixtures/handwritten-http-call`). Prints Wasm
//! instructions (wasmtime fuel, exact) and wall time per request (median),
//! and the time to load (compile) and configure a plugin.
//!
//! Run: `cargo bench -p gateway-plugin-test` (or `bash scripts/bench`).

use gateway_plugin_e2e::{plugin_wasm, RedisServer};
use gateway_plugin_test::{Host, Request, Response};
use serde_json::json;
use std::time::{Duration, Instant};

const ROUNDS: usize = 2000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Figures {
    name: &'static str,
    bytes: u64,
    load: Duration,
    configure: Duration,
    fuel: u64,
    wall: Duration,
}

fn measure(
    name: &'static str,
    example: &str,
    host: impl Fn(Host) -> Host,
    config: serde_json::Value,
    request: impl Fn() -> Request,
) -> Figures {
    let wasm = plugin_wasm(example);
    let bytes = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    let mut loads = Vec::new();
    let mut configures = Vec::new();
    let mut vm = None;
    for _ in 0..5 {
        let started = Instant::now();
        let loaded = Host::load(&wasm).expect("load");
        loads.push(started.elapsed());
        let started = Instant::now();
        vm = Some(host(loaded).configure(config.clone()).expect("configure"));
        configures.push(started.elapsed());
    }
    let vm = vm.expect("configured");
    // Warm up (first-use allocations), then measure.
    for _ in 0..10 {
        vm.request(request()).expect("request");
    }
    let mut walls = Vec::with_capacity(ROUNDS);
    let mut fuels = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let resp = vm.request(request()).expect("request");
        walls.push(started.elapsed());
        fuels.push(resp.fuel());
    }
    fuels.sort();
    let fuel = fuels[fuels.len() / 2];
    Figures {
        name,
        bytes,
        load: loads[0],
        configure: median(configures),
        fuel,
        wall: median(walls),
    }
}

fn main() {
    let redis = RedisServer::start();
    let redis_address = redis.address();
    let same = |h: Host| h;
    let get = || Request::get("/bench").header("user-agent", "bench");
    let rows = [
        measure(
            "handwritten (baseline)",
            "handwritten",
            same,
            json!({"mockEnable": false}),
            get,
        ),
        measure(
            "my-plugin",
            "my-plugin",
            same,
            json!({"mockEnable": false}),
            get,
        ),
        measure(
            "my-plugin, mock",
            "my-plugin",
            same,
            json!({"mockEnable": true}),
            get,
        ),
        measure(
            "handwritten, mock",
            "handwritten",
            same,
            json!({"mockEnable": true}),
            get,
        ),
        measure(
            "hello-world",
            "hello-world",
            same,
            serde_json::Value::Null,
            get,
        ),
        measure(
            "http-call (1 callout)",
            "http-call",
            |h| {
                h.cluster_fn("outbound|8080||token.static", |_| {
                    Response::new(200).header("x-token", "t")
                })
            },
            json!({"serviceSource": "ip", "serviceName": "token", "servicePort": 8080, "requestPath": "/t", "tokenHeader": "x-token"}),
            get,
        ),
        measure(
            "handwritten http-call",
            "handwritten-http-call",
            |h| {
                h.cluster_fn("outbound|8080||token.static", |_| {
                    Response::new(200).header("x-token", "t")
                })
            },
            serde_json::Value::Null,
            get,
        ),
        measure(
            "redis-ratelimit (INCR)",
            "redis-ratelimit",
            |h| h.redis_cluster("outbound|6379||redis.static", &redis_address),
            json!({"serviceName": "redis.static", "servicePort": 6379, "qpm": 1_000_000_000}),
            get,
        ),
    ];
    let base = &rows[0];
    println!("per request on the gateway-plugin-test host ({ROUNDS} requests each; fuel = Wasm instructions, median)\n");
    println!(
        "{:<24} {:>9} {:>10} {:>8} {:>10} {:>9} {:>11} {:>10}",
        "plugin", ".wasm B", "compile ms", "conf ms", "fuel/req", "x base", "wall µs/req", "x base"
    );
    for row in &rows {
        println!(
            "{:<24} {:>9} {:>10.1} {:>8.3} {:>10} {:>9.2} {:>11.1} {:>10.2}",
            row.name,
            row.bytes,
            row.load.as_secs_f64() * 1e3,
            row.configure.as_secs_f64() * 1e3,
            row.fuel,
            row.fuel as f64 / base.fuel as f64,
            row.wall.as_secs_f64() * 1e6,
            row.wall.as_secs_f64() / base.wall.as_secs_f64(),
        );
    }
}
