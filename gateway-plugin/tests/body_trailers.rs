//! Messages that end with trailers (HTTP/2, gRPC, HTTP/1.1 chunked with
//! trailers): no body callback says `end_of_stream`, the trailers do. A body
//! handler must still see the whole body, or a body check is bypassed by
//! adding a trailer. Sync handlers (`examples/body-rewrite`) and async ones
//! (`fixtures/callout-chain`), request and response.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{echo, Host, Request, Response};
use serde_json::json;

fn body_rewrite() -> Host {
    Host::load(plugin_wasm("body-rewrite"))
        .unwrap()
        .log_level("debug")
        .upstream(|req| {
            let mut resp = Response::new(200)
                .header("content-type", "application/json")
                .body(json!({"seen": req.text(), "status": "ok"}).to_string());
            // The upstream answers with a trailer when the request had one.
            if let Some(value) = req.trailer("x-trailer") {
                resp = resp.trailer("x-upstream-trailer", value);
            }
            resp
        })
}

fn config() -> serde_json::Value {
    json!({"field": "added", "value": true, "marker": "ok"})
}

#[test]
fn a_request_body_check_is_not_bypassed_by_a_trailer() {
    let vm = body_rewrite().configure(config()).unwrap();
    for chunk in [None, Some(1), Some(3)] {
        let mut request = Request::post("/")
            .body("not json")
            .trailer("x-trailer", "1");
        if let Some(size) = chunk {
            request = request.chunked(size);
        }
        let resp = vm.request(request).unwrap();
        assert_eq!(resp.status(), 400, "chunks of {chunk:?}: {}", resp.text());
        assert_eq!(resp.text(), "body must be a JSON object");
        assert!(resp.upstream_request().is_none(), "chunks of {chunk:?}");
    }
}

#[test]
fn a_request_body_with_a_trailer_is_rewritten_and_the_trailer_goes_on() {
    let vm = body_rewrite().configure(config()).unwrap();
    let resp = vm
        .request(
            Request::post("/")
                .body(r#"{"a":1}"#)
                .chunked(2)
                .trailer("x-trailer", "t1"),
        )
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let upstream = resp.upstream_request().unwrap();
    let sent: serde_json::Value = serde_json::from_slice(upstream.body()).unwrap();
    assert_eq!(sent, json!({"a": 1, "added": true}));
    assert_eq!(upstream.trailer("x-trailer"), Some("t1"));
    // ...and the response, which ends with a trailer too, was checked.
    assert_eq!(resp.json()["bodyCheck"], "found", "{}", resp.text());
    assert_eq!(resp.trailer("x-upstream-trailer"), Some("t1"));
}

#[test]
fn a_message_of_headers_and_trailers_only_runs_the_body_handler_once_with_no_body() {
    let vm = body_rewrite().configure(config()).unwrap();
    let resp = vm
        .request(Request::post("/").trailer("x-trailer", "1"))
        .unwrap();
    // The body handler ran (an empty body is not a JSON object).
    assert_eq!(resp.status(), 400, "{}", resp.text());
    let runs = vm
        .logs()
        .iter()
        .filter(|l| l.contains("request body: 0 bytes"))
        .count();
    assert_eq!(runs, 1, "{:?}", vm.logs());
}

#[test]
fn async_body_handlers_see_the_body_at_the_trailers() {
    let vm = Host::load(plugin_wasm("callout-chain"))
        .unwrap()
        .cluster_fn("outbound|8080||token.static", |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("token-for-{who}"))
        })
        .upstream(|req| echo(req).trailer("grpc-status", "0"))
        .log_level("debug")
        .configure(serde_json::Value::Null)
        .unwrap();
    let requests = (0..30)
        .map(|i| {
            Request::post("/")
                .header("authorization", &format!("user-{i}"))
                .body(format!("hello-{i}"))
                .chunked(3)
                .trailer("x-trailer", &i.to_string())
        })
        .collect();
    for (i, resp) in vm.requests(requests).unwrap().iter().enumerate() {
        assert_eq!(resp.status(), 200, "stream {i}: {}", resp.text());
        let upstream = resp.upstream_request().unwrap();
        // The request body handler awaited a callout at the trailers...
        assert_eq!(
            upstream.text(),
            format!("hello-{i};token-for-body:user-{i}")
        );
        assert_eq!(upstream.trailer("x-trailer"), Some(i.to_string().as_str()));
        // ...and so did the response body handler.
        assert!(
            resp.text()
                .ends_with(&format!("\n#token-for-respbody:user-{i}")),
            "stream {i}: {}",
            resp.text()
        );
        assert_eq!(resp.trailer("grpc-status"), Some("0"));
    }
    // The stream-done callouts have all come back by now: a last request
    // (no authorization, no callout) sees nothing left.
    vm.request(Request::get("/")).unwrap();
    let logs = vm.logs();
    let last = logs
        .iter()
        .rev()
        .find(|l| l.contains("ended; live tasks:"))
        .unwrap();
    assert!(last.ends_with("live tasks: 0, live callouts: 0"), "{last}");
}
