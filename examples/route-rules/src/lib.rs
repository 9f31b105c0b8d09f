//! Per-route configuration with Higress's `_rules_`: the upstream gets
//! `x-served-by: <value>` where `value` is the global one, or the first
//! matching rule's (by route name, domain, service or route prefix).
//!
//! ```json
//! {"value": "default",
//!  "_rules_": [{"_match_route_": ["checkout"], "value": "checkout-team"},
//!              {"_match_domain_": ["*.example.com"], "value": "example-team"}]}
//! ```
//!
//! A document of `_rules_` only turns the plugin on where a rule matches.

use gateway_plugin::prelude::*;

#[plugin(name = "route-rules")]
#[derive(Deserialize)]
pub struct RouteRules {
    value: String,
}

#[on_request_headers]
fn on_request_headers(ctx: &mut HttpContext, config: &RouteRules) -> Action {
    ctx.add_request_header("x-served-by", &config.value);
    Action::Continue
}
