use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
#[derive(Deserialize, Default)]
struct Config;

// The whole-body signature under `streaming`: `end_of_stream` is missing.
#[on_response_body(streaming)]
fn response_chunk(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8]) -> Vec<u8> {
    chunk.to_vec()
}

#[on_request_body(streaming)]
fn request_chunk(_ctx: &mut HttpContext, _config: &Config, chunk: Vec<u8>, _end: u8) -> Vec<u8> {
    chunk
}

fn main() {}
