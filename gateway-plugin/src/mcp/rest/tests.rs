//! Unit tests: the configuration, `inputSchema`, arguments, request and
//! result of REST tools against what Go's `RestMCPTool` does for the same
//! configuration (wasm-go `pkg/mcp/server/rest_server.go`, read at
//! d153aa4; the expected values follow its code).

use super::config::RestTool;
use super::request::{build, convert_args, RestRequest};
use super::response::{answer, direct};
use super::RestServer;
use crate::template::NoRequest;
use serde_json::{json, Value};

fn tool(json: Value) -> RestTool {
    RestTool::new(serde_json::from_value(json).unwrap()).unwrap()
}

fn request(tool: &RestTool, arguments: Value, config: Value) -> RestRequest {
    let args = convert_args(&tool.config.args, &arguments);
    build(tool, &args, &config, &NoRequest).unwrap()
}

fn result_json(result: crate::mcp::ToolResult) -> Value {
    result.to_json(true)
}

#[test]
fn input_schema_is_gos() {
    let t = tool(json!({"name": "t", "description": "d", "args": [
        {"name": "city", "description": "City name", "type": "string", "required": true},
        {"name": "days", "description": "Days", "type": "integer", "default": 3},
        {"name": "units", "description": "Units", "enum": ["metric", "imperial"]},
        {"name": "tags", "description": "Tags", "type": "array", "items": {"type": "string"}},
        {"name": "opts", "description": "Opts", "type": "object", "properties": {"b": {"type": "boolean"}}},
        // `items` on a non-array is dropped, as `format` (not Go's) is.
        {"name": "x", "description": "X", "type": "string", "items": {"type": "string"}, "format": "uuid"}
    ], "requestTemplate": {"url": "http://a/b"}}));
    assert_eq!(
        serde_json::to_string(&t.input_schema()).unwrap(),
        r#"{"properties":{"city":{"description":"City name","type":"string"},"days":{"default":3,"description":"Days","type":"integer"},"opts":{"description":"Opts","properties":{"b":{"type":"boolean"}},"type":"object"},"tags":{"description":"Tags","items":{"type":"string"},"type":"array"},"units":{"description":"Units","enum":["metric","imperial"],"type":"string"},"x":{"description":"X","type":"string"}},"required":["city"],"type":"object"}"#
    );
    let bare = tool(json!({"name": "t", "requestTemplate": {"url": "http://a/b"}}));
    assert_eq!(
        bare.input_schema(),
        json!({"properties": {}, "type": "object"})
    );
    assert_eq!(
        bare.entry(),
        json!({"description": "", "inputSchema": {"properties": {}, "type": "object"}, "name": "t"})
    );
}

#[test]
fn arguments_are_kept_defaulted_and_converted_as_go() {
    let t = tool(
        json!({"name": "t", "requestTemplate": {"url": "http://a/b"}, "args": [
            {"name": "i", "type": "integer"}, {"name": "n", "type": "number"}, {"name": "b", "type": "boolean"},
            {"name": "s", "type": "string"}, {"name": "d", "type": "integer", "default": 5},
            {"name": "z"}
        ]}),
    );
    let cases = [
        (
            json!({"i": "2500", "n": "2.5", "b": "true", "s": 7}),
            json!({"i": 2500, "n": 2.5, "b": true, "s": 7, "d": 5}),
        ),
        (
            json!({"i": 2.9, "n": "1e3", "b": "True"}),
            json!({"i": 2, "n": 1000, "b": "True", "d": 5}),
        ),
        (
            json!({"i": "+5", "n": "x"}),
            json!({"i": 5, "n": "x", "d": 5}),
        ),
        (
            json!({"i": "007", "d": null, "undeclared": 1}),
            json!({"i": 7, "d": null}),
        ),
        (
            json!({"i": "2.5", "z": [1]}),
            json!({"i": "2.5", "d": 5, "z": [1]}),
        ),
    ];
    for (arguments, want) in cases {
        assert_eq!(
            Value::Object(convert_args(&t.config.args, &arguments)),
            want,
            "{arguments}"
        );
    }
}

#[test]
fn the_url_query_and_headers_of_gos_worked_example() {
    let t = tool(json!({"name": "get", "description": "d", "args": [
        {"name": "city", "description": "c", "type": "string", "required": true},
        {"name": "days", "description": "n", "type": "integer"}],
        "requestTemplate": {"url": "https://api.example.com/v1/weather?src=mcp&b=2", "method": "GET",
            "argsToUrlParam": true, "headers": [{"key": "X-Api-Key", "value": "{{.config.apiKey}}"}]}}));
    let req = request(
        &t,
        json!({"city": "San Francisco", "days": "5", "x": 1}),
        json!({"apiKey": "k"}),
    );
    assert_eq!(
        req,
        RestRequest {
            method: "GET".into(),
            url: "https://api.example.com/v1/weather?b=2&city=San+Francisco&days=5&src=mcp".into(),
            headers: vec![
                ("X-Api-Key".into(), "k".into()),
                ("Accept".into(), "*/*".into())
            ],
            body: Vec::new(),
        }
    );
}

#[test]
fn positions_path_query_header_cookie_body() {
    let t = tool(json!({"name": "t", "args": [
        {"name": "id", "position": "path"}, {"name": "group", "position": "PATH"},
        {"name": "page", "type": "integer", "position": "query"},
        {"name": "trace", "position": "header"}, {"name": "sid", "position": "cookie"},
        {"name": "title", "position": "body"}, {"name": "tags", "type": "array", "position": "body"},
        {"name": "loose"}],
        "requestTemplate": {"url": "https://h.example:8443/repos/{group}/docs/{id}?flag", "method": "PUT",
            "headers": [{"key": "Cookie", "value": "a=1"}, {"key": "", "value": "skipped"}]}}));
    let req = request(
        &t,
        json!({"id": "a b", "group": "g/1", "page": "2", "trace": "t-1", "sid": "s1",
        "title": "<T>", "tags": ["x"], "loose": "unused"}),
        json!(null),
    );
    // Path values go in unescaped (a `/` stays one); the path is then
    // escaped as Go's EscapedPath; the template's own `flag` becomes `flag=`.
    assert_eq!(
        req.url,
        "https://h.example:8443/repos/g/1/docs/a%20b?flag=&page=2"
    );
    assert_eq!(
        req.headers,
        vec![
            ("Cookie".to_string(), "a=1; sid=s1".to_string()),
            ("trace".to_string(), "t-1".to_string()),
            (
                "Content-Type".to_string(),
                "application/json; charset=utf-8".to_string()
            ),
            ("Accept".to_string(), "*/*".to_string()),
        ]
    );
    // Body arguments only (no argsTo*), Go's JSON: keys sorted, HTML escaped.
    assert_eq!(
        String::from_utf8(req.body).unwrap(),
        r#"{"tags":["x"],"title":"\u003cT\u003e"}"#
    );
}

#[test]
fn args_to_json_body_form_body_and_body_templates() {
    let args = json!([{"name": "q"}, {"name": "n", "type": "integer"}, {"name": "o", "type": "object"}, {"name": "p", "position": "query"}]);
    let json_body = tool(
        json!({"name": "t", "args": args, "requestTemplate": {"url": "http://a/s", "method": "POST", "argsToJsonBody": true}}),
    );
    let req = request(
        &json_body,
        json!({"q": "x", "n": "3", "o": {"b": 1, "a": 2}, "p": "y"}),
        json!(null),
    );
    assert_eq!(req.url, "http://a/s?p=y");
    assert_eq!(
        String::from_utf8(req.body).unwrap(),
        r#"{"n":3,"o":{"a":2,"b":1},"q":"x"}"#
    );
    assert_eq!(
        req.headers[0],
        (
            "Content-Type".into(),
            "application/json; charset=utf-8".into()
        )
    );

    let form = tool(
        json!({"name": "t", "args": args, "requestTemplate": {"url": "http://a/s", "method": "POST", "argsToFormBody": true}}),
    );
    let req = request(&form, json!({"q": "a b&c", "o": {"k": "v"}}), json!(null));
    assert_eq!(
        String::from_utf8(req.body).unwrap(),
        "o=%7B%22k%22%3A%22v%22%7D&q=a+b%26c"
    );
    assert_eq!(
        req.headers[0],
        (
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into()
        )
    );

    // A body template: JSON gets Go's Content-Type, other text none.
    let body = tool(
        json!({"name": "t", "args": [{"name": "labels", "type": "array"}],
        "requestTemplate": {"url": "http://a/s", "method": "POST", "body": "{\"labels\": {{toJson .args.labels}}, \"k\": \"{{.config.k}}\"}"}}),
    );
    let req = request(&body, json!({"labels": ["a"]}), json!({"k": "v"}));
    assert_eq!(
        String::from_utf8(req.body).unwrap(),
        r#"{"labels": "[\"a\"]", "k": "v"}"#
    );
    assert!(req
        .headers
        .iter()
        .any(|(n, v)| n == "Content-Type" && v.starts_with("application/json")));
    let text = tool(
        json!({"name": "t", "requestTemplate": {"url": "http://a/s", "method": "POST", "body": "plain {{.config.k}}",
        "headers": [{"key": "accept", "value": "text/plain"}]}}),
    );
    let req = request(&text, json!({}), json!({"k": "v"}));
    assert_eq!(
        (
            String::from_utf8(req.body).unwrap().as_str(),
            req.headers.len()
        ),
        ("plain v", 1)
    );
}

#[test]
fn answers_become_gos_results() {
    let templated = tool(json!({"name": "t", "requestTemplate": {"url": "http://a"},
        "responseTemplate": {"body": "{{- range .list }}{{.name}};{{ end }}"}}));
    let ok = |t: &RestTool, status: u16, body: &str| {
        result_json(answer(t, status, &[], body.as_bytes(), &NoRequest))
    };
    assert_eq!(
        ok(&templated, 200, r#"{"list":[{"name":"a"},{"name":"b"}]}"#)["content"][0]["text"],
        "a;b;"
    );
    assert_eq!(
        ok(&templated, 200, "not json")["content"][0]["text"],
        "error executing response template: template: response: data must be a valid JSON object or array"
    );
    let parts = tool(json!({"name": "t", "requestTemplate": {"url": "http://a"},
        "responseTemplate": {"prependBody": "# fields\n", "appendBody": "\n# end"}}));
    assert_eq!(
        ok(&parts, 201, "{}")["content"][0]["text"],
        "# fields\n{}\n# end"
    );
    let raw = tool(
        json!({"name": "t", "requestTemplate": {"url": "http://a"}, "outputSchema": {"type": "object"}}),
    );
    let result = ok(&raw, 200, r#"{"a":1}"#);
    assert_eq!(
        (
            result["content"][0]["text"].clone(),
            result["structuredContent"].clone()
        ),
        (json!(r#"{"a":1}"#), json!({"a": 1}))
    );
    assert_eq!(ok(&raw, 204, "")["content"][0]["text"], "success");
    assert_eq!(
        ok(&raw, 404, "Not Found")["content"][0]["text"],
        "call failed, status: 404, response: Not Found"
    );
    assert_eq!(ok(&raw, 404, "Not Found")["isError"], true);
    let image = answer(
        &raw,
        200,
        &[("Content-Type".into(), "image/png".into())],
        b"\x89PNG",
        &NoRequest,
    );
    assert_eq!(
        result_json(image)["content"][0],
        json!({"type": "image", "data": "iVBORw==", "mimeType": "image/png"})
    );

    let errors = tool(json!({"name": "t", "requestTemplate": {"url": "http://a"},
        "errorResponseTemplate": "{{gjson \"_headers.\\\\:status\"}} {{gjson \"_headers.x-ca-error\"}} {{.message}}"}));
    let headers = [
        (":status".to_string(), "403".to_string()),
        ("X-Ca-Error".to_string(), "quota".to_string()),
    ];
    let failed =
        |body: &str| result_json(answer(&errors, 403, &headers, body.as_bytes(), &NoRequest));
    assert_eq!(
        failed(r#"{"message":"no"}"#)["content"][0]["text"],
        "403 quota no"
    );
    // A body that is not JSON gives way to the headers alone.
    assert_eq!(failed("denied")["content"][0]["text"], "403 quota ");
    assert_eq!(
        failed("[1]")["content"][0]["text"],
        "error executing error response template: template: errorResponse: data must be a valid JSON object or array"
    );
}

#[test]
fn a_tool_without_url_answers_from_its_template() {
    let t = tool(
        json!({"name": "time", "args": [{"name": "zone", "default": "UTC"}],
        "responseTemplate": {"body": "zone {{.args.zone}} key {{.config.k}}"}}),
    );
    let data = json!({"config": {"k": 1}, "args": convert_args(&t.config.args, &json!({}))});
    assert_eq!(
        result_json(direct(&t, &data, &NoRequest))["content"][0]["text"],
        "zone UTC key 1"
    );
}

#[test]
fn configuration_errors_are_gos() {
    let fails = |json: Value| RestServer::from_config(&json).unwrap_err();
    assert_eq!(
        fails(json!({})),
        "either 'server' or 'toolSet' field must be present in the configuration"
    );
    assert_eq!(
        fails(json!({"server": {}})),
        "server.name field is missing for single server config"
    );
    let with_tool = |t: Value| fails(json!({"server": {"name": "s"}, "tools": [t]}));
    assert_eq!(
        with_tool(json!({"name": "t", "requestTemplate": {"url": "http://a", "argsToJsonBody": true, "argsToUrlParam": true}})),
        "failed to add tool t: only one of argsToJsonBody, argsToUrlParam, or argsToFormBody can be set to true"
    );
    assert_eq!(
        with_tool(json!({"name": "t"})),
        "failed to add tool t: direct response mode must set responseTemplate.body"
    );
    assert_eq!(
        with_tool(
            json!({"name": "t", "requestTemplate": {"url": "http://a"}, "responseTemplate": {"body": "x", "appendBody": "y"}})
        ),
        "failed to add tool t: PrependBody and AppendBody cannot be used when Body is specified"
    );
    assert_eq!(
        with_tool(json!({"name": "t", "requestTemplate": {"url": "http://a", "headers": [{"key": "h", "value": "{{if}}"}]}})),
        "failed to add tool t: error parsing header template for h: template: header_0:1: missing value for command"
    );
    assert!(
        with_tool(json!({"name": "t", "args": [{"name": "a", "required": "yes"}]}))
            .starts_with("failed to parse tool config: invalid type")
    );
    // The first of two tools with one name is kept, as in Go.
    let server = RestServer::from_config(
        &json!({"server": {"name": "s"}, "allowTools": ["a"], "tools": [
            {"name": "a", "description": "first", "requestTemplate": {"url": "http://a"}},
            {"name": "a", "description": "second", "requestTemplate": {"url": "http://b"}},
        ]}),
    )
    .unwrap();
    assert_eq!(
        server
            .entries()
            .map(|(_, e)| e["description"].clone())
            .collect::<Vec<_>>(),
        [json!("first")]
    );
    assert_eq!(server.allow_tools(), Some(&["a".to_string()][..]));
}
