//! `examples/mcp-server` (Higress's `mcp-server` plugin) in a real Envoy,
//! loaded with five of Higress's own REST-to-MCP definitions
//! (`e2e/mcp-servers/*.json`, unchanged) and driven by the official MCP
//! Python SDK: the tools Go lists, calls that become the REST requests Go
//! makes (through the route's cluster, the URL's host as `:authority`) to
//! a fake of each API, the answers rendered by the files' templates, and
//! the files' own template bugs as Go's engine has them.

use gateway_plugin_e2e::{workspace_root, Envoy, EnvoyConfig, RawReply};
use serde_json::{json, Value};
use std::process::Command;

/// An HTTP answer of this JSON, as a fake API sends it.
fn json_reply(body: Value) -> &'static [u8] {
    let body = body.to_string();
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(reply.into_bytes().into_boxed_slice())
}

/// Higress's definition `name` in Envoy in front of a fake API answering
/// `answer`; the SDK's report of `calls`, and what the API received.
fn serve(name: &str, answer: Value, calls: Value) -> (Value, Vec<String>) {
    let api = RawReply::start(json_reply(answer));
    let envoy = Envoy::start(
        EnvoyConfig::new("mcp-server", api.port())
            .allow_on_headers_stop_iteration(true)
            .configuration(definition(name)),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let report = python_client(&envoy.url("/mcp"), calls);
    (report, api.received())
}

fn text_of(report: &Value, call: usize) -> &str {
    report["calls"][call]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"))
}

/// What a received request's head and body are.
fn split(request: &str) -> (String, &str) {
    let (head, body) = request.split_once("\r\n\r\n").unwrap_or((request, ""));
    (head.to_ascii_lowercase(), body)
}

#[test]
fn higress_firecrawl_yuque_github_and_notion_definitions_as_go() {
    // firecrawl: argsToJsonBody, the defaults in the body, an `if` answer.
    let (report, received) = serve(
        "mcp-firecrawl",
        json!({"success": true, "links": ["https://a.example/", "https://a.example/b"]}),
        json!([["map", {"url": "https://a.example"}]]),
    );
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(10),
        "{report}"
    );
    assert_eq!(
        text_of(&report, 0),
        "\n成功: true\n链接: [\"https://a.example/\",\"https://a.example/b\"]\n"
    );
    let (head, body) = split(&received[0]);
    assert!(head.starts_with("post /v1/map http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nhost: api.firecrawl.dev\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: application/json; charset=utf-8\r\n"),
        "{head}"
    );
    assert_eq!(
        body,
        r#"{"ignoreSitemap":true,"includeSubdomains":false,"limit":5000,"sitemapOnly":false,"url":"https://a.example"}"#
    );

    // yuque: path and query positions, the config's header, prependBody.
    let (report, received) = serve(
        "mcp-yuque",
        json!({"data": []}),
        json!([["doc_api_v2_doc_list", {"group_login": "team", "book_slug": "handbook", "limit": "10"}]]),
    );
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(25),
        "{report}"
    );
    assert!(
        text_of(&report, 0).starts_with("# API Response Information"),
        "{report}"
    );
    assert!(text_of(&report, 0).ends_with(r#"{"data":[]}"#), "{report}");
    let (head, _) = split(&received[0]);
    assert!(
        head.starts_with("get /api/v2/repos/team/handbook/docs?limit=10 http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nhost: www.yuque.com\r\n"), "{head}");

    // github: a body template with `toJson` of arrays (a quoted string, as
    // in Go) and a missing `milestone` (so not JSON: no Content-Type added);
    // without `assignees` the piped `toJson` has no argument: a tool error.
    let (report, received) = serve(
        "mcp-github",
        json!({"number": 7}),
        json!([
            ["create_issue", {"owner": "o", "repo": "r", "title": "T", "assignees": ["me"], "labels": ["bug"]}],
            ["create_issue", {"owner": "o", "repo": "r", "title": "T"}],
        ]),
    );
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(26),
        "{report}"
    );
    assert_eq!(text_of(&report, 0), r#"{"number":7}"#);
    let (head, body) = split(&received[0]);
    assert!(
        head.starts_with("post /repos/o/r/issues http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\naccept: application/vnd.github+json\r\n"),
        "{head}"
    );
    assert!(!head.contains("content-type: application/json"), "{head}");
    assert!(body.contains(r#""labels": "[\"bug\"]","#), "{body}");
    assert!(body.contains(r#""milestone": "#), "{body}");
    assert_eq!(report["calls"][1]["result"]["isError"], true, "{report}");
    assert!(
        text_of(&report, 1).starts_with("error executing body template: "),
        "{report}"
    );
    assert_eq!(received.len(), 1, "the failed call sent nothing");

    // notion: argsToUrlParam with a default, `len` and `range` answers.
    let (report, received) = serve(
        "mcp-notion",
        json!({"results": [{"name": "Ann", "type": "person", "last_edited_time": "2026-01-02"}]}),
        json!([["listUsers", {}]]),
    );
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(15),
        "{report}"
    );
    assert_eq!(
        text_of(&report, 0),
        "用户列表(共1项)\n### Ann\n- 类型: person\n- 最后编辑时间: 2026-01-02\n"
    );
    let (head, _) = split(&received[0]);
    assert!(
        head.starts_with("get /v1/users?page_size=100 http/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nnotion-version: 2022-06-28\r\n"),
        "{head}"
    );
}

/// The fake API's answer: OpenWeather's fields for both tools (the
/// current weather, and a forecast `list`).
fn weather_answer() -> &'static [u8] {
    let body = serde_json::json!({
        "weather": [{"description": "light rain"}], "main": {"temp": 21.5, "humidity": 80}, "wind": {"speed": 3.1},
        "list": [{"dt_txt": "2026-12-08 12:00:00", "weather": [{"description": "rain"}],
                  "main": {"temp_min": 18, "temp_max": 22, "humidity": 81}, "wind": {"speed": 2}}]
    })
    .to_string();
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(reply.into_bytes().into_boxed_slice())
}

fn definition(name: &str) -> Value {
    let path = workspace_root()
        .join("e2e/mcp-servers")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Runs the SDK's client (e2e/mcp_client.py): its report.
fn python_client(url: &str, calls: Value) -> Value {
    let root = workspace_root();
    let out = Command::new("python3")
        .arg(root.join("e2e/mcp_client.py"))
        .args([url, "legacy", &calls.to_string()])
        .env("PYTHONPATH", root.join(".tools/mcp-client"))
        .output()
        .expect("run python3 (scripts/setup installs the MCP SDK)");
    assert!(
        out.status.success(),
        "the MCP client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn higress_openweather_definition_lists_calls_and_renders_as_go() {
    let api = RawReply::start(weather_answer());
    let envoy = Envoy::start(
        EnvoyConfig::new("mcp-server", api.port())
            .allow_on_headers_stop_iteration(true)
            .configuration(definition("mcp-openweather")),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let report = python_client(
        &envoy.url("/mcp"),
        json!([["get_weather", {"city": "suzhou"}], ["get_weather_forecast", {"city": "suzhou", "days": "2"}]]),
    );
    assert_eq!(report["serverInfo"]["name"], "weather-server", "{report}");
    let tools = report["tools"].as_array().unwrap();
    assert_eq!(
        tools.iter().map(|t| t["name"].clone()).collect::<Vec<_>>(),
        [json!("get_weather"), json!("get_weather_forecast")]
    );
    // The schema Go's InputSchema builds from the file's args.
    assert_eq!(
        tools[1]["inputSchema"],
        json!({"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string", "description": "城市名称（支持中文或英文，如：苏州、suzhou）"},
            "days": {"type": "integer", "default": 5, "description": "预报天数（最多5天）"},
            "units": {"type": "string", "default": "metric", "description": "温度单位 (metric: 摄氏度, imperial: 华氏度)"},
            "lang": {"type": "string", "default": "zh_cn", "description": "返回语言 (zh_cn: 中文, en: 英文)"}}})
    );

    // get_weather: the fake API's answer through the file's template (its
    // `.args.city` is empty in a response template, as in Go).
    let calls = report["calls"].as_array().unwrap();
    let text = calls[0]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    let rendered: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(
        rendered,
        json!({"description": "light rain", "temperature": 21.5, "humidity": 80, "wind_speed": 3.1, "city": ""})
    );
    // The request Go makes: defaults filled in, the query sorted, the host
    // from the URL, the header from server.config. The MCP requests
    // themselves never reach the route's upstream (which answers at once).
    let received = api.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let first = &received[0];
    assert!(
        first.starts_with("GET /data/2.5/weather?city=suzhou&lang=zh_cn&units=metric HTTP/1.1\r\n"),
        "{first}"
    );
    let head = first.to_ascii_lowercase();
    assert!(
        head.contains("\r\nhost: api.openweathermap.org\r\n"),
        "{first}"
    );
    assert!(head.contains("\r\naccept: */*\r\n"), "{first}");
    // get_weather_forecast: the file's `(index $item.weather0)` fails as
    // Go's engine fails it, a tool error (the call went out: days=2).
    assert_eq!(calls[1]["result"]["isError"], true, "{report}");
    let error = calls[1]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        error.starts_with("error executing response template: "),
        "{error}"
    );
    assert!(
        error.ends_with("wrong number of args for index: want at least 2 got 1"),
        "{error}"
    );
    assert!(
        received[1]
            .starts_with("GET /data/2.5/forecast?city=suzhou&days=2&lang=zh_cn&units=metric "),
        "{}",
        received[1]
    );
}

/// What templates take from the gateway, in Envoy's V8: the clock (`now`,
/// WASI's clock), randomness (`uuidv4`, WASI's random) and the peer's
/// address (`getSocketIP`, the property `source.address`).
#[test]
fn templates_read_the_clock_randomness_and_the_peer_in_envoy() {
    let api = RawReply::start(json_reply(json!({})));
    let config = json!({"server": {"name": "stamps"}, "tools": [{"name": "stamp", "description": "d",
        "responseTemplate": {"body": "{{ now | date \"2006\" }} {{ uuidv4 }} {{ getSocketIP }} {{ getRealIP }}"}}]});
    let envoy = Envoy::start(
        EnvoyConfig::new("mcp-server", api.port())
            .allow_on_headers_stop_iteration(true)
            .configuration(config),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));
    let report = python_client(&envoy.url("/mcp"), json!([["stamp", {}], ["stamp", {}]]));
    let words: Vec<&str> = text_of(&report, 0).split(' ').collect();
    let [year, uuid, socket, real] = words[..] else {
        panic!("{report}")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let approximate_year = 1970 + now / 31_556_952;
    let year: u64 = year.parse().unwrap_or_else(|_| panic!("{report}"));
    assert!(year.abs_diff(approximate_year) <= 1, "{report}");
    let parts: Vec<&str> = uuid.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{uuid}"
    );
    assert!(
        parts[2].starts_with('4') && uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{uuid}"
    );
    assert_ne!(
        text_of(&report, 1).split(' ').nth(1),
        Some(uuid),
        "a new uuid each call"
    );
    assert_eq!((socket, real), ("127.0.0.1", "127.0.0.1"), "{report}");
    assert!(
        api.received().is_empty(),
        "a tool without a request calls nothing"
    );
}
