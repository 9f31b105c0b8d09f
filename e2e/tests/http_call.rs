//! `examples/http-call` (async handler + HttpClient) in a real Envoy, with a
//! real token service on loopback behind a cluster named as the plugin
//! computes it (`outbound|8080||token.static`).

use gateway_plugin_e2e::{
    free_port, get, hang_up_after, request, Blackhole, EchoBackend, Envoy, EnvoyConfig, TokenMode,
    TokenService,
};
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn config() -> serde_json::Value {
    json!({
        "serviceSource": "ip",
        "serviceName": "token",
        "servicePort": 8080,
        "requestPath": "/issue?scope=api",
        "tokenHeader": "x-token",
    })
}

fn start(backend: &EchoBackend, token_port: u16, level: &'static str) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("http-call", backend.port())
            .configuration(config())
            .cluster(TOKEN_CLUSTER, token_port)
            .wasm_log_level(level),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

#[test]
fn copies_the_token_into_the_request() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Issue);
    let envoy = start(&backend, tokens.port(), "info");

    let resp = request(
        "GET",
        &envoy.url("/api"),
        &[("authorization", "Bearer alice")],
        b"",
    )
    .unwrap();

    assert_eq!(resp.status, 200, "{}", resp.text());
    let echo = resp.json();
    assert_eq!(
        echo["headers"]["x-token"], "token-for-Bearer alice",
        "backend saw {echo}"
    );
    assert_eq!(echo["path"], "/api");
    assert_eq!(tokens.requests(), 1);
}

#[test]
fn a_failing_token_service_is_answered_500() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Status(503));
    let envoy = start(&backend, tokens.port(), "info");

    let resp = get(&envoy.url("/api"));

    assert_eq!(resp.status, 500);
    assert_eq!(resp.text(), "http call failed");
    assert_eq!(backend.requests(), 0);
    assert!(
        envoy
            .wait_for_log("[http-call] http call failed, status: 503")
            .is_some(),
        "{}",
        envoy.log()
    );
}

#[test]
fn a_token_service_that_is_not_listening_is_answered_500() {
    let backend = EchoBackend::start();
    let envoy = start(&backend, free_port(), "info");

    let resp = get(&envoy.url("/api"));

    assert_eq!(resp.status, 500);
    assert_eq!(resp.text(), "http call failed");
    assert!(
        envoy.wait_for_log("[http-call] http call failed").is_some(),
        "{}",
        envoy.log()
    );
}

#[test]
fn a_slow_token_service_is_cut_off_at_the_timeout() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Slow(Duration::from_secs(3)));
    let envoy = start(&backend, tokens.port(), "info");

    let started = Instant::now();
    let resp = get(&envoy.url("/api"));
    let waited = started.elapsed();

    assert_eq!(resp.status, 500);
    assert_eq!(resp.text(), "http call failed");
    // The default timeout is 500 ms; the service would take 3 s.
    assert!(waited < Duration::from_secs(2), "answered after {waited:?}");
}

#[test]
fn concurrent_requests_each_get_their_own_token() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Issue);
    let envoy = start(&backend, tokens.port(), "info");
    let url = envoy.url("/api");

    let answers: Vec<(usize, Result<String, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let url = url.clone();
                scope.spawn(move || {
                    let who = format!("user-{i}");
                    let resp = request("GET", &url, &[("authorization", &who)], b"")?;
                    if resp.status != 200 {
                        return Err(format!("status {}: {}", resp.status, resp.text()));
                    }
                    Ok(resp.json()["headers"]["x-token"]
                        .as_str()
                        .unwrap_or("")
                        .to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| (i, h.join().unwrap()))
            .collect()
    });

    for (i, answer) in answers {
        assert_eq!(answer, Ok(format!("token-for-user-{i}")), "request {i}");
    }
    assert_eq!(tokens.requests(), 200);
}

#[test]
fn clients_that_hang_up_mid_callout_leave_no_task_behind() {
    let backend = EchoBackend::start();
    let blackhole = Blackhole::start();
    let envoy = start(&backend, blackhole.port(), "debug");
    let port = envoy.port();

    // 10,000 requests, 50 at a time, each hanging up 20 ms into its callout
    // (the blackhole never answers; the callout would time out at 500 ms).
    std::thread::scope(|scope| {
        for t in 0..50 {
            scope.spawn(move || {
                for i in 0..200 {
                    let who = format!("user-{t}-{i}");
                    hang_up_after(
                        port,
                        "/api",
                        &[("authorization", &who)],
                        Duration::from_millis(20),
                    );
                }
            });
        }
    });
    // Let every stream end and every late callout answer (the timeouts, at
    // 500 ms) arrive: poll the log, up to 30 s on a loaded machine.
    let ended = |log: &str| log.matches("ended; live tasks:").count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while (ended(&envoy.log()) < 10_000 || !envoy.log().contains("its stream has ended"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }

    let log = envoy.log();
    let ends: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ended; live tasks:"))
        .collect();
    assert!(
        ends.len() >= 10_000,
        "only {} streams ended:\n{}",
        ends.len(),
        log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    let last = ends.last().unwrap();
    assert!(last.ends_with("live tasks: 0, live callouts: 0"), "{last}");
    assert!(!log.contains("panicked"), "the VM panicked");
    // Late answers (timeouts) for forgotten tokens were ignored, not a panic.
    assert!(
        log.contains("its stream has ended"),
        "no late answer was seen"
    );

    // And the plugin still works.
    let resp = get(&envoy.url("/api"));
    assert_eq!(resp.status, 500, "the blackhole never issues tokens");
    assert_eq!(resp.text(), "http call failed");
}

#[test]
fn configuration_errors_use_the_seeds_messages() {
    let backend = EchoBackend::start();
    for (mut configuration, message) in [
        (config(), "missing tokenHeader in config"),
        (config(), "missing requestPath in config"),
        (config(), "invalid service config"),
        (config(), "unknown service source: consul"),
    ] {
        match message {
            "missing tokenHeader in config" => configuration["tokenHeader"] = json!(""),
            "missing requestPath in config" => {
                configuration.as_object_mut().unwrap().remove("requestPath");
            }
            "invalid service config" => configuration["servicePort"] = json!(0),
            _ => configuration["serviceSource"] = json!("consul"),
        }
        let failed = Envoy::start(
            EnvoyConfig::new("http-call", backend.port()).configuration(configuration),
        )
        .err()
        .unwrap_or_else(|| panic!("{message}: Envoy accepted the configuration"));
        let line = format!("[http-call] invalid configuration: {message}");
        assert!(
            failed.log.contains(&line),
            "no {line:?} in:\n{}",
            failed.log
        );
    }
}

/// A raw `GET /` whose `authorization` is these bytes.
fn head_with_authorization(authorization: &[u8]) -> Vec<u8> {
    let mut head =
        b"GET /raw HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\nauthorization: ".to_vec();
    head.extend_from_slice(authorization);
    head.extend_from_slice(b"\r\n\r\n");
    head
}

#[test]
fn header_bytes_that_are_not_utf8_pass_unchanged_or_not_at_all() {
    // The token service answers with a token that is not UTF-8.
    let token: &[u8] = b"\xff\xfe\x80tok";
    let mut reply =
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\nx-token: ".to_vec();
    reply.extend_from_slice(token);
    reply.extend_from_slice(b"\r\n\r\n");
    let tokens = gateway_plugin_e2e::RawServer::start(reply);
    let backend = gateway_plugin_e2e::RawServer::start(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_vec(),
    );
    let envoy = Envoy::start(
        EnvoyConfig::new("http-call", backend.port())
            .configuration(config())
            .cluster(TOKEN_CLUSTER, tokens.port())
            .wasm_log_level("debug"),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let port = envoy.port();

    // A UTF-8 credential goes to the token service as it came, and the
    // binary token reaches the backend byte for byte.
    let status =
        gateway_plugin_e2e::raw_request(port, &head_with_authorization(b"Bearer bob")).unwrap();
    assert_eq!(status, 200, "{}", envoy.log());
    let token_head = &tokens.heads()[0];
    assert!(gateway_plugin_e2e::head_has_header(
        token_head,
        "authorization",
        b"Bearer bob"
    ));
    let backend_head = &backend.heads()[0];
    assert!(
        gateway_plugin_e2e::head_has_header(backend_head, "x-token", token),
        "{}",
        String::from_utf8_lossy(backend_head)
    );

    // A credential that is not UTF-8 cannot go into a callout unchanged:
    // refused (500), never sent re-encoded.
    let status =
        gateway_plugin_e2e::raw_request(port, &head_with_authorization(b"\xff\xfe\x80bob"))
            .unwrap();
    assert_eq!(status, 500);
    assert_eq!(
        tokens.heads().len(),
        1,
        "the token service got a changed credential"
    );
    assert!(envoy
        .wait_for_log("the callout's \"authorization\" header is not UTF-8")
        .is_some());
}
