//! The smallest plugin: answers every request with 200 "hello world".

use gateway_plugin::prelude::*;

/// No configuration: `Default` alone, so the plugin carries no JSON parser.
#[plugin(name = "hello-world")]
#[derive(Default)]
pub struct HelloWorld;

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, _config: &HelloWorld) -> Action {
    ctx.send_response(200, &[], b"hello world")
}
