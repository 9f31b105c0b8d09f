//! An MCP server written in Rust: four tools on the gateway, the protocol
//! (JSON-RPC over Streamable HTTP, sessions, versions, errors) the
//! framework's.
//!
//! - `get_weather` asks a REST backend (`GET /weather?city=..`, the
//!   configured `apiKey` as `x-api-key`) and answers its JSON; a non-2xx
//!   answer or a failed call is a tool error.
//! - `count_visits` counts calls per name in Redis (`INCR mcp:visits:<name>`;
//!   feature `redis`, on by default: upstream Envoy, which has no Redis,
//!   loads the build without it, where the tool answers a tool error).
//! - `forecast` answers structured content (its output type's schema is the
//!   tool's `outputSchema`).
//! - `whoami` answers the caller's `x-user` header (the MCP request's
//!   headers reach the tool).
//!
//! Configuration: `{"weatherService": "weather.static", "weatherPort": 80,
//! "apiKey": "k", "redisService": "redis.static", "redisPort": 6379,
//! "allowTools": ["get_weather", ..]}` (Redis and `allowTools` optional).

use gateway_plugin::mcp::{Structured, ToolCall, ToolResult};
use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;
use serde::Serialize;

#[plugin(name = "mcp-tools")]
#[mcp_server(
    name = "weather",
    version = "1.0.0",
    instructions = "Weather for cities, and a visit counter.",
    tools = [get_weather, count_visits, forecast, whoami],
    allow_tools = allow_tools
)]
pub struct Weather {
    api: HttpClient,
    api_key: String,
    #[cfg(feature = "redis")]
    redis: Option<RedisClient>,
    allow_tools: Option<Vec<String>>,
}

#[parse_config]
fn parse(json: &Value) -> Result<Weather, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or("");
    let port = |key: &str| {
        json.get(key)
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
    };
    if text("weatherService").is_empty() {
        return Err("missing weatherService".into());
    }
    let api = HttpClient::new(FqdnCluster {
        fqdn: text("weatherService").to_string(),
        port: port("weatherPort").ok_or("weatherPort must be a port number")?,
        ..Default::default()
    });
    #[cfg(not(feature = "redis"))]
    if !text("redisService").is_empty() {
        return Err("redisService: this build has no Redis (feature `redis`)".into());
    }
    #[cfg(feature = "redis")]
    let redis = match text("redisService") {
        "" => None,
        service => {
            let redis = RedisClient::new(FqdnCluster {
                fqdn: service.to_string(),
                port: port("redisPort").ok_or("redisPort must be a port number")?,
                ..Default::default()
            });
            redis.init("", "", 1000).map_err(|e| e.to_string())?;
            Some(redis)
        }
    };
    let allow_tools = match json.get("allowTools") {
        None => None,
        Some(list) => Some(
            gateway_plugin::serde_json::from_value(list.clone())
                .map_err(|e| format!("allowTools: {e}"))?,
        ),
    };
    Ok(Weather {
        api,
        api_key: text("apiKey").to_string(),
        #[cfg(feature = "redis")]
        redis,
        allow_tools,
    })
}

#[derive(Deserialize, JsonSchema)]
pub struct City {
    /// City name, e.g. "suzhou"
    city: String,
    /// metric or imperial
    #[serde(default)]
    units: Option<String>,
}

/// Current weather for a city.
#[mcp_tool]
async fn get_weather(
    _call: &mut ToolCall,
    config: &Weather,
    args: City,
) -> Result<ToolResult, String> {
    let mut path = format!("/weather?city={}", encode(&args.city));
    if let Some(units) = &args.units {
        path.push_str(&format!("&units={}", encode(units)));
    }
    let resp = config
        .api
        .get(&path)
        .header("x-api-key", &config.api_key)
        .await
        .map_err(|e| format!("weather service: {e}"))?;
    if !(200..300).contains(&resp.status()) {
        return Err(format!("weather service answered {}", resp.status()));
    }
    Ok(ToolResult::json_text(resp.body()))
}

#[derive(Deserialize, JsonSchema)]
pub struct Visitor {
    /// Who visits.
    name: String,
}

/// Counts the visits of a name (in Redis) and answers the count.
#[mcp_tool]
async fn count_visits(
    _call: &mut ToolCall,
    config: &Weather,
    args: Visitor,
) -> Result<String, String> {
    #[cfg(feature = "redis")]
    {
        let redis = config.redis.as_ref().ok_or("no Redis is configured")?;
        let count = redis
            .incr(format!("mcp:visits:{}", args.name))
            .await
            .map_err(|e| format!("redis: {e}"))?;
        Ok(format!("{} visited {count} times", args.name))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (config, args.name);
        Err("this build has no Redis".into())
    }
}

#[derive(Deserialize, JsonSchema)]
pub struct Days {
    /// How many days, 1 to 7.
    days: u8,
}

#[derive(Serialize, JsonSchema)]
pub struct Forecast {
    /// One temperature per day, in °C.
    celsius: Vec<f64>,
}

/// A made-up forecast, as structured content.
#[mcp_tool(name = "forecast")]
fn forecast(
    _call: &mut ToolCall,
    _config: &Weather,
    args: Days,
) -> Result<Structured<Forecast>, String> {
    if !(1..=7).contains(&args.days) {
        return Err(format!("days must be 1 to 7, not {}", args.days));
    }
    let celsius = (0..args.days).map(|d| 20.0 + f64::from(d) / 2.0).collect();
    Ok(Structured(Forecast { celsius }))
}

/// Who is calling: the MCP request's `x-user` header.
#[mcp_tool]
fn whoami(
    call: &mut ToolCall,
    _config: &Weather,
    _args: gateway_plugin::mcp::NoArguments,
) -> String {
    call.request_header("x-user")
        .unwrap_or_else(|| "anonymous".into())
}

/// Percent-encodes a query value (unreserved characters stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
