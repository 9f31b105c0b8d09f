//! A port of Higress's `key-auth` Go plugin (`plugins/wasm-go/extensions/
//! key-auth`): API keys in a header or the query, consumers configured
//! globally, and per route or domain (`_rules_`) the consumers allowed
//! there, built on the global config with `#[parse_rule_config]`.
//!
//! ```json
//! {"global_auth": false, "keys": ["x-api-key", "apikey"], "in_header": true,
//!  "consumers": [{"name": "consumer1", "credential": "token1"}],
//!  "_rules_": [{"_match_route_": ["route-a"], "allow": ["consumer1"]}]}
//! ```
//!
//! Answers, as the Go plugin's: no key → 401, several keys → 401, an
//! unknown key or a consumer not allowed here → 403, each with
//! `WWW-Authenticate: Key realm=MSE Gateway`; an authenticated request goes
//! on with `X-Mse-Consumer: <name>`. Where authentication applies:
//! - `global_auth: true`: everywhere; where a rule has `allow`, only those.
//! - `global_auth: false`: only where a rule matches (others pass).
//! - not set: as `true` for requests no rule matches, as `false` for the rest.

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::Value;
use std::collections::HashMap;
use std::rc::Rc;

const REALM: &str = "Key realm=MSE Gateway";

#[plugin(name = "key-auth")]
pub struct KeyAuth {
    global_auth: Option<bool>,
    keys: Vec<String>,
    in_query: bool,
    in_header: bool,
    /// Credential → consumer name, shared by the global config and rules.
    consumers: Rc<HashMap<String, String>>,
    /// Consumers allowed where a rule matched (empty: the global config).
    allow: Vec<String>,
    /// Whether this config comes from a rule.
    rule_set: bool,
}

#[parse_config]
fn parse(json: &Value) -> Result<KeyAuth, String> {
    let global_auth = json.gjson("global_auth");
    let keys = json.gjson("keys");
    if !keys.exists() {
        return Err("keys is required".into());
    }
    let keys: Vec<String> = keys.array().iter().map(|k| k.str()).collect();
    if keys.is_empty() {
        return Err("keys cannot be empty".into());
    }
    let (in_query, in_header) = (json.gjson("in_query"), json.gjson("in_header"));
    if !in_query.exists() && !in_header.exists() {
        return Err("must one of in_query/in_header required".into());
    }
    let consumers = json.gjson("consumers");
    if !consumers.exists() {
        return Err("consumers is required".into());
    }
    let mut by_credential = HashMap::new();
    for consumer in consumers.array() {
        let name = consumer.get("name").str();
        if name.is_empty() {
            return Err("consumer name is required".into());
        }
        let credential = consumer.get("credential").str();
        if credential.is_empty() {
            return Err("consumer credential is required".into());
        }
        if by_credential.insert(credential.clone(), name).is_some() {
            return Err(format!("duplicate consumer credential: {credential}"));
        }
    }
    if by_credential.is_empty() {
        return Err("consumers cannot be empty".into());
    }
    Ok(KeyAuth {
        global_auth: global_auth.exists().then(|| global_auth.bool()),
        keys,
        in_query: in_query.bool(),
        in_header: in_header.bool(),
        consumers: Rc::new(by_credential),
        allow: Vec::new(),
        rule_set: false,
    })
}

#[parse_rule_config]
fn parse_rule(json: &Value, global: &KeyAuth) -> Result<KeyAuth, String> {
    let allow = json.gjson("allow");
    if !allow.exists() {
        return Err("allow is required".into());
    }
    let allow: Vec<String> = allow.array().iter().map(|a| a.str()).collect();
    if allow.is_empty() {
        return Err("allow cannot be empty".into());
    }
    Ok(KeyAuth {
        global_auth: global.global_auth,
        keys: global.keys.clone(),
        in_query: global.in_query,
        in_header: global.in_header,
        consumers: Rc::clone(&global.consumers),
        allow,
        rule_set: true,
    })
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, config: &KeyAuth) -> Action {
    let no_allow = config.allow.is_empty();
    let required = match config.global_auth {
        Some(false) => !no_allow,
        None if config.rule_set => !no_allow,
        _ => true,
    };
    if !required {
        debug!("authorization is not required");
        return Action::Continue;
    }
    let tokens = tokens(ctx, config);
    let token = match tokens.as_slice() {
        [] => return deny(ctx, 401, "No Key Authentication information found."),
        [token] => token,
        _ => return deny(ctx, 401, "Muti Key Authentication information found."),
    };
    let Some(name) = config.consumers.get(token) else {
        warn!("credential {token:?} is not configured");
        return deny(ctx, 403, "Unauthorized consumer.");
    };
    if !no_allow && !config.allow.contains(name) {
        warn!("consumer {name:?} is not allowed");
        return deny(ctx, 403, "Unauthorized consumer.");
    }
    info!("consumer {name:?} authenticated");
    let name = name.clone();
    ctx.add_request_header("X-Mse-Consumer", &name);
    Action::Continue
}

/// The keys the request carries, in the header or the query as configured.
fn tokens(ctx: &HttpContext, config: &KeyAuth) -> Vec<String> {
    if config.in_header {
        return config
            .keys
            .iter()
            .filter_map(|key| ctx.request_header(key))
            .filter(|value| !value.is_empty())
            .collect();
    }
    if !config.in_query {
        return Vec::new();
    }
    // Go: `url.Parse(path).Query()`, then every value of each key in turn.
    let query = ctx.query();
    config
        .keys
        .iter()
        .flat_map(|key| query.get_all(key))
        .map(str::to_string)
        .collect()
}

fn deny(ctx: &mut HttpContext, status: u32, why: &str) -> Action {
    let body = format!("Request denied by Key Auth check. {why}");
    ctx.send_response(status, &[("WWW-Authenticate", REALM)], body.as_bytes())
}
