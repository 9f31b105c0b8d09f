//! {{name}}: adds a configured header to every request on its way upstream
//! and, when `mockEnable` is set, answers requests itself with `mockBody`.
//! Logs one line per request (`[{{name}}] GET /path`) at info level.
//!
//! Configuration: `{"headerName": "x-hello", "headerValue": "world",
//! "mockEnable": false, "mockBody": "hello world"}` (every field optional).

use gateway_plugin::prelude::*;

#[plugin(name = "{{name}}")]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The header added to every request (none when empty).
    #[serde(default)]
    header_name: String,
    #[serde(default)]
    header_value: String,
    /// Answer every request here instead of sending it upstream.
    #[serde(default)]
    mock_enable: bool,
    #[serde(default)]
    mock_body: String,
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, config: &Config) -> Action {
    // One line per request: reaches the gateway's log as `[{{name}}] GET /path`.
    info!("{} {}", ctx.method(), ctx.path());
    if !config.header_name.is_empty() {
        ctx.add_request_header(&config.header_name, &config.header_value);
    }
    if config.mock_enable {
        let headers = [("content-type", "text/plain")];
        return ctx.send_response(200, &headers, config.mock_body.as_bytes());
    }
    Action::Continue
}
