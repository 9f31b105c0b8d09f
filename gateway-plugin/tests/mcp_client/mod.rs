//! An MCP client over the test host, for the MCP suites (`mcp.rs`,
//! `mcp_rest.rs`): a POST, `initialize` for a session, a request in it, a
//! `tools/call`, and the JSON-RPC error of an answer.

// Each suite uses its own share of these.
#![allow(dead_code)]

use gateway_plugin_test::{Request, Vm};
use serde_json::{json, Value};

pub fn post(body: &Value) -> Request {
    Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
}

/// `initialize` at `version`: the session id.
pub fn initialize(vm: &Vm, version: &str) -> String {
    let resp = vm
        .request(post(&json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
        })))
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    resp.header("mcp-session-id")
        .expect("a session id")
        .to_string()
}

/// A request in session `session`: HTTP status and the JSON answer.
pub fn rpc(vm: &Vm, session: &str, body: Value) -> (u16, Value) {
    let resp = vm
        .request(post(&body).header("mcp-session-id", session))
        .unwrap();
    let json = if resp.text().is_empty() {
        Value::Null
    } else {
        resp.json()
    };
    (resp.status(), json)
}

pub fn call(vm: &Vm, session: &str, name: &str, arguments: Value) -> Value {
    let (status, answer) = rpc(
        vm,
        session,
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": name, "arguments": arguments}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], 5);
    answer
}

pub fn error_of(answer: &Value) -> (i64, String) {
    (
        answer["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error: {answer}")),
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

/// Runs `round` until the allocator has settled (its peak, its free lists:
/// 2.16 MB after the first round of 1,000 calls, 2.29 MB from the sixth
/// on), then four more rounds, which must keep nothing.
pub fn assert_memory_flat(vm: &Vm, round: impl Fn(&Vm)) {
    for _ in 0..6 {
        round(vm);
    }
    let settled = vm.memory_bytes();
    for _ in 0..4 {
        round(vm);
    }
    assert_eq!(vm.memory_bytes(), settled, "4,000 more calls kept nothing");
}
