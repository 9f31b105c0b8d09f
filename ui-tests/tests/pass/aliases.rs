//! Handler argument and return types are checked as types, not names:
//! aliases of `HttpContext` and `Action` are the same types.
use gateway_plugin::prelude::*;
use gateway_plugin::{Action as Verdict, HttpContext as Ctx};

type Stream = gateway_plugin::HttpContext;

#[plugin(name = "aliases")]
#[derive(Deserialize, Default)]
struct Config;

#[on_request_headers]
fn on_request_headers(_ctx: &mut Ctx, _config: &Config) -> Verdict {
    Verdict::Continue
}

#[on_request_body]
async fn on_request_body(_ctx: &mut Stream, _config: &Config, _body: &[u8]) -> Action {
    Action::Continue
}

#[on_response_body(streaming)]
fn on_response_body(_ctx: &mut Ctx, _config: &Config, chunk: &[u8], _end: bool) -> Vec<u8> {
    chunk.to_vec()
}

#[on_stream_done]
fn done(_ctx: &mut Stream, _config: &Config) -> Verdict {
    Verdict::Continue
}

fn main() {}
