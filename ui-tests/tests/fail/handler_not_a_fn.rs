use gateway_plugin::prelude::*;

#[on_request_headers]
struct NotAFunction;

fn main() {}
