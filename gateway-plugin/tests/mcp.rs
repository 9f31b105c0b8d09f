//! `gateway_plugin::mcp` on the test host, through `examples/mcp-tools`:
//! every method, every protocol error of Streamable HTTP and JSON-RPC, the
//! tools' results and errors, callouts to a REST backend and a real Redis.

mod mcp_client;

use gateway_plugin_e2e::{plugin_wasm, Blackhole, RawReply, RedisServer};
use gateway_plugin_test::{Host, Request, Response, Vm};
use mcp_client::{assert_memory_flat, call, error_of, initialize, post, rpc};
use serde_json::{json, Value};

const WEATHER: &str = "outbound|80||weather.static";
const REDIS: &str = "outbound|6379||redis.static";

fn config() -> Value {
    json!({"weatherService": "weather.static", "weatherPort": 80, "apiKey": "k1"})
}

fn host() -> Host {
    // As on Higress: an MCP server holds a request's headers for its body.
    Host::load(plugin_wasm("mcp-tools"))
        .unwrap_or_else(|e| panic!("{e}"))
        .allow_on_headers_stop_iteration()
}

/// A weather backend that answers what it was asked.
fn weather_host() -> Host {
    host().cluster_fn(WEATHER, |req| {
        let body = json!({"path": req.path(), "key": req.header("x-api-key")});
        Response::new(200)
            .header("content-type", "application/json")
            .body(body.to_string())
    })
}

fn vm() -> Vm {
    weather_host().configure(config()).unwrap()
}

// ---- initialize, sessions, versions -------------------------------------------

#[test]
fn initialize_negotiates_the_version_and_issues_a_session() {
    let vm = vm();
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ] {
        let resp = vm
            .request(post(&json!({
                "jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": {"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
            })))
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let answer = resp.json();
        assert_eq!(answer["id"], "init");
        assert_eq!(answer["result"]["protocolVersion"], answered, "{asked}");
        assert_eq!(
            answer["result"]["serverInfo"],
            json!({"name": "weather", "version": "1.0.0"})
        );
        assert_eq!(
            answer["result"]["capabilities"]["tools"],
            json!({"listChanged": false})
        );
        assert_eq!(
            answer["result"]["instructions"],
            "Weather for cities, and a visit counter."
        );
        let session = resp.header("mcp-session-id").unwrap();
        assert!(session.contains(answered), "{session}");
        assert!(
            session.is_ascii() && !session.contains(' '),
            "visible ASCII: {session}"
        );
    }
    // Without `protocolVersion`: invalid params, as Go's.
    let (status, answer) = rpc(
        &vm,
        "",
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
    );
    assert_eq!(
        (status, error_of(&answer).0),
        (404, -32600),
        "an empty id is no session"
    );
    let resp = vm
        .request(post(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
        ))
        .unwrap();
    assert_eq!(error_of(&resp.json()).0, -32602);
}

#[test]
fn a_session_from_one_vm_is_good_on_another_and_forged_ones_are_404() {
    // Two VMs stand for two Envoy workers: no memory shared.
    let (a, b) = (vm(), vm());
    let session = initialize(&a, "2025-06-18");
    let (status, answer) = rpc(
        &b,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    );
    assert_eq!((status, &answer["result"]), (200, &json!({})));
    let forged = format!("{}0", &session[..session.len() - 1]);
    let forged = if forged == session {
        format!("{}1", &session[..session.len() - 1])
    } else {
        forged
    };
    for bad in [forged.as_str(), "abc", "gp1.2025-06-18.x.y"] {
        let (status, answer) = rpc(
            &b,
            bad,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        );
        assert_eq!(status, 404, "{bad}");
        assert_eq!(answer["id"], Value::Null);
        assert!(error_of(&answer).1.contains("unknown session"), "{answer}");
    }
}

#[test]
fn requests_before_initialize_are_400() {
    let vm = vm();
    for method in ["ping", "tools/list", "tools/call"] {
        let resp = vm
            .request(post(&json!({"jsonrpc": "2.0", "id": 3, "method": method})))
            .unwrap();
        assert_eq!(resp.status(), 400, "{method}");
        let answer = resp.json();
        assert_eq!(answer["id"], 3);
        assert_eq!(error_of(&answer).0, -32600);
        assert!(error_of(&answer).1.contains("initialize"), "{answer}");
    }
}

#[test]
fn notifications_and_client_responses_are_202_with_no_body() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "method": "notifications/anything"}),
        json!({"jsonrpc": "2.0", "id": 9, "result": {}}),
    ] {
        let resp = vm
            .request(post(&message).header("mcp-session-id", &session))
            .unwrap();
        assert_eq!(resp.status(), 202, "{message}");
        assert!(resp.body().is_empty());
        assert!(resp.upstream_request().is_none(), "nothing goes upstream");
    }
}

#[test]
fn protocol_version_header_is_honoured() {
    let vm = vm();
    let session = initialize(&vm, "2025-03-26");
    // A supported version: taken (here: no outputSchema before 2025-06-18).
    let resp = vm
        .request(
            post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-06-18"),
        )
        .unwrap();
    let tools = resp.json()["result"]["tools"].clone();
    assert!(tools
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t.get("outputSchema").is_some()));
    let resp = vm
        .request(
            post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "1999-01-01"),
        )
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (code, message) = error_of(&resp.json());
    assert_eq!(code, -32600);
    assert!(
        message.contains("unsupported MCP-Protocol-Version"),
        "{message}"
    );
}

#[test]
fn get_is_405_and_delete_ends_a_session() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let resp = vm
        .request(Request::get("/mcp").header("accept", "text/event-stream"))
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.header("allow"), Some("POST, DELETE"));
    let resp = vm.request(Request::put("/mcp").body("{}")).unwrap();
    assert_eq!(resp.status(), 405);
    let resp = vm
        .request(Request::delete("/mcp").header("mcp-session-id", &session))
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = vm.request(Request::delete("/mcp")).unwrap();
    assert_eq!(resp.status(), 400);
    let resp = vm
        .request(Request::delete("/mcp").header("mcp-session-id", "nope"))
        .unwrap();
    assert_eq!(resp.status(), 404);
}

// ---- JSON-RPC errors ------------------------------------------------------------------

#[test]
fn bodies_that_are_not_json_are_parse_errors_with_a_null_id() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for body in [
        "",
        "{",
        "not json",
        "{\"jsonrpc\": \"2.0\",}",
        deep.as_str(),
    ] {
        let resp = vm
            .request(
                Request::post("/mcp")
                    .header("content-type", "application/json")
                    .header("mcp-session-id", &session)
                    .body(body),
            )
            .unwrap();
        assert_eq!(resp.status(), 400, "{body:.20}");
        let answer = resp.json();
        assert_eq!(answer["id"], Value::Null);
        assert_eq!(error_of(&answer).0, -32700, "{body:.20}");
        assert_eq!(answer["jsonrpc"], "2.0");
    }
}

#[test]
fn messages_that_are_not_requests_are_invalid_requests() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    for (message, id) in [
        (
            json!({"jsonrpc": "1.0", "id": 4, "method": "ping"}),
            json!(4),
        ),
        (json!({"id": "x", "method": "ping"}), json!("x")),
        (json!({"jsonrpc": "2.0", "id": 4, "method": 12}), json!(4)),
        (
            json!({"jsonrpc": "2.0", "id": 4.5, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": true, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": 3}),
            json!(4),
        ),
        (json!("ping"), Value::Null),
        (json!(17), Value::Null),
    ] {
        let (status, answer) = rpc(&vm, &session, message.clone());
        assert_eq!(status, 400, "{message}");
        assert_eq!(answer["id"], id, "{message}");
        assert_eq!(error_of(&answer).0, -32600, "{message}");
    }
    // Ids of both allowed types come back as sent.
    for id in [
        json!("abc"),
        json!(0),
        json!(-12),
        json!(9_007_199_254_740_993u64),
    ] {
        let (_, answer) = rpc(
            &vm,
            &session,
            json!({"jsonrpc": "2.0", "id": id.clone(), "method": "ping"}),
        );
        assert_eq!(answer["id"], id);
    }
}

#[test]
fn unknown_methods_are_32601() {
    let vm = vm();
    let session = initialize(&vm, "2025-11-25");
    for method in ["resources/list", "prompts/list", "server/discover", ""] {
        let (status, answer) = rpc(
            &vm,
            &session,
            json!({"jsonrpc": "2.0", "id": 2, "method": method}),
        );
        assert_eq!(status, 200);
        assert_eq!(
            error_of(&answer),
            (-32601, format!("method not found: {method}"))
        );
    }
}

#[test]
fn batches_in_2025_03_26_and_refused_after() {
    let vm = vm();
    let old = initialize(&vm, "2025-03-26");
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "forecast", "arguments": {"days": 2}}},
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        {"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        5
    ]);
    let (status, answer) = rpc(&vm, &old, batch.clone());
    assert_eq!(status, 200);
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), 5, "one per request: {answer}");
    assert_eq!(answers[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(answers[1]["result"]["isError"], false);
    assert!(
        answers[1]["result"].get("structuredContent").is_none(),
        "not in 2025-03-26"
    );
    assert_eq!(error_of(&answers[2]).0, -32601);
    assert_eq!(error_of(&answers[3]).0, -32600, "initialize is not batched");
    assert_eq!(
        (answers[4]["id"].clone(), error_of(&answers[4]).0),
        (Value::Null, -32600)
    );
    // Only notifications: 202.
    let (status, _) = rpc(
        &vm,
        &old,
        json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]),
    );
    assert_eq!(status, 202);
    let (status, answer) = rpc(&vm, &old, json!([]));
    assert_eq!((status, error_of(&answer).0), (400, -32600));
    // 2025-06-18 removed them.
    let new = initialize(&vm, "2025-06-18");
    let (status, answer) = rpc(&vm, &new, batch);
    assert_eq!(status, 400);
    assert_eq!(error_of(&answer).0, -32600);
    assert!(error_of(&answer).1.contains("no batches"), "{answer}");
}

#[test]
fn media_types_are_checked() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    // A ping in the session with these media types.
    let ping = |content_type: &str, accept: &str| {
        let mut req = Request::post("/mcp")
            .header("content-type", content_type)
            .header("mcp-session-id", &session)
            .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string());
        if !accept.is_empty() {
            req = req.header("accept", accept);
        }
        vm.request(req).unwrap()
    };
    assert_eq!(ping("text/plain", "").status(), 415);
    assert_eq!(ping("application/json", "text/html").status(), 406);
    // A client that accepts only SSE gets the answer as one SSE event.
    let resp = ping("application/json", "text/event-stream");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        resp.text(),
        "event: message\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{}}\n\n"
    );
}

// ---- tools/list -------------------------------------------------------------------------

#[test]
fn tools_list_has_every_tool_with_its_schemas() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    let tools = answer["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["get_weather", "count_visits", "forecast", "whoami"]);
    assert!(answer["result"].get("nextCursor").is_none());
    let weather = &tools[0];
    assert_eq!(weather["description"], "Current weather for a city.");
    assert_eq!(weather["inputSchema"]["type"], "object");
    assert_eq!(weather["inputSchema"]["required"], json!(["city"]));
    assert_eq!(
        weather["inputSchema"]["properties"]["city"],
        json!({"type": "string", "description": "City name, e.g. \"suzhou\""})
    );
    assert!(weather.get("outputSchema").is_none());
    let forecast = &tools[2];
    assert_eq!(
        forecast["outputSchema"]["properties"]["celsius"]["type"],
        "array"
    );
    assert_eq!(tools[3]["inputSchema"]["type"], "object");
    // The cursor: from an index on; a bad one is invalid params.
    let (_, page) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "2"}}),
    );
    let names: Vec<&str> = page["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["forecast", "whoami"]);
    let (_, bad) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "x"}}),
    );
    assert_eq!(error_of(&bad).0, -32602);
}

#[test]
fn allow_tools_from_the_config_and_the_header() {
    let mut cfg = config();
    cfg["allowTools"] = json!(["get_weather", "forecast"]);
    let vm = weather_host().configure(cfg).unwrap();
    let session = initialize(&vm, "2025-06-18");
    let list = |header: Option<&str>| {
        let mut req = post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .header("mcp-session-id", &session);
        if let Some(header) = header {
            req = req.header("x-envoy-allow-mcp-tools", header);
        }
        let answer = vm.request(req).unwrap().json();
        answer["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(None), ["get_weather", "forecast"]);
    assert_eq!(list(Some("forecast, whoami")), ["forecast"]);
    assert_eq!(list(Some(" , ")), Vec::<String>::new());
    let answer = call(&vm, &session, "whoami", json!({}));
    assert_eq!(
        error_of(&answer),
        (-32602, "Tool not allowed: whoami".into())
    );
}

// ---- tools/call ---------------------------------------------------------------------------

#[test]
fn a_rest_tool_calls_its_backend_and_answers_its_json() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let answer = call(
        &vm,
        &session,
        "get_weather",
        json!({"city": "su zhou", "units": "metric"}),
    );
    let result = &answer["result"];
    assert_eq!(result["isError"], false);
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        text,
        json!({"path": "/weather?city=su%20zhou&units=metric", "key": "k1"})
    );
}

#[test]
fn a_failing_backend_is_a_tool_error() {
    for (what, host) in [
        ("503", host().cluster_fn(WEATHER, |_| Response::new(503))),
        ("timeout", host().cluster_timeout(WEATHER)),
        ("no cluster", host()),
    ] {
        let vm = host.configure(config()).unwrap();
        let session = initialize(&vm, "2025-06-18");
        let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
        assert_eq!(answer["result"]["isError"], true, "{what}: {answer}");
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("weather service"), "{what}: {text}");
    }
}

#[test]
fn arguments_that_do_not_match_are_invalid_params_naming_the_field() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    for (name, arguments, field) in [
        ("get_weather", json!({}), "city"),
        ("get_weather", json!({"city": 3}), "city"),
        ("get_weather", json!({"city": "x", "units": ["a"]}), "units"),
        ("forecast", json!({"days": "two"}), "days"),
        ("forecast", json!({"days": 300}), "days"),
        ("forecast", json!({"days": -1}), "days"),
        ("forecast", json!({"days": null}), "days"),
        ("forecast", json!({"days": {"n": 1}}), "days"),
    ] {
        let answer = call(&vm, &session, name, arguments.clone());
        let (code, message) = error_of(&answer);
        assert_eq!(code, -32602, "{arguments}");
        assert!(message.contains(field), "{arguments}: {message}");
    }
    for params in [
        json!({"name": "nope"}),
        json!({"arguments": {}}),
        json!({"name": 3}),
        json!({"name": "forecast", "arguments": [1]}),
    ] {
        let (_, answer) = rpc(
            &vm,
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}),
        );
        assert_eq!(error_of(&answer).0, -32602, "{params}");
    }
    let (_, answer) = rpc(
        &vm,
        &session,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "nope"}}),
    );
    assert_eq!(error_of(&answer).1, "unknown tool: nope");
}

#[test]
fn structured_results_and_tool_errors() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let answer = call(&vm, &session, "forecast", json!({"days": 2}));
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"celsius": [20.0, 20.5]})
    );
    assert_eq!(
        answer["result"]["content"][0]["text"],
        "{\"celsius\":[20.0,20.5]}"
    );
    let answer = call(&vm, &session, "forecast", json!({"days": 9}));
    assert_eq!(
        answer["result"],
        json!({"content": [{"type": "text", "text": "days must be 1 to 7, not 9"}], "isError": true})
    );
}

#[test]
fn a_tool_reads_the_mcp_requests_headers() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let resp = vm
        .request(
            post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}}))
                .header("mcp-session-id", &session)
                .header("x-user", "alice"),
        )
        .unwrap();
    assert_eq!(resp.json()["result"]["content"][0]["text"], "alice");
    let answer = call(&vm, &session, "whoami", json!({}));
    assert_eq!(answer["result"]["content"][0]["text"], "anonymous");
}

#[test]
fn a_redis_tool_counts_in_a_real_redis() {
    let redis = RedisServer::start();
    let mut cfg = config();
    cfg["redisService"] = json!("redis.static");
    cfg["redisPort"] = json!(6379);
    let with_redis = weather_host()
        .redis_cluster(REDIS, &redis.address())
        .configure(cfg)
        .unwrap();
    let session = initialize(&with_redis, "2025-06-18");
    for n in 1..=3 {
        let answer = call(
            &with_redis,
            &session,
            "count_visits",
            json!({"name": "bob"}),
        );
        assert_eq!(
            answer["result"]["content"][0]["text"],
            format!("bob visited {n} times")
        );
    }
    assert_eq!(
        redis.command(&["GET", "mcp:visits:bob"]).as_deref(),
        Some("3")
    );
    // Without Redis configured: a tool error, not a trap.
    let plain = vm();
    let session = initialize(&plain, "2025-06-18");
    let answer = call(&plain, &session, "count_visits", json!({"name": "bob"}));
    assert_eq!(answer["result"]["isError"], true);
}

// ---- hostile input ------------------------------------------------------------------------

#[test]
fn a_backend_that_answers_garbage_resets_or_hangs_is_a_tool_error() {
    let garbage = RawReply::start(b"\x00\xffnot http at all\r\n\r\n");
    let reset = RawReply::start(b"");
    let hang = Blackhole::start();
    for (what, port) in [
        ("garbage", garbage.port()),
        ("reset", reset.port()),
        ("hang", hang.port()),
    ] {
        let vm = host()
            .cluster(WEATHER, &format!("127.0.0.1:{port}"))
            .configure(config())
            .unwrap();
        let session = initialize(&vm, "2025-06-18");
        let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
        assert_eq!(answer["result"]["isError"], true, "{what}: {answer}");
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("weather service: "), "{what}: {text}");
        // The VM is fine afterwards.
        let (status, pong) = rpc(
            &vm,
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        );
        assert_eq!((status, &pong["result"]), (200, &json!({})), "{what}");
    }
    // A 200 whose body is not UTF-8: a result (lossily decoded), no trap.
    let vm = host()
        .cluster_fn(WEATHER, |_| Response::new(200).body(vec![0xff, 0xfe, b'{']))
        .configure(config())
        .unwrap();
    let session = initialize(&vm, "2025-06-18");
    let answer = call(&vm, &session, "get_weather", json!({"city": "x"}));
    assert_eq!(answer["result"]["isError"], false);
    assert_eq!(answer["result"]["content"][0]["text"], "\u{fffd}\u{fffd}{");
}

#[test]
fn a_10_mb_body_is_refused_with_a_json_rpc_error_before_it_is_read() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let huge = format!(
        "{{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\", \"params\": {{\"x\": \"{}\"}}}}",
        "a".repeat(10 * 1024 * 1024)
    );
    let resp = vm
        .request(
            Request::post("/mcp")
                .header("content-type", "application/json")
                .header("mcp-session-id", &session)
                .body(huge),
        )
        .unwrap();
    assert_eq!(resp.status(), 413);
    let answer = resp.json();
    assert_eq!(
        (answer["id"].clone(), error_of(&answer).0),
        (Value::Null, -32600)
    );
    assert!(error_of(&answer).1.contains("10485"), "{answer}");
}

#[test]
fn a_thousand_concurrent_tool_calls_each_get_their_own_answer_and_memory_stays_flat() {
    let vm = vm();
    let session = initialize(&vm, "2025-06-18");
    let round = |vm: &Vm| {
        let requests: Vec<Request> = (0..1000)
            .map(|i| {
                post(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "get_weather", "arguments": {"city": format!("c{i}")}}}))
                .header("mcp-session-id", &session)
            })
            .collect();
        // One interleaving for every round: the same peak of live streams.
        let answers = vm.requests_with_seed(requests, 7).unwrap();
        for (i, resp) in answers.iter().enumerate() {
            let answer = resp.json();
            assert_eq!(answer["id"], i);
            let text = answer["result"]["content"][0]["text"].as_str().unwrap();
            assert!(text.contains(&format!("city=c{i}\"")), "{i}: {text}");
        }
    };
    // The interleaving is the same every round, so the run is too.
    assert_memory_flat(&vm, round);
}
