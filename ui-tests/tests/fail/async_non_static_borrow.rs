use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

// The handler's future outlives the callback that starts it, so it may
// borrow only what the framework keeps alive for it: ctx, config and body.
#[on_request_headers]
async fn on_request_headers<'a>(
    ctx: &mut HttpContext,
    config: &Config,
    extra: &'a str,
) -> Action {
    let _ = (ctx, config, extra);
    Action::Continue
}

#[on_request_body]
async fn on_request_body<'a>(ctx: &'a mut HttpContext, config: &'a Config, body: &'a [u8]) -> Action {
    let _ = (ctx, config, body);
    Action::Continue
}

#[on_response_body]
async fn on_response_body(_ctx: &mut HttpContext, _config: &'static Config, body: &'static [u8]) -> Action {
    let _ = body;
    Action::Continue
}

fn main() {}
