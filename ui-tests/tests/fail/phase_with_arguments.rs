use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers(priority = 1)]
fn on_request_headers(_ctx: &mut HttpContext, _config: &Config) -> Action {
    Action::Continue
}

fn main() {}
