use gateway_plugin::prelude::*;

#[plugin(name = "my-plugin")]
struct Config {
    name: String,
}

#[parse_config]
fn parse(json: &str, strict: bool) -> Option<Config> {
    let _ = strict;
    Some(Config { name: json.to_string() })
}

fn main() {}
