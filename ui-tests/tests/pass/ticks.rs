// Tick handlers, sync and async, with different periods.
use gateway_plugin::prelude::*;

#[plugin(name = "ticking")]
#[derive(Deserialize, Default)]
pub struct Config {}

#[on_tick(period_ms = 1000)]
fn every_second(_config: &Config) {}

#[on_tick(period_ms = 60_000)]
async fn every_minute(config: &Config) {
    let _ = config;
    future::yield_now().await;
}

fn main() {}
