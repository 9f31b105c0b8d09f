use gateway_plugin::prelude::*;

#[plugin]
#[derive(Deserialize, Default)]
struct Config;

fn main() {}
