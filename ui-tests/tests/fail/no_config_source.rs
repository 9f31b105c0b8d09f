use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
struct Config {
    limit: u32,
}

#[on_request_headers]
fn on_request_headers(_ctx: &mut HttpContext, config: &Config) -> Action {
    let _ = config.limit;
    Action::Continue
}

fn main() {}
