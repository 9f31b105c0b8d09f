//! The compiled MCP server on the in-process test host (wasmtime), spoken
//! to as an MCP client would: `initialize`, then `tools/list` and
//! `tools/call` in the session. The quotes service is a closure the host
//! calls for every callout to its cluster.

use gateway_plugin_test::{Host, Request, Response, Vm};
use serde_json::{json, Value};

{{wasm_path}}

/// The Envoy cluster the sample configuration's callouts go to.
const QUOTES_CLUSTER: &str = "outbound|8080||quotes.static";

fn sample_config() -> Value {
    serde_json::from_str(include_str!("../config.json")).unwrap()
}

fn vm(quotes: impl Fn(&str) -> Response + Send + Sync + 'static) -> Vm {
    Host::load(plugin_wasm())
        .unwrap()
        // As Higress does (and Envoy with `allow_on_headers_stop_iteration`):
        // an MCP server holds each request's headers until its body is read.
        .allow_on_headers_stop_iteration()
        .cluster_fn(QUOTES_CLUSTER, move |req| quotes(req.path()))
        .configure(sample_config())
        .unwrap()
}

/// POSTs one JSON-RPC message (in `session`, if any): the response.
fn post(vm: &Vm, session: Option<&str>, message: Value) -> gateway_plugin_test::ClientResponse {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(message.to_string());
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    vm.request(req).unwrap()
}

/// `initialize`: the session id.
fn initialize(vm: &Vm) -> String {
    let resp = post(
        vm,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "test", "version": "0"}}}),
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json()["result"]["protocolVersion"], "2025-06-18");
    resp.header("mcp-session-id").expect("a session").to_string()
}

fn call(vm: &Vm, session: &str, name: &str, arguments: Value) -> Value {
    let resp = post(
        vm,
        Some(session),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": name, "arguments": arguments}}),
    );
    assert_eq!(resp.status(), 200);
    resp.json()
}

#[test]
fn lists_its_tools_with_their_schemas() {
    let vm = vm(|_| Response::new(404));
    let session = initialize(&vm);
    let resp = post(&vm, Some(&session), json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
    let tools = resp.json()["result"]["tools"].clone();
    assert_eq!(tools[0]["name"], "quote");
    assert_eq!(tools[0]["description"], "A quote on a topic, from the quotes service.");
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["topic"]));
    assert_eq!(tools[1]["name"], "add");
    assert_eq!(tools[1]["outputSchema"]["properties"]["sum"]["type"], "number");
}

#[test]
fn a_tool_calls_the_rest_service() {
    let vm = vm(|path| {
        assert_eq!(path, "/quotes?topic=courage");
        Response::new(200).body(r#"{"quote": "Be bold."}"#)
    });
    let session = initialize(&vm);
    let answer = call(&vm, &session, "quote", json!({"topic": "courage"}));
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(answer["result"]["content"][0]["text"], r#"{"quote": "Be bold."}"#);
}

#[test]
fn a_failing_service_is_a_tool_error() {
    let vm = vm(|_| Response::new(503));
    let session = initialize(&vm);
    let answer = call(&vm, &session, "quote", json!({"topic": "x"}));
    assert_eq!(answer["result"]["isError"], true);
    assert_eq!(answer["result"]["content"][0]["text"], "quotes service answered 503");
}

#[test]
fn structured_output_and_argument_errors() {
    let vm = vm(|_| Response::new(404));
    let session = initialize(&vm);
    let answer = call(&vm, &session, "add", json!({"a": 1.5, "b": 2}));
    assert_eq!(answer["result"]["structuredContent"], json!({"sum": 3.5}));
    let answer = call(&vm, &session, "add", json!({"a": "one", "b": 2}));
    assert_eq!(answer["error"]["code"], -32602);
}

#[test]
fn a_request_without_a_session_is_refused() {
    let vm = vm(|_| Response::new(404));
    let resp = post(&vm, None, json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
    assert_eq!(resp.status(), 400);
}
