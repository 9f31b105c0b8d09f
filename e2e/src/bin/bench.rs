//! `bash scripts/bench`, the gateway part: throughput and latency of each
//! example with a hand-written twin, in real Envoy, against the same Envoy
//! without a plugin, measured in the same run.
//!
//! Three gateways run side by side, each Envoy with one worker: A has no
//! plugin, B the hand-written twin (`fixtures/handwritten*`), C the
//! framework's example. They route to a fourth Envoy that answers every
//! request itself (a small JSON body and an `x-token` header), which also
//! answers the callouts. Each round loads A, B and C in turn with `wrk`
//! (the order rotates between rounds, so drift in the machine's speed
//! spreads evenly); the ratios B/A, C/A and C/B are taken per round, and the
//! table gives their median and min–max over the rounds. Before timing,
//! B and C must answer a request identically, so the twin is a fair twin.
//!
//! Writes a Markdown section to the path given as the first argument (and
//! prints it). `BENCH_ROUNDS` (default 9) and `BENCH_SECONDS` (per load,
//! default 5: some 100,000 requests per gateway over a run) tune it.

use gateway_plugin_e2e::{free_port, request, Envoy, EnvoyConfig, ScratchDir};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";
const CONNECTIONS: u32 = 16;

/// One comparison: the framework's plugin and its hand-written twin, with
/// the same configuration semantics and the same request.
struct Case {
    name: &'static str,
    framework: (&'static str, Value),
    twin: (&'static str, Value),
    /// `None`: `GET /bench`; `Some(body)`: `POST /bench` with a JSON body.
    post: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let http_call = json!({
        "serviceSource": "ip", "serviceName": "token", "servicePort": 8080,
        "requestPath": "/t", "tokenHeader": "x-token",
    });
    let rewrite = json!({"field": "added", "value": 1, "marker": "items"});
    vec![
        Case {
            name: "my-plugin (add a header)",
            framework: ("my-plugin", json!({"mockEnable": false})),
            twin: ("handwritten", json!({"mockEnable": false})),
            post: None,
        },
        Case {
            name: "my-plugin, mock (local reply)",
            framework: ("my-plugin", json!({"mockEnable": true})),
            twin: ("handwritten", json!({"mockEnable": true})),
            post: None,
        },
        Case {
            name: "http-call (one awaited callout)",
            framework: ("http-call", http_call),
            twin: ("handwritten-http-call", Value::Null),
            post: None,
        },
        Case {
            name: "body-rewrite (both bodies)",
            framework: ("body-rewrite", rewrite.clone()),
            twin: ("handwritten-body-rewrite", rewrite),
            post: Some(r#"{"user":"bench","items":[1,2,3]}"#),
        },
    ]
}

/// What one `wrk` load gave.
#[derive(Clone, Copy)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `wrk` against `url` for `seconds`; `None` with the reason when the
/// run had errors or non-2xx answers (a broken setup is not a figure).
fn wrk(url: &str, seconds: u32, script: Option<&Path>) -> Result<Load, String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .arg("--latency");
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk (run scripts/setup): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("errors under load:\n{text}"));
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .map(str::trim)
    };
    let millis = |value: &str| -> Option<f64> {
        let (number, scale) = if let Some(n) = value.strip_suffix("us") {
            (n, 1e-3)
        } else if let Some(n) = value.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = value.strip_suffix('s') {
            (n, 1e3)
        } else {
            return None;
        };
        number.parse::<f64>().ok().map(|n| n * scale)
    };
    let parsed = (|| {
        Some(Load {
            rps: field("Requests/sec:")?.parse().ok()?,
            p50_ms: millis(field("50%")?)?,
            p99_ms: millis(field("99%")?)?,
        })
    })();
    parsed.ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `median (min–max)` of `values`.
fn spread(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    format!(
        "{mid:.2} ({:.2}–{:.2})",
        sorted[0],
        sorted[sorted.len() - 1]
    )
}

/// The backend: an Envoy that answers every request itself.
fn backend() -> Envoy {
    let answer = json!([{
        "name": "all",
        "domains": ["*"],
        "routes": [{
            "match": {"prefix": "/"},
            "direct_response": {"status": 200, "body": {"inline_string": r#"{"ok":true,"items":[1,2,3]}"#}},
            "response_headers_to_add": [
                {"header": {"key": "x-token", "value": "t"}},
                {"header": {"key": "content-type", "value": "application/json"}},
            ],
        }],
    }]);
    // Nothing is routed to `backend` here: the port only fills the field.
    Envoy::start(EnvoyConfig::plain(free_port()).virtual_hosts(answer))
        .unwrap_or_else(|f| panic!("backend Envoy: {}\n{}", f.reason, f.log))
}

fn gateway(config: EnvoyConfig, backend_port: u16) -> Envoy {
    let config = config.cluster(TOKEN_CLUSTER, backend_port);
    Envoy::start(config).unwrap_or_else(|f| panic!("gateway Envoy: {}\n{}", f.reason, f.log))
}

/// One request through `envoy`: status and body, to compare twins.
fn answer(envoy: &Envoy, post: Option<&str>) -> (u16, String) {
    let url = format!("http://127.0.0.1:{}/bench", envoy.port());
    let resp = match post {
        None => request("GET", &url, &[], b""),
        Some(body) => request(
            "POST",
            &url,
            &[("content-type", "application/json")],
            body.as_bytes(),
        ),
    }
    .unwrap_or_else(|e| panic!("request to {url}: {e}"));
    (resp.status, resp.text())
}

fn main() {
    let out_path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "envoy-bench.md".into());
    let env_number = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env_number("BENCH_ROUNDS", 9).max(1);
    let seconds = env_number("BENCH_SECONDS", 5).max(1);
    let scratch = ScratchDir::new("bench");
    let backend = backend();

    let mut md = format!(
        "## In Envoy: throughput and latency\n\n\
         Envoy {}, one worker per gateway; `wrk -t1 -c{CONNECTIONS}`, {seconds} s per load, \
         {rounds} rounds, A/B/C order rotating. A = no plugin, B = hand-written twin, \
         C = gateway-plugin. Ratios are per round, shown as median (min–max); \
         latencies are medians over the rounds. The upstream and the callouts are \
         answered by a separate Envoy (direct response).\n\n\
         | case | rps A | rps B | rps C | B/A | C/A | C/B | p50 ms A / B / C | p99 ms A / B / C |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        envoy_version()
    );
    let mut memory = String::from(
        "\n### Gateway memory over the run\n\n\
         Envoy's heap (admin `/memory`, every VM included) after warm-up and after \
         every round, with the requests it served.\n\n\
         | case | gateway | requests | heap after warm-up | heap at the end | change |\n\
         |---|---|---:|---:|---:|---:|\n",
    );

    for case in cases() {
        eprintln!("== {}", case.name);
        let port = backend.port();
        let a = gateway(EnvoyConfig::plain(port), port);
        let b = gateway(
            EnvoyConfig::new(case.twin.0, port).configuration(case.twin.1.clone()),
            port,
        );
        let c = gateway(
            EnvoyConfig::new(case.framework.0, port).configuration(case.framework.1.clone()),
            port,
        );
        let (twin_answer, framework_answer) = (answer(&b, case.post), answer(&c, case.post));
        assert_eq!(
            twin_answer, framework_answer,
            "{}: the twin and the framework's plugin answer differently",
            case.name
        );
        assert!(
            (200..300).contains(&framework_answer.0),
            "{}: {framework_answer:?}",
            case.name
        );
        let script = case.post.map(|body| {
            let path = scratch.path().join(format!("{}.lua", case.framework.0));
            let lua = format!(
                "wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"content-type\"] = \"application/json\"\n"
            );
            std::fs::write(&path, lua).expect("write the wrk script");
            path
        });
        let gateways = [&a, &b, &c];
        let url = |e: &Envoy| format!("http://127.0.0.1:{}/bench", e.port());
        for envoy in gateways {
            wrk(&url(envoy), 1, script.as_deref()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        }
        let heap_start: Vec<Option<u64>> = gateways.iter().map(|e| e.heap_allocated()).collect();
        let mut loads: Vec<Vec<Load>> = vec![Vec::new(); 3];
        for round in 0..rounds as usize {
            for k in 0..3 {
                let which = (round + k) % 3;
                let load = wrk(&url(gateways[which]), seconds, script.as_deref())
                    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
                loads[which].push(load);
            }
        }
        let rps = |i: usize| -> Vec<f64> { loads[i].iter().map(|l| l.rps).collect() };
        let ratio = |x: usize, y: usize| -> Vec<f64> {
            rps(x).iter().zip(rps(y)).map(|(x, y)| x / y).collect()
        };
        let med = |v: Vec<f64>| median(&mut v.clone());
        let lat = |f: fn(&Load) -> f64| -> String {
            (0..3)
                .map(|i| format!("{:.2}", med(loads[i].iter().map(f).collect())))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |\n",
            case.name,
            med(rps(0)),
            med(rps(1)),
            med(rps(2)),
            spread(&ratio(1, 0)),
            spread(&ratio(2, 0)),
            spread(&ratio(2, 1)),
            lat(|l| l.p50_ms),
            lat(|l| l.p99_ms),
        ));
        for (i, label) in ["A (no plugin)", "B (hand-written)", "C (gateway-plugin)"]
            .iter()
            .enumerate()
        {
            let served = gateways[i]
                .stat("http.ingress_http.downstream_rq_total")
                .unwrap_or(0);
            let (start, end) = (heap_start[i], gateways[i].heap_allocated());
            let mib = |b: Option<u64>| {
                b.map(|b| format!("{:.1} MiB", b as f64 / (1 << 20) as f64))
                    .unwrap_or_else(|| "?".into())
            };
            let change = match (start, end) {
                (Some(s), Some(e)) => {
                    format!("{:+.1} MiB", (e as f64 - s as f64) / (1 << 20) as f64)
                }
                _ => "?".into(),
            };
            memory.push_str(&format!(
                "| {} | {label} | {served} | {} | {} | {change} |\n",
                case.name,
                mib(start),
                mib(end),
            ));
        }
        eprint!("{md}");
    }
    md.push_str(&memory);
    println!("{md}");
    std::fs::write(&out_path, md).unwrap_or_else(|e| panic!("write {out_path}: {e}"));
}

fn envoy_version() -> String {
    let out = Command::new(gateway_plugin_e2e::envoy_binary())
        .arg("--version")
        .output();
    out.ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            // `<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL`
            let (_, version) = text.split_once("version: ")?;
            version.split('/').nth(1).map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}
