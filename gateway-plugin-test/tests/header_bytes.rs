//! Header values are bytes on every path through the host: a client's value
//! that is not UTF-8 reaches the plugin (`proxy_get_header_map_value`) and
//! the upstream byte for byte, a callout answer's binary header reaches the
//! plugin and, added by it (`proxy_add_header_map_value`), the upstream; and
//! what Envoy refuses (CR, LF, NUL) is refused in byte values too.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Error, Host, Request, Response};
use serde_json::json;
use std::sync::{Arc, Mutex};

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

/// A client credential that is not UTF-8.
const CREDENTIAL: &[u8] = b"\xff\xfe\x80bob";
/// A token service's binary token.
const TOKEN: &[u8] = b"\xff\xfe\x80tok";

fn http_call_config() -> serde_json::Value {
    json!({
        "serviceSource": "ip",
        "serviceName": "token",
        "servicePort": 8080,
        "requestPath": "/issue?scope=api",
        "tokenHeader": "x-token",
    })
}

/// The http-call example with a token service (a closure) that records the
/// `authorization` bytes it got and answers a binary `x-token`.
fn http_call(seen: &Arc<Mutex<Vec<Vec<u8>>>>) -> gateway_plugin_test::Vm {
    let seen = Arc::clone(seen);
    Host::load(plugin_wasm("http-call"))
        .unwrap_or_else(|e| panic!("{e}"))
        .cluster_fn(TOKEN_CLUSTER, move |req| {
            let authorization = req.header_bytes("authorization").unwrap_or_default();
            seen.lock().unwrap().push(authorization.to_vec());
            Response::new(200).header_bytes("x-token", TOKEN)
        })
        .configure(http_call_config())
        .unwrap()
}

#[test]
fn a_binary_token_from_the_token_service_reaches_the_upstream_unchanged() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let vm = http_call(&seen);
    // A credential that is UTF-8 but not ASCII goes to the token service as
    // the client sent it.
    let credential = "Bearer bøb".as_bytes();
    let resp = vm
        .request(Request::get("/api").header_bytes("authorization", credential))
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", vm.logs());
    assert_eq!(*seen.lock().unwrap(), vec![credential.to_vec()]);
    let upstream = resp.upstream_request().expect("went upstream");
    assert_eq!(upstream.header_bytes("x-token"), Some(TOKEN));
    // The `&str` getter does not answer a value that is not UTF-8.
    assert_eq!(upstream.header("x-token"), None);
    assert_eq!(upstream.header_bytes("authorization"), Some(credential));
    assert_eq!(upstream.header("authorization"), Some("Bearer bøb"));
}

#[test]
fn a_credential_that_is_not_utf8_reaches_the_plugin_as_bytes() {
    // The plugin reads the client's `authorization` byte for byte: it sees
    // that the value is not UTF-8 and refuses to send it in a callout (the
    // SDK sends callout headers as text) rather than send it changed.
    // Decoded lossily by the host, the plugin would get valid UTF-8 and
    // send it changed to the token service.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let vm = http_call(&seen);
    let resp = vm
        .request(Request::get("/api").header_bytes("authorization", CREDENTIAL))
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text(), "http call failed");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the token service got a changed credential: {:?}",
        seen.lock().unwrap()
    );
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.contains("the callout's \"authorization\" header is not UTF-8")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn byte_values_pass_the_plugin_both_ways_unchanged() {
    // my-plugin leaves the client's headers and the upstream's answer be.
    let vm = Host::load(plugin_wasm("my-plugin"))
        .unwrap_or_else(|e| panic!("{e}"))
        .upstream(|req| {
            let echoed = req.header_bytes("x-latin1").unwrap_or_default().to_vec();
            Response::new(200).header_bytes("x-back", &echoed)
        })
        .configure(json!({}))
        .unwrap();
    let value = b"caf\xe9 \x80\xff";
    let resp = vm
        .request(Request::get("/").header_bytes("x-latin1", value))
        .unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().unwrap();
    assert_eq!(upstream.header_bytes("x-latin1"), Some(&value[..]));
    assert_eq!(upstream.header("x-latin1"), None);
    // The list shows every header; a value that is not UTF-8 lossy.
    assert!(upstream
        .headers()
        .iter()
        .any(|(n, v)| n == "x-latin1" && v == "caf\u{fffd} \u{fffd}\u{fffd}"));
    assert_eq!(resp.header_bytes("x-back"), Some(&value[..]));
    assert_eq!(resp.header("x-back"), None);
}

#[test]
fn a_byte_value_with_cr_lf_or_nul_is_refused_naming_the_header() {
    let vm = Host::load(plugin_wasm("my-plugin"))
        .unwrap_or_else(|e| panic!("{e}"))
        .configure(json!({}))
        .unwrap();
    for value in [&b"\xff\rx"[..], b"\x80\nx-injected: 1", b"a\0\xfe"] {
        match vm.request(Request::get("/").header_bytes("x-bin", value)) {
            Err(Error::BadRequest { header, reason }) => {
                assert_eq!(header, "x-bin");
                assert!(reason.contains("CR, LF or NUL"), "{reason}");
            }
            other => panic!("{value:?}: {other:?}"),
        }
    }
    // Bytes 0x80-0xFF alone are allowed, as in Envoy.
    let resp = vm
        .request(Request::get("/").header_bytes("x-bin", b"\x80\xff"))
        .unwrap();
    assert_eq!(resp.status(), 200);
}
