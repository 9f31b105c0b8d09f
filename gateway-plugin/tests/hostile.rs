//! The hostile-input suite, fuzz-style: thousands of random requests,
//! upstream responses and callout answers (binary and empty header values,
//! hundreds of headers, huge names, bodies of every shape in 1-byte to
//! whole pieces, trailers, every status, truncated and garbage JSON),
//! interleaved, through the examples that read them. Each run asserts what a
//! user relies on:
//!
//! - no trap (a panic would kill the VM) and no stuck stream;
//! - the documented answer for each input (body-rewrite's 400 for a body
//!   that is not a JSON object, its field added to one that is; http-call's
//!   500 for a failed token call and the token copied byte for byte);
//! - a request Envoy would refuse (CR, LF or NUL in a value) is refused
//!   naming the header, before the plugin;
//! - no growth: after a warm-up run of the batch, running it again twice
//!   leaves the plugin's Wasm memory exactly where it was, and no task or
//!   callout is live.
//!
//! The seed is printed; `GATEWAY_PLUGIN_FUZZ_SEED=<seed>` replays a run, and
//! `GATEWAY_PLUGIN_FUZZ_CASES` sets how many requests each test sends.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{ClientResponse, Error, Host, Request, Response, Vm};
use serde_json::{json, Value};

fn seed() -> u64 {
    let seed = std::env::var("GATEWAY_PLUGIN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("fuzz seed {seed} (GATEWAY_PLUGIN_FUZZ_SEED={seed} replays this run)");
    seed
}

fn cases() -> usize {
    std::env::var("GATEWAY_PLUGIN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600)
}

/// Random inputs of the shapes a hostile client, upstream or token service
/// sends.
struct Gen(fastrand::Rng);

impl Gen {
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = match self.0.u8(..10) {
            0 => 0,
            1..=6 => self.0.usize(..64),
            7 | 8 => self.0.usize(..4096),
            _ => self.0.usize(..=max),
        };
        match self.0.u8(..3) {
            0 => (0..len).map(|_| self.0.u8(..)).collect(),
            1 => (0..len).map(|_| self.0.alphanumeric() as u8).collect(),
            _ => (0..len)
                .map(|_| b" {}[]\":,0a-\\"[self.0.usize(..12)])
                .collect(),
        }
    }

    /// A header value a real client can send: any bytes but CR, LF, NUL.
    fn header_value(&mut self) -> Vec<u8> {
        let mut value = self.bytes(2048);
        value.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
        value
    }

    /// A token (what Envoy lets through as a name), sometimes a long one.
    fn header_name(&mut self) -> String {
        let len = match self.0.u8(..20) {
            0 => self.0.usize(200..3000),
            _ => self.0.usize(1..24),
        };
        (0..len)
            .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789-_"[self.0.usize(..38)] as char)
            .collect()
    }

    fn json_object(&mut self) -> Value {
        let mut map = serde_json::Map::new();
        for _ in 0..self.0.usize(..6) {
            let key: String = (0..self.0.usize(..8))
                .map(|_| self.0.alphanumeric())
                .collect();
            let value = match self.0.u8(..4) {
                0 => json!(self.0.i64(..)),
                1 => json!(String::from_utf8_lossy(&self.header_value())),
                2 => json!([1, "two", null]),
                _ => json!({"nested": {"deep": [true]}}),
            };
            map.insert(key, value);
        }
        Value::Object(map)
    }

    /// A body: random bytes, a JSON object, or JSON that is not an object.
    fn body(&mut self) -> (Vec<u8>, Option<Value>) {
        match self.0.u8(..4) {
            0 => (Vec::new(), None),
            1 => {
                let object = self.json_object();
                (serde_json::to_vec(&object).unwrap(), Some(object))
            }
            2 => (b"[1,2,3]".to_vec(), None),
            _ => (self.bytes(256 * 1024), None),
        }
    }

    /// A request, with what its body is: `None` for none (no body phase),
    /// else `Some(the JSON object)` or `Some(None)` for anything else.
    fn request(&mut self) -> (Request, Option<Option<Value>>) {
        let method = ["GET", "POST", "PUT", "DELETE", "PATCH"][self.0.usize(..5)];
        let path: String = (0..self.0.usize(..64))
            .map(|_| (self.0.u8(0x21..0x7f)) as char)
            .collect();
        let mut request = Request::new(method, &format!("/{path}"));
        let count = match self.0.u8(..10) {
            0 => self.0.usize(100..400),
            _ => self.0.usize(..12),
        };
        for _ in 0..count {
            request = request.header_bytes(&self.header_name(), &self.header_value());
        }
        let (body, object) = self.body();
        let trailers = self.0.u8(..6) == 0;
        // Trailers end the body: the body phase runs even for zero bytes
        // (which are not a JSON object).
        let kind = (!body.is_empty() || trailers).then_some(object);
        if !body.is_empty() {
            let chunk = match self.0.u8(..4) {
                0 => 1,
                1 => self.0.usize(1..64),
                _ => body.len(),
            };
            request = request.body(body).chunked(chunk);
        }
        if trailers {
            request = request.trailer("x-trailer", "t");
        }
        (request, kind)
    }

    fn response(&mut self) -> Response {
        let status =
            [200, 200, 200, 204, 301, 400, 404, 429, 500, 503, 101, 599][self.0.usize(..12)];
        let mut response = Response::new(status);
        for _ in 0..self.0.usize(..8) {
            response = response.header_bytes(&self.header_name(), &self.header_value());
        }
        let (body, _) = self.body();
        if !body.is_empty() {
            let pieces = self.0.usize(1..8);
            let size = body.len().div_ceil(pieces).max(1);
            let chunks: Vec<Vec<u8>> = body.chunks(size).map(<[u8]>::to_vec).collect();
            response = response.chunks(chunks);
        }
        if self.0.u8(..6) == 0 {
            response = response.trailer("x-trailer", "t");
        }
        response
    }
}

/// Runs the batch three times on `vm` (interleaved from `seed`): checks
/// every answer with `check`, and that the third run left the Wasm memory
/// where the second one did, with nothing live.
fn run_thrice(
    vm: &Vm,
    make_batch: impl Fn() -> Vec<Request>,
    seed: u64,
    check: impl Fn(usize, &ClientResponse),
) {
    let mut sizes = Vec::new();
    // Round 0 warms up: the allocator's high-water mark depends on how the
    // interleaved bodies fragment the heap. Rounds 1 and 2 run the same
    // batch on that heap: a leak (a stream, a task, a callout kept) grows it.
    for round in 0..3 {
        let responses = match vm.requests_with_seed(make_batch(), seed) {
            Ok(responses) => responses,
            Err(err) => panic!("round {round}: {err}"),
        };
        for (i, resp) in responses.iter().enumerate() {
            check(i, resp);
        }
        sizes.push(vm.memory_bytes());
    }
    assert_eq!(
        sizes[1], sizes[2],
        "the plugin's memory grew over an identical batch (after {sizes:?})"
    );
    let logs = vm.logs();
    assert!(
        !logs.iter().any(|l| l.contains("panicked")),
        "{:?}",
        logs.iter()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn body_rewrite_answers_every_hostile_request_as_documented() {
    let seed = seed();
    let upstream_seed = seed ^ 0x5eed;
    let vm = Host::load(plugin_wasm("body-rewrite"))
        .unwrap()
        .upstream(move |req| {
            // A different random answer per request, the same in both runs.
            let mut g = Gen(fastrand::Rng::with_seed(
                upstream_seed ^ req.body().len() as u64 ^ req.path().len() as u64,
            ));
            g.response()
        })
        .configure(json!({"field": "added", "value": {"by": "fuzz"}, "marker": "a"}))
        .unwrap_or_else(|e| panic!("{e}"));
    let make = || {
        let mut g = Gen(fastrand::Rng::with_seed(seed));
        (0..cases()).map(|_| g.request().0).collect::<Vec<_>>()
    };
    let expected: Vec<Option<Option<Value>>> = {
        let mut g = Gen(fastrand::Rng::with_seed(seed));
        (0..cases()).map(|_| g.request().1).collect()
    };
    run_thrice(&vm, make, seed, |i, resp| match &expected[i] {
        Some(None) => {
            assert_eq!(resp.status(), 400, "request {i}: {}", resp.text());
            assert!(resp.upstream_request().is_none(), "request {i}");
        }
        Some(Some(object)) => {
            let upstream = resp
                .upstream_request()
                .expect("a JSON object goes upstream");
            let sent: Value = serde_json::from_slice(upstream.body())
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            let mut wanted = object.clone();
            wanted["added"] = json!({"by": "fuzz"});
            assert_eq!(sent, wanted, "request {i}");
        }
        None => assert!(resp.upstream_request().is_some(), "request {i}"),
    });
}

#[test]
fn http_call_survives_every_hostile_token_answer() {
    let seed = seed();
    let token_seed = seed ^ 0x70c3;
    // The token service's answer to request `n` (the example passes the
    // client's `authorization` on to it: that carries `n`), and the token in
    // it, if any.
    let answer = move |n: u64| {
        let mut g = Gen(fastrand::Rng::with_seed(token_seed ^ n));
        let answer = g.response();
        let token = g.0.bool().then(|| g.header_value());
        (answer, token)
    };
    let vm = Host::load(plugin_wasm("http-call"))
        .unwrap()
        .log_level("debug")
        .cluster_fn("outbound|8080||token.static", move |req| {
            let n = req.header("authorization").and_then(|n| n.parse().ok());
            let (answer, token) = answer(n.unwrap_or(u64::MAX));
            match token {
                Some(token) => answer.header_bytes("x-token", &token),
                None => answer,
            }
        })
        .configure(json!({
            "serviceSource": "ip", "serviceName": "token", "servicePort": 8080,
            "requestPath": "/t", "tokenHeader": "x-token",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
    let make = || {
        let mut g = Gen(fastrand::Rng::with_seed(seed));
        (0..cases())
            .map(|i| {
                let (request, _) = g.request();
                request.header("authorization", &i.to_string())
            })
            .collect::<Vec<_>>()
    };
    run_thrice(&vm, make, seed, |i, resp| {
        let (answer, token) = answer(i as u64);
        if answer.status() != 200 {
            assert_eq!(resp.status(), 500, "request {i}: {}", resp.text());
            assert_eq!(resp.text(), "http call failed", "request {i}");
            assert!(resp.upstream_request().is_none(), "request {i}");
            return;
        }
        assert_eq!(
            resp.status(),
            200,
            "request {i}: {} {:?}",
            resp.text(),
            vm.logs()
                .iter()
                .filter(|l| l.contains("http call failed"))
                .take(3)
                .collect::<Vec<_>>()
        );
        let upstream = resp.upstream_request().expect("through after a 200");
        // The token, byte for byte (empty values are headers too).
        assert_eq!(
            upstream.header_bytes("x-token"),
            token.as_deref(),
            "request {i}"
        );
    });
    // Logged at debug level when a stream ends: the last one to end leaves
    // no task and no callout behind.
    let logs = vm.logs();
    let line = logs.iter().rev().find(|l| l.contains("ended; live tasks:"));
    let line = line.expect("the executor's end-of-stream debug line");
    assert!(line.ends_with("live tasks: 0, live callouts: 0"), "{line}");
}

#[test]
fn requests_envoy_would_refuse_are_refused_naming_the_header() {
    let seed = seed();
    let mut g = Gen(fastrand::Rng::with_seed(seed));
    let vm = Host::load(plugin_wasm("my-plugin"))
        .unwrap()
        .configure(json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..200 {
        let mut value = g.header_value();
        let at = g.0.usize(..=value.len());
        value.insert(at, [b'\r', b'\n', 0][g.0.usize(..3)]);
        let name = g.header_name();
        match vm.request(Request::get("/").header_bytes(&name, &value)) {
            Err(Error::BadRequest { header, .. }) => assert_eq!(header, name),
            other => panic!("{name}: {:?}", other.map(|r| r.status())),
        }
    }
}

/// Configurations as raw bytes, as a gateway may pass them: each is refused
/// at configure time with the plugin's own line, never a trap.
#[test]
fn hostile_configurations_are_refused_with_a_reason() {
    let host = Host::load(plugin_wasm("my-plugin")).unwrap();
    let deep = "[".repeat(100_000);
    let huge = format!("{{\"mockEnable\": \"{}\"}}", "x".repeat(10 << 20));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not UTF-8", b"\xFF\xFE{\"mockEnable\": true}".to_vec()),
        // JSON text has no BOM (RFC 8259 lets a parser refuse one).
        ("a BOM", b"\xEF\xBB\xBF{\"mockEnable\": true}".to_vec()),
        ("100,000-deep nesting", deep.into_bytes()),
        ("a 10 MB string for a bool", huge.into_bytes()),
        ("truncated", b"{\"mockEnable\": tr".to_vec()),
        ("a sequence for a struct", b"[true]".to_vec()),
        ("trailing garbage", b"{} {}".to_vec()),
    ];
    for (what, bytes) in cases {
        match host.clone().configure_bytes(bytes) {
            Err(Error::Refused { logs }) => assert!(
                logs.iter()
                    .any(|l| l.starts_with("error [my-plugin] invalid configuration")),
                "{what}: {logs:?}"
            ),
            Err(other) => panic!("{what}: {other}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    // What a gateway sends for no configuration, and whitespace, are the
    // plugin's defaults.
    for blank in [&b""[..], b"  \n", b"null"] {
        let vm = host.clone().configure_bytes(blank.to_vec());
        let vm = vm.unwrap_or_else(|e| panic!("{blank:?}: {e}"));
        assert_eq!(vm.request(Request::get("/")).unwrap().status(), 200);
    }
}

/// A Redis that answers every command with whatever reply the test sets.
struct FakeRedis {
    port: u16,
    reply: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl FakeRedis {
    fn start() -> FakeRedis {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reply = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = reply.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let reply = shared.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    // One reply per read: the host sends one command and
                    // waits for its answer.
                    while let Ok(n @ 1..) = conn.read(&mut buf) {
                        let _ = n;
                        let bytes = reply.lock().unwrap().clone();
                        if conn.write_all(&bytes).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeRedis { port, reply }
    }

    fn answer(&self, bytes: &[u8]) {
        *self.reply.lock().unwrap() = bytes.to_vec();
    }
}

/// Every RESP type, truncated, huge, deep and wrong-typed replies to
/// redis-ratelimit's `INCR`: only a count it can trust lets the request
/// through; anything else is its documented 430, never a trap, and the
/// plugin's memory does not grow.
#[test]
fn redis_ratelimit_survives_every_hostile_reply() {
    let redis = FakeRedis::start();
    let vm = Host::load(plugin_wasm("redis-ratelimit"))
        .unwrap()
        .redis_cluster(
            "outbound|6379||redis.static",
            &format!("127.0.0.1:{}", redis.port),
        )
        .configure(json!({"serviceName": "redis.static", "servicePort": 6379, "qpm": 1000}))
        .unwrap_or_else(|e| panic!("{e}"));
    let deep = "*1\r\n".repeat(100_000) + ":1\r\n";
    let huge = format!("${}\r\n{}\r\n", 17 << 20, "x".repeat(17 << 20));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("a count", b":5\r\n".to_vec(), 200),
        ("the first hit", b":1\r\n".to_vec(), 200),
        ("over the limit", b":1001\r\n".to_vec(), 429),
        ("i64::MAX", b":9223372036854775807\r\n".to_vec(), 429),
        ("a negative count", b":-5\r\n".to_vec(), 430),
        ("i64::MIN", b":-9223372036854775808\r\n".to_vec(), 430),
        ("a simple string", b"+OK\r\n".to_vec(), 430),
        ("an error", b"-ERR boom\r\n".to_vec(), 430),
        ("a bulk string", b"$5\r\nhello\r\n".to_vec(), 430),
        ("nil", b"$-1\r\n".to_vec(), 430),
        ("an array", b"*2\r\n:1\r\n:2\r\n".to_vec(), 430),
        (
            "an integer out of range",
            b":99999999999999999999999\r\n".to_vec(),
            430,
        ),
        (
            "a huge claimed length",
            b"$9223372036854775807\r\n".to_vec(),
            430,
        ),
        ("100,000-deep arrays", deep.into_bytes(), 430),
        (
            "a 17 MiB bulk (over max_reply_size)",
            huge.into_bytes(),
            430,
        ),
        ("garbage", b"\xFF\xFE\x00garbage\r\n".to_vec(), 430),
        ("truncated", b":12".to_vec(), 430),
    ];
    let run = |round: usize| {
        for (what, reply, status) in &cases {
            redis.answer(reply);
            let resp = vm
                .request(Request::get("/"))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                resp.status(),
                *status,
                "round {round}, {what}: {}",
                resp.text()
            );
        }
    };
    run(0);
    let after_warm_up = vm.memory_bytes();
    run(1);
    run(2);
    assert_eq!(vm.memory_bytes(), after_warm_up, "the plugin's memory grew");
}
