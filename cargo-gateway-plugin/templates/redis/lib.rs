//! {{name}}: at most `qpm` requests per minute through the gateway, counted
//! in Redis (Higress's Redis host functions).
//!
//! Each request `INCR`s the key `<prefix><unix time of the minute's start>`;
//! the minute's first request sets `EXPIRE key 60`. Over `qpm`, the request
//! is answered 429; under it, the response carries `x-ratelimit-remaining`.
//! When Redis fails the request goes on (fail open) and the error is logged:
//! a rate limiter should not take the service down with it.
//!
//! Configuration: `{"serviceFqdn": "redis.static", "servicePort": 6379,
//! "username": "", "password": "", "timeoutMs": 1000, "qpm": 100,
//! "keyPrefix": "ratelimit:"}`.

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

#[plugin(name = "{{name}}")]
pub struct RateLimit {
    redis: RedisClient,
    qpm: i64,
    key_prefix: String,
}

#[parse_config]
fn parse(json: &Value) -> Result<RateLimit, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or("");
    let number = |key: &str| json.get(key).and_then(Value::as_i64);
    let fqdn = text("serviceFqdn");
    if fqdn.is_empty() {
        return Err("missing serviceFqdn in config".into());
    }
    let port = number("servicePort")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or("servicePort must be a port number")?;
    let qpm = number("qpm")
        .filter(|q| *q > 0)
        .ok_or("qpm must be a positive number")?;
    let timeout_ms = number("timeoutMs")
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1000);
    let redis = RedisClient::new(FqdnCluster {
        fqdn: fqdn.to_string(),
        port,
        ..Default::default()
    });
    redis
        .init(text("username"), text("password"), timeout_ms)
        .map_err(|e| e.to_string())?;
    Ok(RateLimit {
        redis,
        qpm,
        key_prefix: text("keyPrefix").to_string(),
    })
}

/// What the response phase reports, kept from the request phase.
struct Remaining(i64);

#[on_request_headers]
async fn on_request_headers(ctx: &mut HttpContext, config: &RateLimit) -> Action {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = format!("{}{}", config.key_prefix, now - now % 60);
    let count = match config.redis.incr(&key).await {
        Ok(count) => count,
        Err(err) => {
            log::error!("redis error, letting the request through: {err}");
            return Action::Continue;
        }
    };
    if count == 1 {
        if let Err(err) = config.redis.expire(&key, 60).await {
            log::error!("redis error: {err}");
        }
    }
    if count > config.qpm {
        return ctx.send_response(429, &[("x-ratelimit-remaining", "0")], b"Too many requests\n");
    }
    ctx.set(Remaining(config.qpm - count));
    Action::Continue
}

#[on_response_headers]
fn on_response_headers(ctx: &mut HttpContext, _config: &RateLimit) -> Action {
    if let Some(Remaining(left)) = ctx.take::<Remaining>() {
        ctx.add_response_header("x-ratelimit-remaining", &left.to_string());
    }
    Action::Continue
}
