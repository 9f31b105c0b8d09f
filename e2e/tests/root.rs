//! Several configurations of one plugin in one Envoy VM: two listeners from
//! a file-based LDS, each with `examples/http-call` configured its own way,
//! sharing one `vm_id` (so one VM holds a root context per listener). A
//! configuration push removes the second listener; the first must keep
//! answering with working callouts (it used to trap the VM: "invalid
//! context_id", then 503 for every request).

use gateway_plugin_e2e::{
    request, EchoBackend, Envoy, EnvoyConfig, LdsListener, TokenMode, TokenService,
};
use serde_json::json;
use std::time::Duration;

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn config(token_header: &str) -> serde_json::Value {
    json!({
        "serviceSource": "ip",
        "serviceName": "token",
        "servicePort": 8080,
        "requestPath": "/issue",
        "tokenHeader": token_header,
    })
}

/// `count` requests at once on `listener`, each for its own user; checks the
/// backend saw the token the listener's configuration copies
/// (`token_header`), and returns how many were answered 200.
fn burst(listener: &LdsListener, token_header: &str, tag: &str, count: usize) {
    let threads: Vec<_> = (0..count)
        .map(|i| {
            let url = listener.url("/");
            let header = token_header.to_string();
            let who = format!("{tag}-{i}");
            std::thread::spawn(move || {
                let resp = request("GET", &url, &[("authorization", &who)], b"")
                    .unwrap_or_else(|e| panic!("{who}: {e}"));
                assert_eq!(resp.status, 200, "{who}: {}", resp.text());
                let echo = resp.json();
                let expected = match header.as_str() {
                    "x-token" => format!("token-for-{who}"),
                    _ => "/issue".to_string(), // the token service's x-echo-path
                };
                assert_eq!(echo["headers"][&header], expected, "{who}: {echo}");
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a request failed");
    }
}

#[test]
fn removing_one_listener_leaves_the_others_callouts_working() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Jitter(20));
    let first = LdsListener::new("first", config("x-token"));
    let second = LdsListener::new("second", config("x-echo-path"));
    let mut envoy = Envoy::start(
        EnvoyConfig::new("http-call", backend.port())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .wasm_log_level("debug")
            .lds(vec![first.clone(), second.clone()]),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    // Both configurations work, with callouts in flight on both at once.
    std::thread::scope(|s| {
        s.spawn(|| burst(&first, "x-token", "first", 40));
        s.spawn(|| burst(&second, "x-echo-path", "second", 40));
    });

    // A configuration push removes the second listener; once it has
    // drained, its root context is deleted.
    envoy.set_listeners(std::slice::from_ref(&first));
    envoy.wait_for_stat("listener_manager.total_listeners_draining", 0);
    let removed = envoy.wait_for_log_within("removed; 1 left in this VM", Duration::from_secs(20));

    // The first listener keeps answering, its callouts working.
    for round in 0..3 {
        burst(&first, "x-token", &format!("after-{round}"), 30);
    }
    assert!(
        request("GET", &second.url("/"), &[], b"").is_err(),
        "the second listener is gone"
    );
    let log = envoy.log();
    assert!(!log.contains("panicked"), "the VM trapped:\n{log}");
    assert!(removed.is_some(), "the second root was not deleted:\n{log}");
    assert_eq!(tokens.requests(), 40 + 40 + 90);
}
