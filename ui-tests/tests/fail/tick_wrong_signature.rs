use gateway_plugin::prelude::*;

#[plugin(name = "ticking")]
#[derive(Deserialize, Default)]
pub struct Config {}

// A tick has no stream: no HttpContext.
#[on_tick(period_ms = 1000)]
fn tick(ctx: &mut HttpContext, config: &Config) {
    let _ = (ctx, config);
}

// A period of 0 ms.
#[on_tick(period_ms = 0)]
fn never(_config: &Config) {}

fn main() {}
