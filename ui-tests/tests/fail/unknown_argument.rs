use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin", version = 2)]
#[derive(Deserialize, Default)]
struct Config;

fn main() {}
