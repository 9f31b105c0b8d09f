//! Streaming body handlers in a real Envoy: each chunk goes on as soon as
//! its handler returns (an SSE event reaches the client while the upstream
//! still pauses), and an async handler that awaits a callout mid-stream
//! holds its chunk and every later one, then hands them on in order.

use gateway_plugin_e2e::{
    http1_with_trailers, http2_with_trailers, request, stream_get, EchoBackend, Envoy, EnvoyConfig,
    HttpReply, HttpServer, Piece, RawResponse, StreamingUpstream, TokenMode, TokenService,
};
use serde_json::json;
use std::time::Duration;

type Send =
    fn(u16, &str, &[(&str, &str)], &[&[u8]], &[(&str, &str)]) -> Result<RawResponse, String>;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";
const MODERATION_CLUSTER: &str = "outbound|8080||moderation.static";

fn sse() -> Vec<(String, String)> {
    vec![("content-type".into(), "text/event-stream".into())]
}

#[test]
fn an_sse_event_reaches_the_client_before_the_upstream_sends_the_next() {
    let upstream = StreamingUpstream::start(|_| {
        (
            sse(),
            vec![
                Piece::new(0, "data: one\n\n"),
                Piece::new(1000, "data: two\n\n"),
                Piece::new(0, "data: [DONE]\n\n"),
            ],
        )
    });
    let envoy = Envoy::start(
        EnvoyConfig::new("sse-rewrite", upstream.port())
            .configuration(json!({"prefix": "gw: "}))
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = stream_get(envoy.port(), "/v1/chat", &[]).unwrap();
    assert_eq!(resp.status, 200, "{}", envoy.log());
    assert_eq!(
        resp.text(),
        "data: gw: one\n\ndata: gw: two\n\ndata: gw: [DONE]\n\n"
    );
    let first = resp.arrival_of("data: gw: one").unwrap();
    let sent = upstream.sent();
    let second_sent = sent[1].1;
    // The rewritten first event was out ≥ 0.5 s before the second was sent
    // (the upstream paused 1 s between them).
    let lead = second_sent.saturating_duration_since(first);
    assert!(
        lead >= Duration::from_millis(500),
        "first event only {lead:?} before the second was sent"
    );
    assert!(envoy
        .wait_for_log("[sse-rewrite] 3 events rewritten")
        .is_some());
}

/// `c00*`-style pieces, about one in four with a `*` (awaited by the plugin).
fn pieces(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let star = if i % 4 == 1 || i % 7 == 3 { "*" } else { "" };
            format!("c{i:02}{star}")
        })
        .collect()
}

/// Checks the `streaming` fixture's output: `[chunk]` or
/// `[chunk:token-for-chunk]` per handler call (a token exactly for chunks
/// with a `*`), `|end` after the last; the chunks, joined, are the
/// upstream's body. How Envoy cut the body into chunks does not matter.
fn check_groups(text: &str, body: &str) -> Result<(), String> {
    let text = text.strip_suffix("|end").ok_or("no `|end`")?;
    let mut joined = String::new();
    for group in text.split_inclusive(']') {
        let inner = group
            .strip_prefix('[')
            .and_then(|g| g.strip_suffix(']'))
            .ok_or_else(|| format!("bad group {group:?}"))?;
        let (chunk, token) = match inner.split_once(":token-for-") {
            Some((chunk, token)) => (chunk, Some(token)),
            None => (inner, None),
        };
        match token {
            Some(token) if token != chunk => {
                return Err(format!("chunk {chunk:?} got the token of {token:?}"))
            }
            None if chunk.contains('*') => return Err(format!("chunk {chunk:?} got no token")),
            _ => {}
        }
        joined.push_str(chunk);
    }
    if joined != body {
        return Err(format!("the chunks joined are {joined:?}"));
    }
    Ok(())
}

#[test]
fn an_async_streaming_handler_holds_chunks_and_hands_them_on_in_order() {
    let upstream = StreamingUpstream::start(|_| {
        let pieces = pieces(40)
            .into_iter()
            .enumerate()
            // Some pieces close together (they wait behind a callout), some apart.
            .map(|(i, p)| Piece::new(if i % 3 == 0 { 40 } else { 2 }, p))
            .collect();
        (Vec::new(), pieces)
    });
    let tokens = TokenService::start(TokenMode::Jitter(30));
    let envoy = Envoy::start(
        EnvoyConfig::new("streaming", upstream.port())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    // Several streams at once, each with its own callouts.
    let port = envoy.port();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| scope.spawn(move || stream_get(port, &format!("/s/{i}"), &[])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, resp) in results.into_iter().enumerate() {
        let resp = resp.unwrap_or_else(|e| panic!("stream {i}: {e}"));
        assert_eq!(resp.status, 200, "stream {i}");
        let text = resp.text();
        check_groups(&text, &pieces(40).concat())
            .unwrap_or_else(|e| panic!("stream {i}: {e}\n{text}\n{}", envoy.log()));
        // It streamed: the client got pieces before the upstream's last.
        let last_sent = upstream.sent().last().unwrap().1;
        let first = resp.pieces[0].0;
        assert!(first < last_sent, "stream {i} arrived all at once");
    }
    let log = envoy.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        !log.contains("cannot replace"),
        "a write to a held body failed:\n{log}"
    );
}

#[test]
fn stream_moderation_cuts_the_stream_at_the_first_flagged_window() {
    let upstream = StreamingUpstream::start(|_| {
        (
            sse(),
            vec![
                Piece::new(0, "data: hello\n\n"),
                Piece::new(150, "data: world\n\n"),
                Piece::new(150, "data: forbidden\n\n"),
                Piece::new(150, "data: more\n\n"),
                Piece::new(150, "data: and more\n\n"),
            ],
        )
    });
    let moderation = HttpServer::start(|req| {
        let flagged = String::from_utf8_lossy(&req.body).contains("forbidden");
        HttpReply::new(200, json!({ "flagged": flagged }).to_string())
    });
    let envoy = Envoy::start(
        EnvoyConfig::new("stream-moderation", upstream.port())
            .cluster(MODERATION_CLUSTER, moderation.port())
            .configuration(json!({
                "serviceName": "moderation",
                "servicePort": 8080,
                "everyBytes": 20,
                "finalEvent": "data: [moderated]\n\n",
            }))
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = stream_get(envoy.port(), "/v1/chat", &[]).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.text(),
        "data: hello\n\ndata: world\n\ndata: [moderated]\n\n",
        "{}",
        envoy.log()
    );
    // The passed window went on before the stream's end.
    let passed = resp.arrival_of("data: world").unwrap();
    let last_sent = upstream.sent().last().unwrap().1;
    assert!(passed < last_sent);
    assert_eq!(moderation.requests(), 2);
    assert!(envoy
        .wait_for_log("[stream-moderation] window 2 flagged: stream cut")
        .is_some());
}

fn streaming_envoy(backend_port: u16, tokens: &TokenService) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("streaming", backend_port)
            .cluster(TOKEN_CLUSTER, tokens.port())
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

#[test]
fn a_streamed_message_that_ends_with_trailers_gives_the_handler_its_end() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Issue);
    let envoy = streaming_envoy(backend.port(), &tokens);
    let port = envoy.port();
    for (protocol, send) in [
        ("HTTP/1.1", http1_with_trailers as Send),
        ("HTTP/2", http2_with_trailers),
    ] {
        let resp = send(port, "/", &[], &[b"ab", b"cd"], &[("x-trailer", "t1")])
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(resp.status, 200, "{protocol}: {}", resp.text());
        // The echo backend's JSON comes back through the response handler
        // as `[..]` pieces.
        let text = resp.text();
        let echo_text: String = text
            .split(']')
            .map(|piece| piece.strip_prefix('[').unwrap_or(piece))
            .collect();
        let echo: serde_json::Value =
            serde_json::from_str(&echo_text).unwrap_or_else(|e| panic!("{protocol}: {e}: {text}"));
        // Each chunk wrapped as it came; the trailers went on.
        let body = echo["body"].as_str().unwrap();
        assert_eq!(body.replace(['<', '>'], ""), "abcd", "{protocol}: {body}");
        assert!(
            body.starts_with('<') && body.ends_with('>'),
            "{protocol}: {body}"
        );
        assert_eq!(echo["trailers"]["x-trailer"], "t1", "{protocol}: {echo}");
    }
    // The handler's last call (empty chunk, `end_of_stream`, at the
    // trailers) ran; Envoy has no body left to add its bytes to once every
    // chunk has gone on, and the plugin says so instead of losing them silently.
    assert!(envoy
        .wait_for_log(
            "bytes returned at the end of a request body that ends with trailers are dropped"
        )
        .is_some());
}

#[test]
fn a_body_past_the_plugins_limit_is_refused_with_a_reason_and_the_vm_lives_on() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Issue);
    let envoy = streaming_envoy(backend.port(), &tokens);
    let big = vec![b'a'; 64 * 1024];
    let resp = request(
        "POST",
        &envoy.url("/"),
        &[("x-buffer", "1"), ("x-limit", "10000")],
        &big,
    )
    .unwrap();
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert!(envoy
        .wait_for_log("the request body is over the plugin's buffer limit")
        .is_some());
    // Past Envoy's own limit (1 MiB per connection): Envoy's 413, no trap.
    let huge = vec![b'a'; 3 * 1024 * 1024];
    let resp = request("POST", &envoy.url("/"), &[("x-buffer", "1")], &huge).unwrap();
    assert_eq!(resp.status, 413, "{}", resp.text());
    // Within the limit it goes through, buffered whole.
    let resp = request(
        "POST",
        &envoy.url("/"),
        &[("x-buffer", "1"), ("x-limit", "10000")],
        b"small",
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    let echo: serde_json::Value = serde_json::from_str(
        resp.text()
            .strip_prefix("WHOLE(")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(echo["body"], "<small>|end");
    assert!(!envoy.log().contains("panicked"));
}
