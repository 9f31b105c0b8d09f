//! The executor behind `async` handlers, under what a gateway rarely shows
//! on demand: many streams interleaved in a seeded random order, streams
//! that end mid-callout, late answers, a plugin that panics. The plugin is
//! the `callout-chain` fixture (`fixtures/callout-chain`): chained and
//! zipped callouts in every phase, tokens that name who they were for.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Error, Host, Request, Response};

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

/// The token service, in-process: `token-for-<authorization>`.
fn chain_host() -> Host {
    Host::load(plugin_wasm("callout-chain"))
        .unwrap()
        .cluster_fn(TOKEN_CLUSTER, |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("token-for-{who}"))
        })
        .log_level("debug")
}

fn check_chained(i: usize, resp: &gateway_plugin_test::ClientResponse) {
    assert_eq!(resp.status(), 200, "stream {i}: {}", resp.text());
    let upstream = resp.upstream_request().expect("went upstream");
    assert_eq!(
        upstream.header("x-chain"),
        Some(format!("token-for-token-for-user-{i}").as_str())
    );
    assert_eq!(
        upstream.header("x-zip"),
        Some(format!("token-for-a:user-{i},token-for-b:user-{i}").as_str())
    );
    assert_eq!(
        upstream.text(),
        format!("hello-{i};token-for-body:user-{i}")
    );
    assert_eq!(
        resp.header("x-response-token"),
        Some(format!("token-for-resp:user-{i}").as_str())
    );
    assert!(
        resp.text()
            .ends_with(&format!("\n#token-for-respbody:user-{i}")),
        "{}",
        resp.text()
    );
}

fn last_count_line(logs: &[String]) -> String {
    logs.iter()
        .rev()
        .find(|l| l.contains("ended; live tasks:"))
        .cloned()
        .unwrap_or_default()
}

#[test]
fn interleaved_streams_each_get_their_own_answers() {
    let vm = chain_host().configure(serde_json::Value::Null).unwrap();
    let mut requests: Vec<Request> = (0..100)
        .map(|i| {
            Request::post(&format!("/chain/{i}"))
                .header("authorization", &format!("user-{i}"))
                .body(format!("hello-{i}"))
                .chunked(3)
        })
        .collect();
    // And streams whose clients hang up mid-callout, in between.
    requests.extend((0..20).map(|j| {
        Request::get("/gone")
            .header("authorization", &format!("gone-{j}"))
            .hang_up_when_paused()
    }));

    let responses = vm.requests(requests).unwrap();

    for (i, resp) in responses.iter().take(100).enumerate() {
        check_chained(i, resp);
    }
    assert!(responses[100..]
        .iter()
        .all(|r| r.hung_up() && r.status() == 0));
    // Every answer was delivered (stream-done callouts too, after their
    // streams ended); one more stream, without callouts, reports what is
    // still alive: nothing.
    vm.request(Request::get("/last")).unwrap();
    let logs = vm.logs();
    assert!(
        last_count_line(&logs).ends_with("live tasks: 0, live callouts: 0"),
        "{}",
        last_count_line(&logs)
    );
    assert!(!logs.iter().any(|l| l.contains("panicked")));
}

#[test]
fn the_same_seed_replays_the_same_interleaving() {
    let run = |seed| {
        let vm = chain_host().configure(serde_json::Value::Null).unwrap();
        let requests = (0..10)
            .map(|i| Request::get("/").header("authorization", &format!("user-{i}")))
            .collect();
        vm.requests_with_seed(requests, seed).unwrap();
        vm.logs()
            .into_iter()
            .filter(|l| l.contains("ended;"))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8), "different seeds, different orders");
}

#[test]
fn a_stream_dropped_mid_callout_leaves_nothing_and_its_late_answer_is_ignored() {
    let vm = chain_host().configure(serde_json::Value::Null).unwrap();
    let resp = vm
        .request(
            Request::get("/")
                .header("authorization", "alice")
                .hang_up_when_paused(),
        )
        .unwrap();
    assert!(resp.hung_up());
    assert!(resp.upstream_request().is_none());
    let logs = vm.logs();
    // The stream ended while its task waited: task and callout dropped...
    let line = last_count_line(&logs);
    assert!(
        line.ends_with("live tasks: 0, live callouts: 0"),
        "{logs:?}"
    );
    // ...and the answer, which came after, found nobody.
    let end = logs
        .iter()
        .position(|l| l.contains("ended; live tasks"))
        .unwrap();
    assert!(
        logs[end..]
            .iter()
            .any(|l| l.contains("its stream has ended")),
        "no late answer after the end: {logs:?}"
    );
    // The plugin carries on.
    check_chained(
        7,
        &vm.request(
            Request::post("/")
                .header("authorization", "user-7")
                .body("hello-7"),
        )
        .unwrap(),
    );
}

#[test]
fn a_panicking_plugin_is_a_trap_with_its_message_and_the_host_recovers() {
    let vm = chain_host().configure(serde_json::Value::Null).unwrap();
    let err = vm.request(Request::get("/panic")).expect_err("a trap");
    match &err {
        Error::Trap {
            callback, message, ..
        } => {
            assert!(callback.starts_with("proxy_on_request_headers"), "{err}");
            assert!(message.contains("asked to panic"), "{err}");
        }
        other => panic!("not a trap: {other}"),
    }
    // A new VM takes over, configured as before.
    let resp = vm
        .request(Request::get("/").header("authorization", "bob"))
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.upstream_request().unwrap().header("x-chain"),
        Some("token-for-token-for-bob")
    );
}

#[test]
fn a_callout_answer_that_never_comes_is_a_timeout_not_a_hang() {
    let vm = Host::load(plugin_wasm("callout-chain"))
        .unwrap()
        .cluster_timeout(TOKEN_CLUSTER)
        .configure(serde_json::Value::Null)
        .unwrap();
    let resp = vm
        .request(Request::get("/").header("authorization", "carol"))
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert!(resp.text().starts_with("first: "), "{}", resp.text());
}

#[test]
fn unknown_imports_and_missing_exports_are_load_errors() {
    // (module (import "env" "proxy_nope" (func)))
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
    wasm.extend_from_slice(&[2, 18, 1, 3]);
    wasm.extend_from_slice(b"env");
    wasm.push(10);
    wasm.extend_from_slice(b"proxy_nope");
    wasm.extend_from_slice(&[0, 0]);
    let err = Host::from_bytes(&wasm).err().expect("refused");
    assert!(
        matches!(&err, Error::UnknownImport { module, name } if module == "env" && name == "proxy_nope"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the plugin imports `env.proxy_nope`, which this proxy-wasm host does not provide"
    );

    // (module): no memory, no proxy-wasm exports.
    let err = Host::from_bytes(b"\0asm\x01\0\0\0").err().expect("refused");
    assert!(matches!(err, Error::MissingExport { .. }), "{err}");

    let err = Host::load("/nonexistent/plugin.wasm")
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .starts_with("cannot load /nonexistent/plugin.wasm: "),
        "{err}"
    );
}

/// `Vm::profile` accounts for every instruction a request costs: the
/// exports' instructions add up to the streams' fuel, and each awaited
/// callout shows as a `proxy_on_http_call_response` with its host calls.
#[test]
fn the_profile_adds_up_to_the_requests_fuel() {
    let vm = chain_host().configure(serde_json::Value::Null).unwrap();
    vm.request(
        Request::post("/warm")
            .header("authorization", "user-0")
            .body("hello-0"),
    )
    .unwrap();
    vm.reset_profile();
    assert!(vm.profile().is_empty());
    let mut fuel = 0;
    for i in 1..=5 {
        let resp = vm
            .request(
                Request::post("/p")
                    .header("authorization", &format!("user-{i}"))
                    .body(format!("hello-{i}")),
            )
            .unwrap();
        check_chained(i, &resp);
        fuel += resp.fuel();
    }
    let profile = vm.profile();
    let total: u64 = profile.iter().map(|cost| cost.instructions).sum();
    assert_eq!(total, fuel, "{profile:?}");
    // Sorted, most instructions first.
    assert!(profile
        .windows(2)
        .all(|w| w[0].instructions >= w[1].instructions));
    let by_name = |name: &str| profile.iter().find(|cost| cost.export == name).cloned();
    let headers = by_name("proxy_on_request_headers").expect("request headers");
    assert_eq!(headers.calls, 5);
    assert!(headers.host_calls >= 5, "{headers:?}");
    let answers = by_name("proxy_on_http_call_response").expect("callout answers");
    // Every callout of the chain is answered through the root: several per
    // request, each reading the answer and making host calls.
    assert!(answers.calls >= 10, "{answers:?}");
    assert!(answers.host_calls >= answers.calls, "{answers:?}");
}
