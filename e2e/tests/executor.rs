//! The executor under interleaving, in a real Envoy: the `callout-chain`
//! fixture (`fixtures/callout-chain`) awaits chained and zipped HTTP
//! callouts in every phase, while other streams start, wait, and hang up in
//! between. Every token names who it was issued for, so an answer that lands
//! on the wrong task shows in what the backend and the client see.

use gateway_plugin_e2e::{
    get, hang_up_after, request, EchoBackend, Envoy, EnvoyConfig, Response, TokenMode, TokenService,
};
use std::time::Duration;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

#[test]
fn chained_and_zipped_callouts_land_on_their_own_stream() {
    let backend = EchoBackend::start();
    // Answers come back after 0..=20 ms, out of order.
    let tokens = TokenService::start(TokenMode::Jitter(20));
    let envoy = Envoy::start(
        EnvoyConfig::new("callout-chain", backend.port())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let url = envoy.url("");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();

    let answers: Vec<Result<Response, String>> = std::thread::scope(|scope| {
        // Streams that end mid-chain, in between the others.
        for j in 0..50u64 {
            scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(j % 10));
                let who = format!("gone-{j}");
                let after = Duration::from_millis(5 + (j * 3) % 40);
                hang_up_after(port, "/gone", &[("authorization", &who)], after);
            });
        }
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let url = format!("{url}/chain/{i}");
                scope.spawn(move || {
                    let who = format!("user-{i}");
                    let body = format!("hello-{i}");
                    request("POST", &url, &[("authorization", &who)], body.as_bytes())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for (i, answer) in answers.into_iter().enumerate() {
        let resp = answer.unwrap_or_else(|e| panic!("request {i}: {e}"));
        let text = resp.text();
        assert_eq!(resp.status, 200, "request {i}: {text}");
        // Response phases: header and body, each from its own callout.
        let response_token = format!("token-for-resp:user-{i}");
        assert_eq!(
            resp.header("x-response-token"),
            Some(response_token.as_str())
        );
        let (echo, appended) = text
            .rsplit_once("\n#")
            .unwrap_or_else(|| panic!("request {i}: {text}"));
        assert_eq!(
            appended,
            format!("token-for-respbody:user-{i}"),
            "request {i}"
        );
        // Request phases: what the backend saw.
        let echo: serde_json::Value = serde_json::from_str(echo).unwrap();
        assert_eq!(echo["path"], format!("/chain/{i}"));
        assert_eq!(
            echo["headers"]["x-chain"],
            format!("token-for-token-for-user-{i}"),
            "request {i}"
        );
        assert_eq!(
            echo["headers"]["x-zip"],
            format!("token-for-a:user-{i},token-for-b:user-{i}"),
            "request {i}"
        );
        assert_eq!(
            echo["body"],
            format!("hello-{i};token-for-body:user-{i}"),
            "request {i}"
        );
    }

    // The stream-done callouts outlive their streams and still go out.
    let done = (0..100).map(|i| format!("done:user-{i}"));
    let mut missing: Vec<String> = done.collect();
    for _ in 0..40 {
        let seen = tokens.authorizations();
        missing.retain(|d| !seen.contains(d));
        if missing.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(missing.is_empty(), "no stream-done callout for {missing:?}");

    // Let the hung-up streams' late answers arrive, then one more stream
    // (no authorization: no callout) reports what is still alive.
    std::thread::sleep(Duration::from_millis(700));
    let resp = get(&envoy.url("/last"));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["headers"].get("x-chain"), None);
    // The stream that ends last reports zero left (polled: its end may be
    // logged just after the client has the answer).
    let mut last = String::new();
    for _ in 0..40 {
        let log = envoy.log();
        last = log
            .lines()
            .rev()
            .find(|l| l.contains("ended; live tasks:"))
            .unwrap_or("")
            .to_string();
        if last.ends_with("live tasks: 0, live callouts: 0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(last.ends_with("live tasks: 0, live callouts: 0"), "{last}");
    let log = envoy.log();
    assert!(!log.contains("panicked"), "the VM panicked:\n{log}");
    // Some streams hung up mid-callout, and their answers were ignored.
    assert!(
        log.contains("its stream has ended"),
        "no stream ended mid-callout"
    );
}

#[test]
fn a_gateway_timeout_reaches_the_client_while_a_request_handler_still_waits() {
    let backend = EchoBackend::start();
    // Each token takes 0.7 s; Envoy gives the request 0.2 s.
    let tokens = TokenService::start(TokenMode::Slow(Duration::from_millis(700)));
    let envoy = Envoy::start(
        EnvoyConfig::new("callout-chain", backend.port())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .request_timeout_ms(200)
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let started = std::time::Instant::now();
    let resp = request("GET", &envoy.url("/slow"), &[("authorization", "u")], b"").unwrap();
    let took = started.elapsed();
    // Envoy's local reply goes through the plugin's response phases at
    // once (they cannot run while the request's handler holds the stream),
    // not when the callouts answer.
    assert_eq!(resp.status, 504, "{}", resp.text());
    assert!(
        took < Duration::from_millis(600),
        "the timeout reply took {took:?}\n{}",
        envoy.log()
    );
    assert_eq!(backend.requests(), 0);
    assert!(envoy
        .wait_for_log("passed on without the response handlers")
        .is_some());
}
