//! Gateways that let a plugin hold headers while the body comes on (Higress;
//! Envoy with `allow_on_headers_stop_iteration: true`): body callbacks then
//! arrive while an `async` headers handler still waits, and must still reach
//! the body handler; and `hold_headers` lets a body handler change headers.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Request, Response};

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn chain_host() -> Host {
    Host::load(plugin_wasm("callout-chain"))
        .unwrap()
        .cluster_fn(TOKEN_CLUSTER, |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("token-for-{who}"))
        })
        .log_level("debug")
        .allow_on_headers_stop_iteration()
}

#[test]
fn a_body_that_arrives_while_an_async_headers_handler_waits_still_reaches_the_body_handler() {
    let vm = chain_host().configure(serde_json::Value::Null).unwrap();
    for seed in 0..3 {
        let requests: Vec<Request> = (0..12)
            .map(|i| {
                let mut request = Request::post(&format!("/chain/{i}"))
                    .header("authorization", &format!("user-{i}"))
                    .body(format!("hello-{i}"));
                if i % 2 == 0 {
                    request = request.chunked(3);
                }
                if i % 3 == 0 {
                    request = request.trailer("x-t", "1");
                }
                request
            })
            .collect();
        let responses = vm.requests_with_seed(requests, seed).unwrap();
        for (i, resp) in responses.iter().enumerate() {
            assert_eq!(
                resp.status(),
                200,
                "seed {seed}, stream {i}: {}",
                resp.text()
            );
            let upstream = resp.upstream_request().unwrap();
            assert_eq!(
                upstream.text(),
                format!("hello-{i};token-for-body:user-{i}"),
                "seed {seed}, stream {i}: the body handler was skipped"
            );
            assert_eq!(
                upstream.header("x-chain"),
                Some(format!("token-for-token-for-user-{i}").as_str())
            );
        }
    }
}

fn hold_host() -> Host {
    Host::load(plugin_wasm("hold-headers"))
        .unwrap()
        .log_level("debug")
        .allow_on_headers_stop_iteration()
}

#[test]
fn a_body_handler_with_hold_headers_changes_its_messages_headers() {
    let vm = hold_host().configure(serde_json::json!({})).unwrap();
    for chunk in [None, Some(4)] {
        let mut request = Request::post("/v1/chat").body(r#"{"model":"qwen-max","x":1}"#);
        if let Some(size) = chunk {
            request = request.chunked(size);
        }
        let resp = vm.request(request).unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text());
        let upstream = resp.upstream_request().unwrap();
        assert_eq!(
            upstream.header("x-model"),
            Some("qwen-max"),
            "chunks {chunk:?}"
        );
        assert_eq!(upstream.text(), r#"{"model":"qwen-max","x":1}"#);
        assert_eq!(
            resp.header("x-body-bytes"),
            Some(resp.body().len().to_string().as_str())
        );
    }
    // Trailers end the message: the headers still wait for the handler.
    let resp = vm
        .request(
            Request::post("/")
                .body(r#"{"model":"m2"}"#)
                .chunked(3)
                .trailer("x-t", "1"),
        )
        .unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("x-model"),
        Some("m2")
    );
    // Interleaved streams each keep their own headers.
    let requests = (0..16)
        .map(|i| {
            Request::post("/")
                .body(format!(r#"{{"model":"m{i}"}}"#))
                .chunked(5)
        })
        .collect();
    for (i, resp) in vm
        .requests_with_seed(requests, 4)
        .unwrap()
        .iter()
        .enumerate()
    {
        let model = format!("m{i}");
        assert_eq!(
            resp.upstream_request().unwrap().header("x-model"),
            Some(model.as_str())
        );
    }
    assert!(!vm.logs().iter().any(|l| l.contains("hold_headers:")));
}
