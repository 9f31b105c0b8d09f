// `#[parse_config]` builds the config; the type needs no Deserialize.
use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;

#[plugin(name = "parsed")]
pub struct Parsed {
    header: String,
}

#[parse_config]
fn parse(json: &Value) -> Result<Parsed, String> {
    let header = json
        .get("header")
        .and_then(Value::as_str)
        .ok_or("header is required")?;
    Ok(Parsed { header: header.to_string() })
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, config: &Parsed) -> Action {
    ctx.add_request_header(&config.header, "1");
    Action::Continue
}

fn main() {}
