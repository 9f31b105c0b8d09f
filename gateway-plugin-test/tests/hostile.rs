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
