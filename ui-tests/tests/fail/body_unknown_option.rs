use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

#[on_response_body(stream)]
fn response_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8]) -> Action {
    Action::Continue
}

#[on_request_body(streaming, streaming)]
fn request_chunk(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8], _end: bool) -> Vec<u8> {
    chunk.to_vec()
}

fn main() {}
