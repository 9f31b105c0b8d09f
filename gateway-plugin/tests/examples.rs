//! The examples' behaviour, on the in-process host: fast, no gateway. (What
//! only a real gateway shows stays in `e2e/`, against Envoy.)

use gateway_plugin_e2e::{plugin_wasm, TokenMode, TokenService};
use gateway_plugin_test::{Error, Host, Request, Response};
use serde_json::json;

fn host(example: &str) -> Host {
    Host::load(plugin_wasm(example)).unwrap_or_else(|e| panic!("{e}"))
}

// ---- hello-world ----------------------------------------------------------------

#[test]
fn hello_world_answers_every_request_itself() {
    let vm = host("hello-world")
        .configure(serde_json::Value::Null)
        .unwrap();
    for req in [Request::get("/"), Request::post("/x").body("ignored")] {
        let resp = vm.request(req).unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text(), "hello world");
        assert!(resp.upstream_request().is_none(), "nothing goes upstream");
    }
}

#[test]
fn hello_world_takes_no_configuration_but_tolerates_an_empty_one() {
    host("hello-world").configure(json!({})).unwrap();
    let err = host("hello-world")
        .configure(json!({"x": 1}))
        .err()
        .expect("refused");
    let line = "error [hello-world] invalid configuration: this plugin takes no configuration";
    assert!(err.logs().iter().any(|l| l.starts_with(line)), "{err}");
}

// ---- my-plugin ------------------------------------------------------------------

#[test]
fn my_plugin_adds_a_header_to_the_upstream_request() {
    let vm = host("my-plugin")
        .configure(json!({"mockEnable": false}))
        .unwrap();
    let resp = vm.request(Request::get("/path").header("a", "b")).unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().expect("went upstream");
    assert_eq!(upstream.header("hello"), Some("world"));
    assert_eq!(upstream.header("a"), Some("b"));
    assert_eq!(upstream.path(), "/path");
    // The default upstream echoes what it got.
    assert_eq!(resp.json()["headers"]["hello"], "world");
}

#[test]
fn my_plugin_mocks_the_answer() {
    let vm = host("my-plugin")
        .configure(json!({"mockEnable": true}))
        .unwrap();
    let resp = vm.request(Request::post("/").body("a body")).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "hello world");
    assert!(resp.upstream_request().is_none());
}

#[test]
fn my_plugin_defaults_to_no_mock_on_an_empty_configuration() {
    let vm = host("my-plugin")
        .configure(serde_json::Value::Null)
        .unwrap();
    assert!(vm
        .request(Request::get("/"))
        .unwrap()
        .upstream_request()
        .is_some());
}

#[test]
fn my_plugin_refuses_a_bad_configuration_naming_the_field() {
    let err = host("my-plugin")
        .configure(json!({"mockEnable": "yes"}))
        .err()
        .expect("refused");
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    let line = "[my-plugin] invalid configuration at mockEnable: invalid type: string \"yes\", expected a boolean";
    assert!(err.logs().iter().any(|l| l.ends_with(line)), "{err}");
}

// ---- body-rewrite -----------------------------------------------------------------

fn body_rewrite() -> Host {
    host("body-rewrite").upstream(|req| {
        Response::new(200)
            .header("content-type", "application/json")
            .body(json!({"seen": req.text(), "status": "ok"}).to_string())
    })
}

#[test]
fn body_rewrite_rewrites_the_request_body_and_checks_the_response() {
    let vm = body_rewrite()
        .configure(json!({"field": "added", "value": {"x": true}, "marker": "ok"}))
        .unwrap();
    // Delivered in 4-byte pieces: the plugin buffers until the end.
    let resp = vm
        .request(Request::post("/").body(r#"{"a": 1}"#).chunked(4))
        .unwrap();
    assert_eq!(resp.status(), 200);
    let upstream = resp.upstream_request().unwrap();
    let sent: serde_json::Value = serde_json::from_slice(upstream.body()).unwrap();
    assert_eq!(sent, json!({"a": 1, "added": {"x": true}}));
    assert_eq!(
        upstream.header("content-length"),
        None,
        "the body's length changed"
    );
    assert_eq!(resp.header("x-plugin"), Some("body-rewrite"));
    assert_eq!(resp.json()["bodyCheck"], "found");
}

#[test]
fn body_rewrite_answers_400_to_a_body_that_is_not_json() {
    let vm = body_rewrite()
        .configure(json!({"field": "f", "value": 1}))
        .unwrap();
    let resp = vm.request(Request::post("/").body("not json")).unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text(), "body must be a JSON object");
    assert!(resp.upstream_request().is_none());
}

#[test]
fn body_rewrite_skips_the_body_handler_without_a_body() {
    let vm = body_rewrite()
        .log_level("debug")
        .configure(json!({"field": "f", "value": 1, "marker": "nope"}))
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.upstream_request().unwrap().body(), b"");
    assert_eq!(resp.json()["bodyCheck"], "missing");
    assert!(
        !vm.logs().iter().any(|l| l.contains("request body:")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn logs_carry_the_plugin_name_and_follow_the_hosts_level() {
    let config = json!({"field": "f", "value": 1});
    let vm = body_rewrite()
        .log_level("debug")
        .configure(config.clone())
        .unwrap();
    vm.request(Request::post("/").body("{}")).unwrap();
    let logs = vm.logs();
    assert!(
        logs.contains(&"debug [body-rewrite] request body: 2 bytes".to_string()),
        "{logs:?}"
    );
    assert!(
        logs.contains(&"info [body-rewrite] done: POST rewritten=true".to_string()),
        "{logs:?}"
    );

    let vm = body_rewrite().log_level("warn").configure(config).unwrap();
    vm.request(Request::post("/").body("{}")).unwrap();
    assert_eq!(vm.logs(), Vec::<String>::new());
}

// ---- http-call ----------------------------------------------------------------------

const TOKEN_CLUSTER: &str = "outbound|8080||token.static";

fn http_call_config() -> serde_json::Value {
    json!({
        "serviceSource": "ip",
        "serviceName": "token",
        "servicePort": 8080,
        "requestPath": "/issue?scope=api",
        "tokenHeader": "x-token",
    })
}

#[test]
fn http_call_copies_the_token_from_a_real_service() {
    let tokens = TokenService::start(TokenMode::Issue);
    let vm = host("http-call")
        .cluster(TOKEN_CLUSTER, &format!("127.0.0.1:{}", tokens.port()))
        .configure(http_call_config())
        .unwrap();
    let resp = vm
        .request(Request::get("/api").header("authorization", "Bearer alice"))
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.upstream_request().unwrap().header("x-token"),
        Some("token-for-Bearer alice")
    );
    assert_eq!(tokens.requests(), 1);
    assert_eq!(tokens.authorizations(), vec!["Bearer alice".to_string()]);
}

#[test]
fn http_call_sends_the_configured_path_and_authority() {
    let vm = host("http-call")
        .cluster_fn(TOKEN_CLUSTER, |req| {
            assert_eq!(req.method(), "GET");
            assert_eq!(req.path(), "/issue?scope=api");
            assert_eq!(req.authority(), "token");
            Response::new(200).header("x-token", "t1")
        })
        .configure(http_call_config())
        .unwrap();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(
        resp.upstream_request().unwrap().header("x-token"),
        Some("t1")
    );
}

#[test]
fn http_call_answers_500_when_the_call_fails() {
    for (name, host) in [
        (
            "503",
            host("http-call").cluster_fn(TOKEN_CLUSTER, |_| Response::new(503)),
        ),
        ("timeout", host("http-call").cluster_timeout(TOKEN_CLUSTER)),
        ("unknown cluster", host("http-call")),
        (
            "not listening",
            host("http-call").cluster(
                TOKEN_CLUSTER,
                &format!("127.0.0.1:{}", gateway_plugin_e2e::free_port()),
            ),
        ),
    ] {
        let vm = host.configure(http_call_config()).unwrap();
        let resp = vm.request(Request::get("/")).unwrap();
        assert_eq!(resp.status(), 500, "{name}");
        assert_eq!(resp.text(), "http call failed", "{name}");
        assert!(resp.upstream_request().is_none(), "{name}");
        assert!(
            vm.logs()
                .iter()
                .any(|l| l.starts_with("error [http-call] http call failed")),
            "{name}: {:?}",
            vm.logs()
        );
    }
}

#[test]
fn http_call_refuses_configurations_with_the_seeds_messages() {
    let mut missing_path = http_call_config();
    missing_path.as_object_mut().unwrap().remove("requestPath");
    for (config, message) in [
        (
            json!({"requestPath": "/x"}),
            "missing tokenHeader in config",
        ),
        (missing_path, "missing requestPath in config"),
        (
            json!({"tokenHeader": "t", "requestPath": "/", "serviceName": "s", "servicePort": 0}),
            "invalid service config",
        ),
        (
            json!({"tokenHeader": "t", "requestPath": "/", "serviceName": "s", "servicePort": 1, "serviceSource": "consul"}),
            "unknown service source: consul",
        ),
    ] {
        let err = host("http-call").configure(config).err().expect(message);
        let line = format!("error [http-call] invalid configuration: {message}");
        assert!(err.logs().contains(&line), "{err}");
    }
}
