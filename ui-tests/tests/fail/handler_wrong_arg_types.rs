use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
fn on_request_headers(_ctx: &HttpContext, _config: &mut Config) -> Action {
    Action::Continue
}

#[on_request_body]
fn on_request_body(_ctx: &mut HttpContext, _config: &Config, _body: Vec<u8>) -> Action {
    Action::Continue
}

fn main() {}
