use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext) -> Action {
    ctx.add_request_header("a", "b");
    Action::Continue
}

#[on_response_body]
fn on_response_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8], _extra: u32) -> Action {
    Action::Continue
}

fn main() {}
