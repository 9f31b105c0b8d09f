use gateway_plugin::prelude::*;

#[plugin(name = "every-phase")]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    mock_enable: bool,
}

#[on_request_headers]
fn request_headers(ctx: &mut HttpContext, config: &Config) -> Action {
    ctx.add_request_header("hello", "world");
    if config.mock_enable {
        return ctx.send_response(200, &[], b"hello world");
    }
    Action::Continue
}

#[on_request_body]
fn request_body(ctx: &mut HttpContext, _config: &Config, body: &[u8]) -> Action {
    ctx.replace_request_body(body);
    Action::Continue
}

#[on_response_headers]
fn response_headers(_ctx: &mut HttpContext, _config: &Config) -> gateway_plugin::Action {
    Action::Continue
}

#[on_response_body]
fn response_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8]) -> Action {
    log::info!("body seen");
    info!("bare macros work too");
    Action::Continue
}

#[on_stream_done]
fn done(_ctx: &mut HttpContext, _config: &Config) {}

fn main() {}
