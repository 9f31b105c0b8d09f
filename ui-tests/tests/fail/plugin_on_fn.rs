use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
fn on_request_headers(_ctx: &mut HttpContext) -> Action {
    Action::Continue
}

fn main() {}
