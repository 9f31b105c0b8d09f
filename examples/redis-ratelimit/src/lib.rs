//! The seed's Redis throttling example, async: at most `qpm` requests per
//! minute, counted in Redis under the minute's timestamp.
//!
//! Each request `INCR`s the key `<unix time of the minute's start>`; the first
//! hit of a minute sets `EXPIRE key 60`. Over `qpm`, the request is answered
//! 429 "Too many requests" with `timeStamp` and `CallTimeLeft: 0`; under it,
//! the response gets `timeStamp` and `CallTimeLeft: <qpm - count>`. When Redis
//! fails, the request is answered 430.
//!
//! Configuration: `serviceName` (the Redis service's FQDN, e.g.
//! `redis.static`), `servicePort`, `username`, `password`, `timeout` (ms),
//! `qpm`. Higress gateways only: it uses Higress's Redis host functions.

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

#[plugin(name = "redis-ratelimit")]
pub struct RateLimit {
    redis: RedisClient,
    qpm: i64,
}

#[parse_config]
fn parse(json: &Value) -> Result<RateLimit, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str).unwrap_or("");
    let number = |key: &str| json.get(key).and_then(Value::as_i64);
    let service_name = text("serviceName");
    if service_name.is_empty() {
        return Err("missing serviceName in config".into());
    }
    let port = number("servicePort")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .ok_or("servicePort must be a port number")?;
    let qpm = number("qpm")
        .filter(|q| *q > 0)
        .ok_or("qpm must be a positive number")?;
    let timeout = number("timeout")
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1000);
    let redis = RedisClient::new(FqdnCluster {
        fqdn: service_name.to_string(),
        port,
        ..Default::default()
    });
    redis
        .init(text("username"), text("password"), timeout)
        .map_err(|e| e.to_string())?;
    Ok(RateLimit { redis, qpm })
}

/// What the response headers report, kept for the response phase.
struct Quota {
    time_stamp: String,
    left: i64,
}

#[on_request_headers]
async fn on_request_headers(ctx: &mut HttpContext, config: &RateLimit) -> Action {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let time_stamp = (now - now % 60).to_string();
    let count = match config.redis.incr(&time_stamp).await {
        // INCR answers 1 or more; anything else is a Redis we cannot trust.
        Ok(count) if count >= 1 => count,
        Ok(count) => {
            log::error!("call redis error: INCR answered {count}");
            return ctx.send_response(430, &[], b"Redis is unavailable\n");
        }
        Err(err) => {
            log::error!("call redis error: {err}");
            return ctx.send_response(430, &[], b"Redis is unavailable\n");
        }
    };
    if count == 1 {
        if let Err(err) = config.redis.expire(&time_stamp, 60).await {
            log::error!("call redis error: {err}");
        }
    }
    if count > config.qpm {
        let headers = [("timeStamp", time_stamp.as_str()), ("CallTimeLeft", "0")];
        return ctx.send_response(429, &headers, b"Too many requests\n");
    }
    ctx.set(Quota {
        time_stamp,
        left: config.qpm.saturating_sub(count),
    });
    Action::Continue
}

#[on_response_headers]
fn on_response_headers(ctx: &mut HttpContext, _config: &RateLimit) -> Action {
    if let Some(quota) = ctx.take::<Quota>() {
        ctx.add_response_header("timeStamp", &quota.time_stamp);
        ctx.add_response_header("CallTimeLeft", &quota.left.to_string());
    }
    Action::Continue
}
