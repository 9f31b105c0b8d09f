//! Per-request cost of the example plugins on the in-process host, against a
//! baseline measured in the same run: `fixtures/handwritten`, which is
//! `examples/my-plugin` written by hand on the proxy-wasm SDK (and, for the
//! callout, `fixtures/handwritten-http-call`). Prints Wasm
//! instructions (wasmtime fuel, exact) and wall time per request (median),
//! and the time to load (compile) and configure a plugin.
//!
//! Run: `cargo bench -p gateway-plugin-test` (or `bash scripts/bench`, which
//! also writes the tables into `BENCHMARKS.md`).

use gateway_plugin_e2e::{plugin_wasm, RedisServer};
use gateway_plugin_test::{ExportCost, Host, Request, Response};
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
    /// Status and body of the last answer, to check that twins agree.
    answer: (u16, String),
    /// The plugin's Wasm memory after the measured requests, and after
    /// `LONG_RUN` more.
    memory: (usize, usize),
    /// Where the measured requests' instructions went, per export.
    profile: Vec<ExportCost>,
}

/// Requests of the memory run: enough that a leak of a few bytes per
/// request would grow the memory by pages.
const LONG_RUN: usize = 100_000;

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
    vm.reset_profile();
    let mut walls = Vec::with_capacity(ROUNDS);
    let mut fuels = Vec::with_capacity(ROUNDS);
    let mut answer = (0, String::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let resp = vm.request(request()).expect("request");
        walls.push(started.elapsed());
        fuels.push(resp.fuel());
        answer = (resp.status(), resp.text());
    }
    let profile = vm.profile();
    fuels.sort();
    let fuel = fuels[fuels.len() / 2];
    let memory_before = vm.memory_bytes();
    for _ in 0..LONG_RUN {
        vm.request(request()).expect("request");
    }
    let memory = (memory_before, vm.memory_bytes());
    Figures {
        name,
        bytes,
        load: loads[0],
        configure: median(configures),
        fuel,
        wall: median(walls),
        answer,
        memory,
        profile,
    }
}

fn main() {
    let redis = RedisServer::start();
    let rows = measure_all(&redis.address());
    let mut out = per_request_table(&rows);
    out.push_str(&twins_table(&rows));
    out.push_str(&mcp_table(&rows));
    out.push_str(&profile_tables(&rows));
    println!("{out}");
    // `cargo bench ... -- --markdown PATH` also writes it (scripts/bench).
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--markdown") {
        let path = args.get(i + 1).expect("--markdown PATH");
        std::fs::write(path, &out).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}

/// Every plugin and its twin, measured in the order of the first table
/// (the baseline first).
fn measure_all(redis_address: &str) -> Vec<Figures> {
    let mut rows = measure_without_backends();
    rows.extend(measure_with_backends(redis_address));
    rows.extend(measure_mcp());
    rows
}

/// `examples/mcp-tools` in a session: a `tools/call` of its REST tool (one
/// callout) and a `ping` (the protocol alone).
fn measure_mcp() -> Vec<Figures> {
    const WEATHER: &str = "outbound|80||weather.static";
    let config = json!({"weatherService": "weather.static", "weatherPort": 80, "apiKey": "k"});
    // An MCP server holds the request's headers (as Higress lets it).
    let weather = |h: Host| {
        h.allow_on_headers_stop_iteration()
            .cluster_fn(WEATHER, |_| {
                Response::new(200)
                    .header("content-type", "application/json")
                    .body(r#"{"celsius":21}"#)
            })
    };
    // Any VM of the server checks a session another one issued.
    let vm = weather(Host::load(plugin_wasm("mcp-tools")).expect("load"))
        .configure(config.clone())
        .expect("configure");
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "0"}}});
    let resp = vm.request(mcp_post(None, &initialize)).expect("initialize");
    let session = resp
        .header("mcp-session-id")
        .expect("a session")
        .to_string();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get_weather", "arguments": {"city": "suzhou"}}});
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let call_session = session.clone();

    // examples/mcp-server: a REST tool from Higress's configuration (a URL,
    // a header and a response template, argsToUrlParam), through the route.
    const ROUTE: &str = "outbound|80||upstream";
    let rest_config = json!({"server": {"name": "bench", "config": {"apiKey": "k"}}, "tools": [{
        "name": "get_weather", "description": "d",
        "args": [{"name": "city", "type": "string", "required": true}],
        "requestTemplate": {"url": "http://api.example/weather", "method": "GET", "argsToUrlParam": true,
            "headers": [{"key": "x-api-key", "value": "{{.config.apiKey}}"}]},
        "responseTemplate": {"body": "{{.city}}: {{.celsius}} celsius"}}]});
    let route = |h: Host| {
        h.allow_on_headers_stop_iteration().cluster_fn(ROUTE, |_| {
            Response::new(200)
                .header("content-type", "application/json")
                .body(r#"{"city":"suzhou","celsius":21}"#)
        })
    };
    let rest_vm = route(Host::load(plugin_wasm("mcp-server")).expect("load"))
        .configure(rest_config.clone())
        .expect("configure");
    let resp = rest_vm
        .request(mcp_post(None, &initialize))
        .expect("initialize");
    let rest_session = resp
        .header("mcp-session-id")
        .expect("a session")
        .to_string();
    let rest_call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "get_weather", "arguments": {"city": "suzhou"}}});

    vec![
        measure(
            "mcp-server tools/call (REST tool, 1 callout)",
            "mcp-server",
            route,
            rest_config,
            move || mcp_post(Some(&rest_session), &rest_call),
        ),
        measure(
            "mcp-tools tools/call (1 callout)",
            "mcp-tools",
            weather,
            config.clone(),
            move || mcp_post(Some(&call_session), &call),
        ),
        measure("mcp-tools ping", "mcp-tools", weather, config, move || {
            mcp_post(Some(&session), &ping)
        }),
    ]
}

fn mcp_post(session: Option<&str>, message: &serde_json::Value) -> Request {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(message.to_string());
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req
}

/// An MCP tool call beside the http-call example's callout: what the
/// protocol adds to one callout.
fn mcp_table(rows: &[Figures]) -> String {
    let (call, ping, rest) = (
        row(rows, "mcp-tools tools/call (1 callout)"),
        row(rows, "mcp-tools ping"),
        row(rows, "mcp-server tools/call (REST tool, 1 callout)"),
    );
    assert!(
        rest.answer.1.contains("suzhou: 21 celsius"),
        "the REST tool answered: {:?}",
        rest.answer
    );
    let http_call = row(rows, "http-call (1 callout)");
    assert!(
        call.answer.1.contains("celsius"),
        "the tool answered: {:?}",
        call.answer
    );
    format!(
        "\n### MCP: a REST tool's `tools/call` beside http-call's callout\n\n\
         | case | fuel/req | × http-call | .wasm bytes |\n|---|---:|---:|---:|\n\
         | mcp-tools tools/call (1 callout) | {} | {:.2} | {} |\n\
         | mcp-tools ping (no callout) | {} | {:.2} | {} |\n\
         | mcp-server tools/call (REST tool from configuration: 1 callout, 3 templates) | {} | {:.2} | {} |\n\
         | http-call (1 callout) | {} | 1.00 | {} |\n",
        call.fuel,
        call.fuel as f64 / http_call.fuel as f64,
        call.bytes,
        ping.fuel,
        ping.fuel as f64 / http_call.fuel as f64,
        ping.bytes,
        rest.fuel,
        rest.fuel as f64 / http_call.fuel as f64,
        rest.bytes,
        http_call.fuel,
        http_call.bytes,
    )
}

/// The plugins that answer by themselves: the baseline, my-plugin (with and
/// without its mock) and hello-world.
fn measure_without_backends() -> Vec<Figures> {
    let same = |h: Host| h;
    let get = || Request::get("/bench").header("user-agent", "bench");
    vec![
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
    ]
}

/// The plugins that call out (HTTP, Redis) or rewrite what the upstream
/// answers, each with its twin.
fn measure_with_backends(redis_address: &str) -> Vec<Figures> {
    let get = || Request::get("/bench").header("user-agent", "bench");
    let post = || {
        Request::post("/bench")
            .header("content-type", "application/json")
            .body(r#"{"user":"bench","items":[1,2,3]}"#)
    };
    let json_upstream = |h: Host| {
        h.upstream(|_| {
            Response::new(200)
                .header("content-type", "application/json")
                .body(r#"{"ok":true,"items":[1,2,3]}"#)
        })
    };
    let rewrite = json!({"field": "added", "value": 1, "marker": "items"});
    let ratelimit =
        json!({"serviceName": "redis.static", "servicePort": 6379, "qpm": 1_000_000_000});
    vec![
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
            "body-rewrite",
            "body-rewrite",
            json_upstream,
            rewrite.clone(),
            post,
        ),
        measure(
            "handwritten body-rewrite",
            "handwritten-body-rewrite",
            json_upstream,
            rewrite,
            post,
        ),
        measure(
            "redis-ratelimit (INCR)",
            "redis-ratelimit",
            |h| h.redis_cluster("outbound|6379||redis.static", redis_address),
            ratelimit.clone(),
            get,
        ),
        measure(
            "handwritten redis-ratelimit",
            "handwritten-redis-ratelimit",
            |h| h.redis_cluster("outbound|6379||redis.static", redis_address),
            ratelimit,
            get,
        ),
    ]
}

/// The first table: every plugin's cost per request, against the
/// baseline.
fn per_request_table(rows: &[Figures]) -> String {
    let base = &rows[0];
    let mut out = format!(
        "## On the test host: Wasm instructions per request\n\n\
         `gateway-plugin-test` (wasmtime), {ROUNDS} requests each after a warm-up; fuel is \
         wasmtime's count of Wasm instructions (exact), median; wall time is the median \
         per request on this machine, host overhead included.\n\n\
         The last two columns: the plugin's Wasm memory after those requests, \
         and after {LONG_RUN} more (equal: nothing kept per request).\n\n\
         | plugin | .wasm bytes | fuel/req | × my-plugin twin | wall µs/req | compile ms | configure ms | memory | after {LONG_RUN} more |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.3} | {} KiB | {} KiB |\n",
            row.name,
            row.bytes,
            row.fuel,
            row.fuel as f64 / base.fuel as f64,
            row.wall.as_secs_f64() * 1e6,
            row.load.as_secs_f64() * 1e3,
            row.configure.as_secs_f64() * 1e3,
            row.memory.0 / 1024,
            row.memory.1 / 1024,
        ));
    }
    out
}

/// Each framework plugin against its hand-written twin (which must answer
/// the same).
fn twins_table(rows: &[Figures]) -> String {
    let mut out = String::new();
    out.push_str(
        "\n### Framework against its hand-written twin\n\n\
         Each pair answered the same status and body (checked).\n\n\
         | case | fuel framework | fuel twin | framework / twin | .wasm framework / twin |\n\
         |---|---:|---:|---:|---:|\n",
    );
    let pairs = [
        ("my-plugin", "handwritten (baseline)"),
        ("my-plugin, mock", "handwritten, mock"),
        ("http-call (1 callout)", "handwritten http-call"),
        ("body-rewrite", "handwritten body-rewrite"),
        ("redis-ratelimit (INCR)", "handwritten redis-ratelimit"),
    ];
    for (framework, twin) in pairs {
        let (f, t) = (row(rows, framework), row(rows, twin));
        assert_eq!(
            f.answer, t.answer,
            "{framework} and {twin} answer differently: the twin is no twin"
        );
        out.push_str(&format!(
            "| {framework} | {} | {} | {:.2} | {} / {} |\n",
            f.fuel,
            t.fuel,
            f.fuel as f64 / t.fuel as f64,
            f.bytes,
            t.bytes,
        ));
    }
    out
}

/// Per export, where the framework's instructions go against the twin's,
/// for the plugins whose cost is more than their handler.
fn profile_tables(rows: &[Figures]) -> String {
    let mut out = String::new();
    out.push_str(
        "\n### Where the instructions go\n\n\
         Per plugin export, instructions and host calls per request (mean over the measured \
         requests; `Vm::profile`), framework against twin. Exports that cost the same in \
         both (`proxy_on_done`, `proxy_on_log`, ...) are left out.\n",
    );
    for (framework, twin) in [
        ("http-call (1 callout)", "handwritten http-call"),
        ("redis-ratelimit (INCR)", "handwritten redis-ratelimit"),
        ("body-rewrite", "handwritten body-rewrite"),
    ] {
        let (f, t) = (row(rows, framework), row(rows, twin));
        out.push_str(&format!(
            "\n**{framework}** against **{twin}**\n\n\
             | export | framework instructions | twin instructions | framework host calls | twin host calls |\n\
             |---|---:|---:|---:|---:|\n"
        ));
        let per = |costs: &[ExportCost], name: &str| {
            costs
                .iter()
                .find(|c| c.export == name)
                .map(|c| {
                    (
                        c.instructions / ROUNDS as u64,
                        c.host_calls as f64 / ROUNDS as f64,
                    )
                })
                .unwrap_or((0, 0.0))
        };
        for cost in &f.profile {
            let (fi, fh) = per(&f.profile, &cost.export);
            let (ti, th) = per(&t.profile, &cost.export);
            if fi.abs_diff(ti) < 50 {
                continue;
            }
            out.push_str(&format!(
                "| `{}` | {fi} | {ti} | {fh:.1} | {th:.1} |\n",
                cost.export
            ));
        }
    }
    out
}

/// The measured row called `name`.
fn row<'a>(rows: &'a [Figures], name: &str) -> &'a Figures {
    rows.iter()
        .find(|r| r.name == name)
        .expect("a measured row")
}
