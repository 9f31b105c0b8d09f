//! A REST tool's answer as the MCP result Go's `RestMCPTool` makes of it:
//! an image as image content, else the response template over the JSON
//! answer (or `prependBody` + answer + `appendBody`, or the answer), and
//! `structuredContent` when the tool declares an `outputSchema`; a status
//! outside 2xx a tool error, written by `errorResponseTemplate` if any.

use super::config::RestTool;
use crate::mcp::tool::ToolResult;
use crate::template::Env;
use serde_json::{Map, Value};

/// The result of a tool without a URL: its response template over the
/// request's data (`.args`, `.config`).
pub(crate) fn direct(tool: &RestTool, data: &Value, env: &dyn Env) -> ToolResult {
    let Some(template) = &tool.response else {
        return ToolResult::error("direct response mode must set responseTemplate.body");
    };
    match template.render_with(data, env) {
        Ok(text) => with_structure(tool, ToolResult::text(text.clone()), text.as_bytes()),
        Err(e) => ToolResult::error(format!("error executing response template: {e}")),
    }
}

/// The result of an answer with this status, headers and body.
pub(crate) fn answer(
    tool: &RestTool,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    env: &dyn Env,
) -> ToolResult {
    if !(200..300).contains(&status) {
        return failure(tool, status, headers, body, env);
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(image) = header("content-type").filter(|t| t.starts_with("image/")) {
        return ToolResult::image(body.to_vec(), image);
    }
    let text = if let Some(template) = &tool.response {
        let data = serde_json::from_slice(body).unwrap_or(Value::Null);
        let rendered = template.render_with(&data, env);
        match rendered {
            Ok(text) => text,
            Err(e) => return ToolResult::error(format!("error executing response template: {e}")),
        }
    } else {
        let parts = &tool.config.response_template;
        format!(
            "{}{}{}",
            parts.prepend_body,
            String::from_utf8_lossy(body),
            parts.append_body
        )
    };
    let text = match text.is_empty() {
        true => "success".to_string(),
        false => text,
    };
    with_structure(tool, ToolResult::text(text), body)
}

/// `structuredContent`: the raw answer, when the tool has an
/// `outputSchema` and the answer is JSON.
fn with_structure(tool: &RestTool, result: ToolResult, body: &[u8]) -> ToolResult {
    let declared = tool
        .config
        .output_schema
        .as_ref()
        .is_some_and(|s| !s.is_empty());
    match (declared, serde_json::from_slice::<Value>(body)) {
        (true, Ok(value)) => result.with_structured(value),
        _ => result,
    }
}

fn failure(
    tool: &RestTool,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    env: &dyn Env,
) -> ToolResult {
    if let Some(template) = &tool.error_response {
        // The answer with its headers as `_headers` (the last of a repeated
        // one); an answer that is not a JSON object is replaced by them.
        let mut header_map = Map::new();
        for (name, value) in headers {
            header_map.insert(name.to_ascii_lowercase(), Value::String(value.clone()));
        }
        // An array answer cannot take `_headers`: no data, as in Go.
        let data = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(_)) => Value::Null,
            Ok(Value::Object(mut object)) => {
                object.insert("_headers".into(), Value::Object(header_map));
                Value::Object(object)
            }
            _ => serde_json::json!({"_headers": header_map}),
        };
        let rendered = template.render_with(&data, env);
        match rendered {
            Err(e) => {
                return ToolResult::error(format!("error executing error response template: {e}"))
            }
            Ok(text) if !text.is_empty() => return ToolResult::error(text),
            Ok(_) => {}
        }
    }
    ToolResult::error(format!(
        "call failed, status: {status}, response: {}",
        String::from_utf8_lossy(body)
    ))
}
