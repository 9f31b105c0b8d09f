use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_response_body(streaming)]
fn response_chunk(_ctx: &mut HttpContext, _config: &Config, _chunk: &[u8], _end: bool) -> Action {
    Action::Continue
}

#[on_request_body(streaming)]
async fn request_chunk(_ctx: &mut HttpContext, _config: &Config, _chunk: &[u8], _end: bool) {}

fn main() {}
