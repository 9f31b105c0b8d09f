//! Streaming body handlers: each chunk goes on as soon as its handler
//! returns; an async handler that waits holds its chunk and every later one,
//! which reach it in order afterwards; binary bodies, `dont_read_*`,
//! `buffer_*` and buffer limits. The plugins are `examples/sse-rewrite` and
//! the `streaming` fixture (`fixtures/streaming`: `<chunk>` for request
//! chunks, `[chunk]` / `[chunk:token]` for response chunks, `|end` at the end).

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{ClientResponse, Host, Request, Response, Vm};
use serde_json::json;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn streaming_vm(
    upstream: impl Fn(&gateway_plugin_test::UpstreamRequest) -> Response + Send + Sync + 'static,
) -> Vm {
    Host::load(plugin_wasm("streaming"))
        .unwrap()
        .log_level("debug")
        .cluster_fn(TOKEN_CLUSTER, |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("t({who})"))
        })
        .upstream(upstream)
        .configure(json!({}))
        .unwrap()
}

/// The upstream's response chunks, as the request's `x-chunks: N` and
/// `x-seed: S` ask: `cNNNN`, every chunk with a `*` (about one in five,
/// drawn from the seed) awaited by the plugin.
fn numbered_chunks(count: usize, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count)
        .map(|i| {
            let star = if rng.u8(..5) == 0 { "*" } else { "" };
            format!("c{i:04}{star}")
        })
        .collect()
}

fn expected_body(chunks: &[String]) -> String {
    let mut out = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push('[');
        out.push_str(chunk);
        if chunk.contains('*') {
            out.push_str(&format!(":t({chunk})"));
        }
        out.push(']');
        if i + 1 == chunks.len() {
            out.push_str("|end");
        }
    }
    out
}

fn chunked_upstream(req: &gateway_plugin_test::UpstreamRequest) -> Response {
    let count = req
        .header("x-chunks")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed = req
        .header("x-seed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Response::new(200).chunks(numbered_chunks(count, seed))
}

fn live_counts_line(vm: &Vm) -> String {
    vm.logs()
        .iter()
        .rev()
        .find(|l| l.contains("ended; live tasks:"))
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_thousand_chunks_with_awaits_arrive_in_order_complete_and_early() {
    let vm = streaming_vm(chunked_upstream);
    for seed in [1, 2, 3] {
        // Chunks and callout answers interleaved as the seed draws them.
        let request = Request::get("/stream")
            .header("x-chunks", "1000")
            .header("x-seed", &seed.to_string());
        let resp = vm
            .requests_with_seed(vec![request], seed)
            .unwrap()
            .remove(0);
        let chunks = numbered_chunks(1000, seed);
        assert!(chunks.iter().filter(|c| c.contains('*')).count() > 100);
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text(), expected_body(&chunks), "seed {seed}");
        // The client had the first chunk long before the upstream's last.
        let first = &resp.chunks()[0];
        assert!(first.text().starts_with("[c0000"), "{}", first.text());
        assert!(first.upstream_chunks_sent() < 10, "{first:?}");
        assert!(resp.chunks().len() > 100, "{} pieces", resp.chunks().len());
        assert_eq!(
            live_counts_line(&vm),
            format!(
                "debug [streaming] stream {} ended; live tasks: 0, live callouts: 0",
                resp.context_id()
            )
        );
    }
}

#[test]
fn interleaved_streams_with_awaits_each_get_their_own_chunks_in_order() {
    let vm = streaming_vm(chunked_upstream);
    for seed in 0..4u64 {
        let requests: Vec<Request> = (0..8)
            .map(|i| {
                Request::get(&format!("/s/{i}"))
                    .header("x-chunks", "150")
                    .header("x-seed", &(seed * 100 + i).to_string())
            })
            .collect();
        let responses = vm.requests_with_seed(requests, seed).unwrap();
        for (i, resp) in responses.iter().enumerate() {
            let chunks = numbered_chunks(150, seed * 100 + i as u64);
            assert_eq!(
                resp.text(),
                expected_body(&chunks),
                "seed {seed}, stream {i}"
            );
        }
        assert!(live_counts_line(&vm).ends_with("live tasks: 0, live callouts: 0"));
    }
}

#[test]
fn a_client_that_hangs_up_mid_stream_leaves_no_task_behind() {
    let vm = streaming_vm(|_| Response::new(200).chunks(["a", "b*", "c", "d*", "e", "f"]));
    for after in 1..=5 {
        let resp = vm
            .request(Request::get("/").hang_up_after_response_chunks(after))
            .unwrap();
        assert!(resp.hung_up(), "after {after}");
        assert_eq!(
            live_counts_line(&vm),
            format!(
                "debug [streaming] stream {} ended; live tasks: 0, live callouts: 0",
                resp.context_id()
            ),
            "after {after}"
        );
    }
    // And interleaved, hang-ups at random moments among whole streams.
    let requests = (0..24)
        .map(|i| match i % 3 {
            0 => Request::get("/gone").hang_up_after_response_chunks(2),
            1 => Request::get("/gone").hang_up_when_paused(),
            _ => Request::get("/whole"),
        })
        .collect();
    let responses = vm.requests_with_seed(requests, 9).unwrap();
    for (i, resp) in responses.iter().enumerate() {
        if i % 3 == 2 {
            assert_eq!(resp.text(), "[a][b*:t(b*)][c][d*:t(d*)][e][f]|end");
        }
    }
    assert!(live_counts_line(&vm).ends_with("live tasks: 0, live callouts: 0"));
}

#[test]
fn an_upstream_reset_mid_stream_ends_the_stream_without_its_end() {
    let vm = streaming_vm(|req| {
        let after = req
            .header("x-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        Response::new(200)
            .chunks(["a", "b*", "c", "d*", "e"])
            .reset_after(after)
    });
    for after in 1..=4 {
        let resp = vm
            .request(Request::get("/").header("x-after", &after.to_string()))
            .unwrap();
        assert!(resp.upstream_reset());
        let all = "[a][b*:t(b*)][c][d*:t(d*)]";
        let expected: String = all.split_inclusive(']').take(after).collect();
        // What was handled went on; the end never came.
        assert!(
            expected.starts_with(&resp.text()),
            "after {after}: {}",
            resp.text()
        );
        assert!(!resp.text().contains("|end"));
        assert!(live_counts_line(&vm).ends_with("live tasks: 0, live callouts: 0"));
    }
}

#[test]
fn request_chunks_go_on_one_by_one_and_pass_is_unchanged() {
    let vm = streaming_vm(gateway_plugin_test::echo);
    let resp = vm
        .request(Request::post("/").body("abcpassxyz").chunked(3))
        .unwrap();
    // Chunks "abc" "pas" "sxy" "z": only a chunk starting with "pass" passes.
    assert_eq!(
        resp.upstream_request().unwrap().text(),
        "<abc><pas><sxy><z>|end"
    );
    let resp = vm
        .request(Request::post("/").body("passpass").chunked(4))
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "pass<pass>|end");
}

#[test]
fn a_stream_that_ends_with_trailers_gives_the_handler_its_end() {
    let vm = streaming_vm(|req| {
        let chunks = match req.path() {
            "/held" => ["x", "y*"],
            _ => ["x", "y"],
        };
        Response::new(200)
            .chunks(chunks)
            .trailer("grpc-status", "0")
    });
    // The handler's last call has an empty chunk and `end_of_stream`; the
    // trailers go on. With every chunk gone on, the gateway has no body to
    // add its bytes to (as Envoy): they are dropped, with a warning.
    let resp = vm
        .request(Request::post("/").body("ab").chunked(1).trailer("x-t", "1"))
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "<a><b>");
    assert_eq!(resp.upstream_request().unwrap().trailer("x-t"), Some("1"));
    assert_eq!(resp.text(), "[x][y]");
    assert_eq!(resp.trailer("grpc-status"), Some("0"));
    let dropped: Vec<String> = vm
        .logs()
        .into_iter()
        .filter(|l| l.contains("ends with trailers are dropped"))
        .collect();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(dropped[0].contains("6 bytes returned at the end of a request body"));
    // Chunks still held at the trailers (an awaiting handler): the last
    // call's bytes go on with them.
    let resp = vm.request(Request::get("/held")).unwrap();
    assert_eq!(resp.text(), "[x][y*:t(y*)][]|end");
    assert_eq!(resp.trailer("grpc-status"), Some("0"));
}

fn untouched(resp: &ClientResponse, body: &str) {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), body);
}

#[test]
fn binary_bodies_pass_untouched_and_unbuffered() {
    let vm = streaming_vm(|req| {
        let mut resp = Response::new(200).chunks(["a*", "b"]);
        if let Some(kind) = req.header("x-answer-type") {
            resp = resp.header("content-type", kind);
        }
        if let Some(encoding) = req.header("x-answer-encoding") {
            resp = resp.header("content-encoding", encoding);
        }
        resp
    });
    for (name, value) in [
        ("x-answer-type", "application/octet-stream"),
        ("x-answer-type", "application/grpc+proto"),
        ("x-answer-encoding", "gzip"),
    ] {
        let resp = vm.request(Request::get("/").header(name, value)).unwrap();
        untouched(&resp, "a*b");
        assert_eq!(resp.chunks().len(), 2, "{value}: not held");
    }
    // Plain text is handled.
    let resp = vm
        .request(Request::get("/").header("x-answer-type", "text/plain"))
        .unwrap();
    assert_eq!(resp.text(), "[a*:t(a*)][b]|end");

    // Request bodies by the request's own headers.
    for (name, value) in [
        ("content-type", "application/grpc"),
        ("content-encoding", "br"),
    ] {
        let resp = vm
            .request(
                Request::post("/")
                    .header(name, value)
                    .body("xyz")
                    .chunked(1),
            )
            .unwrap();
        assert_eq!(resp.upstream_request().unwrap().text(), "xyz", "{value}");
        assert_eq!(
            resp.upstream_request().unwrap().header("content-length"),
            None,
            "a chunked request stays chunked"
        );
    }
    // A binary body keeps its content-length: it is not changed.
    let resp = vm
        .request(
            Request::post("/")
                .header("content-type", "application/octet-stream")
                .body("xyz"),
        )
        .unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("content-length"),
        Some("3")
    );

    // A WebSocket upgrade: neither body is read.
    let resp = vm
        .request(
            Request::get("/ws")
                .header("connection", "keep-alive, Upgrade")
                .header("upgrade", "websocket")
                .body("hi")
                .chunked(1),
        )
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "hi");
    untouched(&resp, "a*b");
}

#[test]
fn dont_read_and_buffer_are_decided_per_stream() {
    let vm = streaming_vm(|_| Response::new(200).chunks(["a*", "b"]));
    let resp = vm
        .request(
            Request::post("/")
                .header("x-dont-read", "1")
                .body("xyz")
                .chunked(1),
        )
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "xyz");
    untouched(&resp, "a*b");

    // Buffered: the whole-body response handler; the request's streaming
    // handler once, with the whole body and its end.
    let resp = vm
        .request(
            Request::post("/")
                .header("x-buffer", "1")
                .body("xyz")
                .chunked(1),
        )
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "<xyz>|end");
    assert_eq!(resp.text(), "WHOLE(a*b)");
    assert_eq!(resp.chunks().len(), 1);
}

#[test]
fn a_body_over_the_plugins_buffer_limit_is_refused_with_a_reason() {
    let vm = streaming_vm(|_| Response::new(200).chunks(["0123456789", "0123456789"]));
    // Request, buffered whole: 413 once past 12 bytes.
    let resp = vm
        .request(
            Request::post("/")
                .header("x-buffer", "1")
                .header("x-limit", "12")
                .body("a".repeat(20))
                .chunked(5),
        )
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.upstream_request().is_none());
    assert_eq!(
        resp.response_code_details(),
        Some("request_payload_too_large")
    );
    assert!(vm.logs().iter().any(|l| l.contains(
        "the request body is over the plugin's buffer limit (15 > 12 bytes, set_request_body_buffer_limit): answered 413"
    )));
    // Within the limit it goes through.
    let resp = vm
        .request(
            Request::post("/")
                .header("x-limit", "100")
                .header("x-buffer", "1")
                .body("abc")
                .chunked(1),
        )
        .unwrap();
    assert_eq!(resp.upstream_request().unwrap().text(), "<abc>|end");
    assert_eq!(resp.text(), "WHOLE(01234567890123456789)");

    // Response, buffered whole: 500.
    let resp = vm
        .request(
            Request::get("/")
                .header("x-buffer", "1")
                .header("x-limit", "15"),
        )
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.response_code_details(),
        Some("response_payload_too_large")
    );

    // Streaming: chunks held while a handler waits count too.
    let vm = streaming_vm(|_| Response::new(200).chunks(["a*", "0123456789", "0123456789"]));
    let resp = vm
        .request(Request::get("/").header("x-limit", "15"))
        .unwrap();
    assert_eq!(resp.status(), 500, "{}", resp.text());
    // Not held (no await), nothing is buffered: no limit is reached.
    let vm = streaming_vm(|_| Response::new(200).chunks(["a", "0123456789", "0123456789"]));
    let resp = vm
        .request(Request::get("/").header("x-limit", "15"))
        .unwrap();
    assert_eq!(resp.text(), "[a][0123456789][0123456789]|end");
}

fn sse_vm(
    upstream: impl Fn(&gateway_plugin_test::UpstreamRequest) -> Response + Send + Sync + 'static,
) -> Vm {
    Host::load(plugin_wasm("sse-rewrite"))
        .unwrap()
        .log_level("debug")
        .upstream(upstream)
        .configure(json!({"prefix": "gw: "}))
        .unwrap()
}

#[test]
fn sse_events_are_rewritten_as_they_stream() {
    let vm = sse_vm(|_| {
        Response::new(200)
            .header("content-type", "text/event-stream")
            .chunks([
                "data: one\n\n",
                "event: delta\ndata: two\n\n",
                "data: [DONE]\n\n",
            ])
    });
    let resp = vm.request(Request::get("/v1/chat")).unwrap();
    let pieces: Vec<(String, usize)> = resp
        .chunks()
        .iter()
        .map(|c| (c.text(), c.upstream_chunks_sent()))
        .collect();
    assert_eq!(
        pieces,
        [
            ("data: gw: one\n\n".to_string(), 1),
            ("event: delta\ndata: gw: two\n\n".to_string(), 2),
            ("data: gw: [DONE]\n\n".to_string(), 3),
        ]
    );
    assert!(vm
        .logs()
        .iter()
        .any(|l| l == "info [sse-rewrite] 3 events rewritten"));
    let log = String::from_utf8(resp.property("custom_log").unwrap().to_vec()).unwrap();
    assert!(log.contains("sse_events"), "{log}");
}

#[test]
fn an_sse_event_split_over_chunks_goes_on_whole() {
    let vm = sse_vm(|_| {
        Response::new(200)
            .header("content-type", "text/event-stream; charset=utf-8")
            .chunks(["data: o", "ne\n", "\ndata: tw", "o\n\nda", "ta: x\n\n"])
    });
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(
        resp.text(),
        "data: gw: one\n\ndata: gw: two\n\ndata: gw: x\n\n"
    );
    let firsts: Vec<String> = resp.chunks().iter().map(|c| c.text()).collect();
    assert_eq!(firsts[0], "data: gw: one\n\n");
}

#[test]
fn a_response_that_is_not_an_event_stream_is_not_touched() {
    let vm = sse_vm(|_| {
        Response::new(200)
            .header("content-type", "application/json")
            .chunks(["data: {", "}\n\n"])
    });
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.text(), "data: {}\n\n");
    assert_eq!(resp.header("content-length"), Some("10"));
}
