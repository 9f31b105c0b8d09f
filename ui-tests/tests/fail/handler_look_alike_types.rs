use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

mod mine {
    /// Shares the name, not the type.
    pub struct HttpContext;
    pub enum Action {
        Continue,
    }
}

#[on_request_headers]
fn on_request_headers(_ctx: &mut mine::HttpContext, _config: &Config) -> Action {
    Action::Continue
}

#[on_response_headers]
async fn on_response_headers(_ctx: &mut HttpContext, _config: &Config) -> mine::Action {
    mine::Action::Continue
}

fn main() {}
