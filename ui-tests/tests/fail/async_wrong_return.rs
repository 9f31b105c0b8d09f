use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
async fn on_request_headers(_ctx: &mut HttpContext, _config: &Config) -> Result<Action, String> {
    Ok(Action::Continue)
}

#[on_response_body]
async fn on_response_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8]) {}

fn main() {}
