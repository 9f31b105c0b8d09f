use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
fn on_request_headers(_ctx: &mut HttpContext, _config: &Config) -> bool {
    true
}

#[on_response_headers]
fn on_response_headers(_ctx: &mut HttpContext, _config: &Config) {}

fn main() {}
