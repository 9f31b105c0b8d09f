//! The seed's main example: adds `hello: world` to every request, and answers
//! "hello world" itself when `mockEnable` is true.

use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MyConfig {
    #[serde(default)]
    mock_enable: bool,
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, config: &MyConfig) -> Action {
    ctx.add_request_header("hello", "world");
    if config.mock_enable {
        return ctx.send_response(200, &[], b"hello world");
    }
    Action::Continue
}
