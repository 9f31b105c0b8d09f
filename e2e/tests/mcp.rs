//! `examples/mcp-tools` in a real Envoy (built as `fixtures/mcp-tools-envoy`:
//! without Redis, which upstream Envoy lacks), driven by a client nobody here
//! wrote: the official MCP Python SDK (`e2e/mcp_client.py`, installed by
//! `scripts/setup` into `.tools/mcp-client`) connects in its default mode
//! (a `server/discover` probe, then the `initialize` handshake) and in
//! `legacy` mode, lists the tools and calls them: a REST tool through a
//! cluster to a real backend, structured output checked by the SDK against
//! the `outputSchema`, tool errors, invalid arguments, an unknown tool. Then
//! the protocol errors Envoy must carry as the plugin sends them.

use gateway_plugin_e2e::{request, workspace_root, EchoBackend, Envoy, EnvoyConfig};
use serde_json::{json, Value};
use std::process::Command;

const WEATHER: &str = "outbound|80||weather.static";

fn start(weather: &EchoBackend, upstream: &EchoBackend) -> Envoy {
    Envoy::start(
        EnvoyConfig::new("mcp-tools-envoy", upstream.port())
            // As Higress has it: the MCP request's headers wait for its body.
            .allow_on_headers_stop_iteration(true)
            .configuration(json!({
                "weatherService": "weather.static", "weatherPort": 80, "apiKey": "k1"
            }))
            .cluster(WEATHER, weather.port()),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log))
}

/// Runs the SDK's client: its report.
fn python_client(url: &str, mode: &str, calls: Value) -> Value {
    let root = workspace_root();
    let out = Command::new("python3")
        .arg(root.join("e2e/mcp_client.py"))
        .args([url, mode, &calls.to_string()])
        .env("PYTHONPATH", root.join(".tools/mcp-client"))
        .output()
        .expect("run python3 (scripts/setup installs the MCP SDK)");
    assert!(
        out.status.success(),
        "the MCP client failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn the_official_python_client_lists_and_calls_the_tools() {
    let (weather, upstream) = (EchoBackend::start(), EchoBackend::start());
    let envoy = start(&weather, &upstream);
    let calls = json!([
        ["get_weather", {"city": "su zhou"}],
        ["forecast", {"days": 3}],
        ["forecast", {"days": 9}],
        ["forecast", {"days": "two"}],
        ["no_such_tool", {}],
        ["whoami", {}],
    ]);
    for mode in ["auto", "legacy"] {
        let report = python_client(&envoy.url("/mcp"), mode, calls.clone());
        assert_eq!(report["protocolVersion"], "2025-11-25", "{mode}: {report}");
        assert_eq!(report["serverInfo"]["name"], "weather");
        assert_eq!(report["serverInfo"]["version"], "1.0.0");
        assert_eq!(
            report["instructions"],
            "Weather for cities, and a visit counter."
        );
        let names: Vec<&str> = report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["get_weather", "count_visits", "forecast", "whoami"]);
        assert_eq!(
            report["tools"][0]["inputSchema"]["properties"]["city"]["type"],
            "string"
        );

        let results = report["calls"].as_array().unwrap();
        // The REST tool: the backend got the city and the configured key.
        let weather_text = results[0]["result"]["content"][0]["text"].as_str().unwrap();
        let echo: Value = serde_json::from_str(weather_text).unwrap();
        assert_eq!(echo["path"], "/weather?city=su%20zhou", "{mode}: {echo}");
        assert_eq!(echo["headers"]["x-api-key"], "k1");
        assert_eq!(results[0]["result"]["isError"], false);
        // Structured content the SDK validated against the outputSchema.
        assert_eq!(
            results[1]["result"]["structuredContent"],
            json!({"celsius": [20.0, 20.5, 21.0]})
        );
        // A tool error is a result, with the message.
        assert_eq!(results[2]["result"]["isError"], true);
        assert_eq!(
            results[2]["result"]["content"][0]["text"],
            "days must be 1 to 7, not 9"
        );
        // Protocol errors reach the SDK as MCPError with the spec's code.
        assert_eq!(
            results[3]["error"]["code"], -32602,
            "{mode}: {}",
            results[3]
        );
        assert!(results[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("days"));
        assert_eq!(
            results[4]["error"],
            json!({"code": -32602, "message": "unknown tool: no_such_tool"})
        );
        assert_eq!(results[5]["result"]["content"][0]["text"], "anonymous");
    }
    assert_eq!(upstream.requests(), 0, "an MCP server answers itself");
    assert!(weather.requests() >= 2);
}

/// Sends a POST's headers announcing `length` bytes, and no body: the
/// answer, whole (Envoy closes the connection after it).
fn headers_only(port: u16, session: &str, length: usize) -> String {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         mcp-session-id: {session}\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn protocol_errors_through_envoy() {
    let (weather, upstream) = (EchoBackend::start(), EchoBackend::start());
    let envoy = start(&weather, &upstream);
    let url = envoy.url("/mcp");
    let json_headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let resp = request("POST", &url, &json_headers, init.to_string().as_bytes()).unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let session = resp
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    let mut headers = json_headers.to_vec();
    headers.push(("mcp-session-id", &session));

    let resp = request("POST", &url, &headers, b"{not json").unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["code"], -32700);
    assert_eq!(resp.json()["id"], Value::Null);

    // No body at all: Envoy ends the stream with the headers, and the
    // headers phase answers (`has_request_body`).
    let resp = request("POST", &url, &headers, b"").unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["code"], -32700);

    // A body announced larger than the server reads: refused at the headers
    // with a JSON-RPC error, before Envoy buffers it (its own limit, 1 MiB,
    // would answer a plain 413).
    // (Only the headers are sent: the answer comes before any of the body.)
    let answer = headers_only(envoy.port(), &session, 5 * 1024 * 1024);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], -32600, "{answer}");

    // Higress's header narrows the tools: Envoy passes it to the plugin.
    let mut narrowed = headers.clone();
    narrowed.push(("x-envoy-allow-mcp-tools", "forecast, whoami"));
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let resp = request("POST", &url, &narrowed, list.as_bytes()).unwrap();
    let names: Vec<Value> = resp.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("forecast"), json!("whoami")]);

    let body = json!({"jsonrpc": "2.0", "id": "x", "method": "nope"}).to_string();
    let resp = request("POST", &url, &headers, body.as_bytes()).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["error"]["code"], -32601);
    assert_eq!(resp.json()["id"], "x");

    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]);
    let resp = request("POST", &url, &headers, batch.to_string().as_bytes()).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.json().as_array().map(Vec::len),
        Some(2),
        "2025-03-26 has batches"
    );

    let body = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    let resp = request("POST", &url, &headers, body.as_bytes()).unwrap();
    assert_eq!(resp.status, 202);
    assert!(resp.body.is_empty());

    // A client that accepts only SSE: the answer as one event, through Envoy.
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}).to_string();
    let sse_only = [
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
        ("mcp-session-id", session.as_str()),
    ];
    let resp = request("POST", &url, &sse_only, ping.as_bytes()).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        resp.text(),
        "event: message\ndata: {\"id\":7,\"jsonrpc\":\"2.0\",\"result\":{}}\n\n"
    );

    let resp = request("GET", &url, &[("accept", "text/event-stream")], b"").unwrap();
    assert_eq!(resp.status, 405);
    let resp = request("DELETE", &url, &[("mcp-session-id", &session)], b"").unwrap();
    assert_eq!(resp.status, 200);
    let resp = request(
        "POST",
        &url,
        &[
            ("content-type", "application/json"),
            ("mcp-session-id", "forged"),
        ],
        b"{}",
    )
    .unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(upstream.requests(), 0);
}
