//! Body handlers and trailers in a real Envoy, over HTTP/1.1 (trailers
//! enabled on the listener and the upstream) and HTTP/2 (where any client
//! may send them): with trailers no body callback has `end_of_stream`, and a
//! body check used to be skipped. `examples/body-rewrite` must answer 400 to
//! a body that is not JSON, rewrite a JSON one, and check the response body,
//! trailers or not; the trailers themselves pass both ways.

use gateway_plugin_e2e::{
    http1_with_trailers, http2_with_trailers, EchoBackend, Envoy, EnvoyConfig, RawResponse,
};
use serde_json::json;

type Send =
    fn(u16, &str, &[(&str, &str)], &[&[u8]], &[(&str, &str)]) -> Result<RawResponse, String>;

const PROTOCOLS: [(&str, Send); 2] = [
    ("HTTP/1.1", http1_with_trailers),
    ("HTTP/2", http2_with_trailers),
];

fn start(backend: &EchoBackend) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("body-rewrite", backend.port())
            .configuration(json!({"field": "added", "value": true, "marker": "added"}))
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

/// Sends `chunks` then a trailer, over both protocols: each answer must be
/// body-rewrite's 400, and nothing may reach the backend.
fn assert_refused_with_trailers(content_type: &str, chunks: &[&[u8]]) {
    let backend = EchoBackend::start();
    let envoy = start(&backend);
    for (protocol, send) in PROTOCOLS {
        let resp = send(
            envoy.port(),
            "/",
            &[("content-type", content_type)],
            chunks,
            &[("x-trailer", "1")],
        )
        .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(
            resp.status,
            400,
            "{protocol}: {}\n{}",
            resp.text(),
            envoy.log()
        );
        assert_eq!(resp.text(), "body must be a JSON object", "{protocol}");
    }
    assert_eq!(backend.requests(), 0, "a request went upstream");
}

#[test]
fn a_body_that_is_not_json_is_refused_with_trailers_too() {
    assert_refused_with_trailers("text/plain", &[b"not ", b"json"]);
}

#[test]
fn a_json_body_with_trailers_is_rewritten_and_the_response_checked() {
    let backend = EchoBackend::start();
    let envoy = start(&backend);
    for (protocol, send) in PROTOCOLS {
        let resp = send(
            envoy.port(),
            "/rewrite",
            &[("content-type", "application/json")],
            &[b"{\"a\"", b":1}"],
            &[("x-trailer", protocol)],
        )
        .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(
            resp.status,
            200,
            "{protocol}: {}\n{}",
            resp.text(),
            envoy.log()
        );
        let echo = resp.json();
        let seen: serde_json::Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen, json!({"a": 1, "added": true}), "{protocol}: {echo}");
        // The trailer reached the backend, and the backend's came back...
        assert_eq!(
            echo["trailers"]["x-trailer"], protocol,
            "{protocol}: {echo}"
        );
        assert_eq!(
            resp.trailer("echo-x-trailer"),
            Some(protocol),
            "{protocol}: {resp:?}"
        );
        // ...and the response body, which ended with that trailer, was checked.
        assert_eq!(echo["bodyCheck"], "found", "{protocol}: {echo}");
    }
}

/// A request with trailers and no data at all (headers, then trailers):
/// Envoy may call no body callback, only the trailers one. The body handler
/// still runs, with an empty body, which is not a JSON object: 400, and
/// nothing goes upstream (the host model says the same; this proves Envoy
/// does it).
#[test]
fn trailers_with_no_body_still_run_the_body_check() {
    assert_refused_with_trailers("application/json", &[]);
}
