// A plugin without configuration: `Default` alone, no serde.
use gateway_plugin::prelude::*;

#[plugin(name = "hello")]
#[derive(Default)]
struct Hello;

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, _: &Hello) -> Action {
    ctx.send_response(200, &[("content-type", "text/plain")], b"hello")
}

fn main() {}
