//! `gateway_plugin::mcp::RestServer` on the test host, through
//! `examples/mcp-server` (Higress's `mcp-server` configuration): the tools
//! Go lists, the REST request each call makes to the route's cluster (as Go
//! renders it), the results and tool errors of the answers, and the
//! configurations Go refuses.

mod mcp_client;

use gateway_plugin_e2e::{plugin_wasm, Blackhole, RawReply};
use gateway_plugin_test::{Host, Response, UpstreamRequest, Vm};
use mcp_client::{assert_memory_flat, call, error_of, initialize, post, rpc};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The route's cluster on the test host (`Request::cluster`'s default).
const ROUTE: &str = "outbound|80||upstream";

/// Higress's style: a weather API with the key from `server.config`.
fn config() -> Value {
    json!({
        "server": {"name": "weather-rest", "config": {"apiKey": "k1"}},
        "tools": [
            {"name": "get_weather", "description": "Weather of a city",
             "args": [
                {"name": "city", "description": "City", "type": "string", "required": true},
                {"name": "days", "description": "Days", "type": "integer", "default": 3},
                {"name": "units", "description": "Units", "enum": ["metric", "imperial"]}],
             "requestTemplate": {"url": "https://api.weather.example/v1/forecast?src=mcp", "method": "GET",
                "argsToUrlParam": true, "headers": [{"key": "x-api-key", "value": "{{.config.apiKey}}"}]},
             "responseTemplate": {"body": "{{.city}}: {{range $i, $d := .days}}{{if $i}}, {{end}}{{$d.temp}}°{{end}}"}},
            {"name": "create_note", "description": "A note",
             "args": [{"name": "title", "type": "string", "position": "body"},
                      {"name": "id", "type": "integer", "position": "path"}],
             "requestTemplate": {"url": "http://notes.example/notes/{id}", "method": "PUT"},
             "errorResponseTemplate": "notes said {{gjson \"_headers.x-reason\"}}: {{.message}}",
             "outputSchema": {"type": "object"}},
            {"name": "hello", "description": "No request",
             "args": [{"name": "who", "default": "world"}],
             "responseTemplate": {"body": "hello {{.args.who}}"}}
        ]
    })
}

/// A host whose route answers with `answer`, keeping every request it got.
fn host(
    answer: impl Fn(&UpstreamRequest) -> Response + Send + Sync + 'static,
) -> (Host, Arc<Mutex<Vec<UpstreamRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    // As on Higress: an MCP server holds a request's headers for its body.
    let host = Host::load(plugin_wasm("mcp-server"))
        .unwrap_or_else(|e| panic!("{e}"))
        .allow_on_headers_stop_iteration()
        .cluster_fn(ROUTE, move |req| {
            kept.lock().unwrap().push(req.clone());
            answer(req)
        });
    (host, seen)
}

fn json_answer(body: Value) -> Response {
    Response::new(200)
        .header("content-type", "application/json")
        .body(body.to_string())
}

fn vm_with(
    answer: impl Fn(&UpstreamRequest) -> Response + Send + Sync + 'static,
) -> (Vm, Arc<Mutex<Vec<UpstreamRequest>>>) {
    let (host, seen) = host(answer);
    (
        host.configure(config()).unwrap_or_else(|e| panic!("{e}")),
        seen,
    )
}

#[test]
fn lists_the_configured_tools_with_gos_schemas() {
    let (vm, _) = vm_with(|_| Response::new(500));
    let session = initialize(&vm, "2025-06-18");
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    let tools = answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["get_weather", "create_note", "hello"]);
    assert_eq!(
        serde_json::to_string(&tools[0]["inputSchema"]).unwrap(),
        r#"{"properties":{"city":{"description":"City","type":"string"},"days":{"default":3,"description":"Days","type":"integer"},"units":{"description":"Units","enum":["metric","imperial"],"type":"string"}},"required":["city"],"type":"object"}"#
    );
    assert_eq!(tools[1]["outputSchema"], json!({"type": "object"}));
    // 2025-03-26 has no outputSchema.
    let old = initialize(&vm, "2025-03-26");
    let (_, answer) = rpc(
        &vm,
        &old,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    assert!(
        answer["result"]["tools"][1].get("outputSchema").is_none(),
        "{answer}"
    );
    // The server's name is the configuration's.
    let resp = vm
        .request(mcp_client::post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})))
        .unwrap();
    assert_eq!(resp.json()["result"]["serverInfo"]["name"], "weather-rest");
}

#[test]
fn a_call_is_the_rest_request_go_makes_and_its_answer_rendered() {
    let (vm, seen) =
        vm_with(|_| json_answer(json!({"city": "Paris", "days": [{"temp": 20}, {"temp": 18.5}]})));
    let session = initialize(&vm, "2025-06-18");
    let answer = call(
        &vm,
        &session,
        "get_weather",
        json!({"city": "Paris", "days": "2", "extra": 1}),
    );
    assert_eq!(
        answer["result"]["content"][0]["text"], "Paris: 20°, 18.5°",
        "{answer}"
    );
    assert_eq!(answer["result"]["isError"], false);
    let requests = seen.lock().unwrap();
    let req = &requests[0];
    assert_eq!(req.method(), "GET");
    // The URL's host as :authority; the query re-encoded sorted, as Go's
    // url.Values.Encode; `days` converted to 2, `extra` dropped.
    assert_eq!(req.authority(), "api.weather.example");
    assert_eq!(req.path(), "/v1/forecast?city=Paris&days=2&src=mcp");
    assert_eq!(req.header("x-api-key"), Some("k1"));
    assert_eq!(req.header("accept"), Some("*/*"));
    assert_eq!(req.body(), b"");
}

#[test]
fn body_and_path_arguments_structured_content_and_error_templates() {
    let (vm, seen) = vm_with(|req| match req.path() {
        "/notes/7" => json_answer(json!({"saved": true})),
        _ => Response::new(409)
            .header("x-reason", "conflict")
            .header("content-type", "application/json")
            .body(r#"{"message":"exists"}"#),
    });
    let session = initialize(&vm, "2025-06-18");
    let answer = call(
        &vm,
        &session,
        "create_note",
        json!({"title": "<hi>", "id": "7"}),
    );
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"saved": true}),
        "{answer}"
    );
    assert_eq!(answer["result"]["content"][0]["text"], r#"{"saved":true}"#);
    {
        let requests = seen.lock().unwrap();
        let req = &requests[0];
        assert_eq!((req.method(), req.authority()), ("PUT", "notes.example"));
        assert_eq!(req.body(), br#"{"title":"\u003chi\u003e"}"#);
        assert_eq!(
            req.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }
    let answer = call(&vm, &session, "create_note", json!({"title": "x", "id": 8}));
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(
        answer["result"]["content"][0]["text"],
        "notes said conflict: exists"
    );
}

#[test]
fn a_tool_without_a_request_answers_from_its_template() {
    let (vm, seen) = vm_with(|_| Response::new(500));
    let session = initialize(&vm, "2025-06-18");
    let answer = call(&vm, &session, "hello", json!({}));
    assert_eq!(
        answer["result"]["content"][0]["text"], "hello world",
        "{answer}"
    );
    assert!(seen.lock().unwrap().is_empty(), "no callout");
}

#[test]
fn failing_backends_and_unknown_tools_are_tool_errors_or_protocol_errors() {
    let (host, _) = host(|_| Response::new(500));
    let vm = host.cluster_timeout(ROUTE).configure(config()).unwrap();
    let session = initialize(&vm, "2025-06-18");
    let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("route failed: "), "{text}");
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "nope"}}),
    );
    assert_eq!(
        error_of(&answer),
        (-32602, "unknown tool: nope".to_string())
    );
}

#[test]
fn allow_tools_filters_the_configured_tools() {
    let (host, _) = host(|_| Response::new(200));
    let mut limited = config();
    limited["allowTools"] = json!(["get_weather", "hello"]);
    let vm = host.configure(limited).unwrap();
    let session = initialize(&vm, "2025-06-18");
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    let names: Vec<&str> = answer["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["get_weather", "hello"]);
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "create_note"}}),
    );
    assert_eq!(
        error_of(&answer),
        (-32602, "Tool not allowed: create_note".to_string())
    );
}

#[test]
fn configurations_go_refuses_are_refused_with_its_message() {
    let refused = |config: Value| {
        let (host, _) = host(|_| Response::new(200));
        let err = host.configure(config).err().expect("refused");
        err.logs().join("\n")
    };
    let logs = refused(json!({"tools": []}));
    assert!(
        logs.contains("either 'server' or 'toolSet' field must be present in the configuration"),
        "{logs}"
    );
    let logs = refused(
        json!({"server": {"name": "s"}, "tools": [{"name": "t", "requestTemplate": {"url": "http://a/{{.args.x | nope}}"}}]}),
    );
    assert!(
        logs.contains(r#"failed to add tool t: error parsing URL template: template: url:1: function "nope" not defined"#),
        "{logs}"
    );
}

/// A REST backend that answers garbage, resets or hangs: a tool error
/// (`route failed: ..`), the VM fine afterwards; an answer that is not
/// UTF-8 or not JSON reaches the template as such, never a trap.
#[test]
fn a_rest_backend_that_answers_garbage_resets_or_hangs_is_a_tool_error() {
    let garbage = RawReply::start(b"\x00\xffnot http at all\r\n\r\n");
    let reset = RawReply::start(b"");
    let hang = Blackhole::start();
    for (what, port) in [
        ("garbage", garbage.port()),
        ("reset", reset.port()),
        ("hang", hang.port()),
    ] {
        let vm = Host::load(plugin_wasm("mcp-server"))
            .unwrap()
            .allow_on_headers_stop_iteration()
            .cluster(ROUTE, &format!("127.0.0.1:{port}"))
            .configure(config())
            .unwrap();
        let session = initialize(&vm, "2025-06-18");
        let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
        assert_eq!(answer["result"]["isError"], true, "{what}: {answer}");
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(text.starts_with("route failed: "), "{what}: {text}");
        let (status, pong) = rpc(
            &vm,
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        );
        assert_eq!((status, &pong["result"]), (200, &json!({})), "{what}");
    }
    let (vm, _) = vm_with(|_| Response::new(200).body(vec![0xff, 0xfe, b'{']));
    let session = initialize(&vm, "2025-06-18");
    let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
    assert_eq!(
        answer["result"]["content"][0]["text"],
        "error executing response template: template: response: data must be a valid JSON object or array"
    );
    let answer = call(&vm, &session, "create_note", json!({"id": 1}));
    assert_eq!(
        answer["result"]["content"][0]["text"], "\u{fffd}\u{fffd}{",
        "{answer}"
    );
}

/// 1,000 interleaved calls, each its own REST request and template: every
/// caller gets its own answer, and memory is flat once the allocator has
/// settled.
#[test]
fn a_thousand_concurrent_rest_calls_each_get_their_own_answer_and_memory_stays_flat() {
    let (vm, _) = vm_with(|req| {
        let city = req
            .path()
            .split("city=")
            .nth(1)
            .unwrap_or_default()
            .split('&')
            .next()
            .unwrap_or_default();
        json_answer(json!({"city": city, "days": [{"temp": city.len()}]}))
    });
    let session = initialize(&vm, "2025-06-18");
    let round = |vm: &Vm| {
        let requests = (0..1000)
            .map(|i| {
                post(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "get_weather", "arguments": {"city": format!("c{i}")}}}))
                .header("mcp-session-id", &session)
            })
            .collect();
        let answers = vm.requests_with_seed(requests, 7).unwrap();
        for (i, resp) in answers.iter().enumerate() {
            let answer = resp.json();
            assert_eq!(answer["id"], i);
            let want = format!("c{i}: {}°", format!("c{i}").len());
            assert_eq!(answer["result"]["content"][0]["text"], want.as_str(), "{i}");
        }
    };
    assert_memory_flat(&vm, round);
}
