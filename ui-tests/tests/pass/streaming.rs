//! Streaming body handlers, sync and async, returning `String` and `Chunk`,
//! next to whole-body handlers of the same phase, and the `binary` and
//! `hold_headers` options.
use gateway_plugin::prelude::*;

#[plugin(name = "streaming")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_body(streaming)]
fn request_chunk(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8], _end: bool) -> String {
    String::from_utf8_lossy(chunk).to_uppercase()
}

#[on_request_body(binary, hold_headers)]
fn request_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8]) -> Action {
    Action::Continue
}

#[on_response_body(streaming, binary)]
async fn response_chunk(
    ctx: &mut HttpContext,
    _config: &Config,
    chunk: &[u8],
    end_of_stream: bool,
) -> Chunk {
    if end_of_stream {
        ctx.set(chunk.len());
    }
    Chunk::Pass
}

#[on_response_body]
async fn response_body(_ctx: &mut HttpContext, _config: &Config, _body: &[u8]) -> Action {
    Action::Continue
}

fn main() {}
