use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

struct Other;

#[on_request_headers]
fn on_request_headers(_ctx: &mut HttpContext, _config: &Other) -> Action {
    Action::Continue
}

fn main() {}
