//! Higress's per-route configuration: a global config plus `_rules_`, each
//! rule matching routes, domains, services or route prefixes and carrying its
//! own config; the stream gets the first matching rule's config, else the
//! global one, else (a document with only `_rules_`) no config at all, and
//! the plugin leaves the stream alone.
//!
//! Matching follows Higress's Go SDK (`higress-group/wasm-go`,
//! `pkg/matcher/rule_matcher.go`): a rule's category is route (route +
//! service when it has both), else domain, else service, else route prefix
//! (with `_match_consumer_`: route prefix + consumer); rules are tried in
//! order. Domains: `*.x` matches a suffix, `x.*` a prefix, anything else
//! exactly, against `:authority` without its port. Services compare
//! `fqdn[:port]` with the `cluster_name` `outbound|port||fqdn`.
//!
//! Where Go is lenient by accident, a document it would misread is refused
//! here with the place named: `_rules_` that is not a list, a rule that is not
//! an object, a match key that is not a list of strings. Where Go is lenient
//! on purpose (a global part that does not parse is dropped when rules
//! exist), this keeps Go's behaviour and logs a warning.

use crate::config::{parse_json, ConfigError, ParseFn, ParseRuleFn};
use serde_json::{Map, Value};
use std::rc::Rc;

const RULES: &str = "_rules_";
const PLUGIN_ID: &str = "_plugin_id_";
const MATCH_ROUTE: &str = "_match_route_";
const MATCH_DOMAIN: &str = "_match_domain_";
const MATCH_SERVICE: &str = "_match_service_";
const MATCH_ROUTE_PREFIX: &str = "_match_route_prefix_";
const MATCH_CONSUMER: &str = "_match_consumer_";

/// The header Higress's auth plugins put the consumer's name in.
pub(crate) const CONSUMER_HEADER: &str = "x-mse-consumer";

/// A plugin's parsed configuration: the global config (if any) and the rules.
pub struct RuleSet<C> {
    global: Option<Rc<C>>,
    rules: Vec<Rule<C>>,
}

struct Rule<C> {
    matcher: Matcher,
    config: Rc<C>,
}

impl<C> RuleSet<C> {
    /// Only a global config, no rules.
    pub fn global(config: C) -> Self {
        RuleSet {
            global: Some(Rc::new(config)),
            rules: Vec::new(),
        }
    }

    /// The global config, if the document has one.
    pub fn global_config(&self) -> Option<&Rc<C>> {
        self.global.as_ref()
    }

    /// Whether there are rules to match (else every stream gets the global
    /// config and nothing is read from the request).
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The config for a request: the first matching rule's, else the global
    /// one, else `None` (the plugin leaves the request alone).
    pub(crate) fn select(&self, request: &mut impl RequestFacts) -> Option<Rc<C>> {
        self.rules
            .iter()
            .find(|rule| rule.matcher.matches(request))
            .map(|rule| Rc::clone(&rule.config))
            .or_else(|| self.global.clone())
    }
}

/// What rules match on, read from the request when first needed.
pub(crate) trait RequestFacts {
    /// `:authority`.
    fn authority(&mut self) -> &str;
    /// The route's name.
    fn route_name(&mut self) -> &str;
    /// The upstream cluster's name (`outbound|port||fqdn` on Higress).
    fn cluster_name(&mut self) -> &str;
    /// The `x-mse-consumer` header.
    fn consumer(&mut self) -> &str;
}

/// [`parse_merging`] without merging (the tests' shorthand).
#[cfg(test)]
fn parse<C>(
    raw: &[u8],
    parse: ParseFn<C>,
    parse_rule: Option<ParseRuleFn<C>>,
) -> Result<RuleSet<C>, ConfigError> {
    parse_merging(raw, parse, parse_rule, false)
}

/// The document's `_plugin_id_` (Higress's, for its log line format), read
/// before the document is parsed so that the root can hand it to the logger
/// first and the plugin's own parser already logs with it. `None` when the
/// document is not a JSON object or has no such key; a value that is not a
/// string reads as empty, as Go's gjson reads it.
pub(crate) fn plugin_id(raw: &[u8]) -> Option<String> {
    // The parser every configuration goes through anyway: a peek with its
    // own serde struct would add a second JSON deserializer to every
    // plugin's .wasm (15 KB for http-call), for a configure-time saving.
    match parse_json(raw).ok()? {
        Value::Object(document) => document
            .get(PLUGIN_ID)
            .map(|id| id.as_str().unwrap_or_default().to_string()),
        _ => None,
    }
}

/// Splits the configuration into its global part and `_rules_`, and parses
/// each with `parse` (rules with `parse_rule` when the plugin has one).
/// With `merge` (`#[plugin(rule_config = "merge")]`) and no rule parser,
/// each rule's top-level keys are laid over the global JSON object and the
/// result is parsed, so a rule states only what it changes. The document's
/// `_plugin_id_` (Higress's, not the plugin's field: see [`plugin_id`]) is
/// taken out before any part is parsed.
pub(crate) fn parse_merging<C>(
    raw: &[u8],
    parse: ParseFn<C>,
    parse_rule: Option<ParseRuleFn<C>>,
    merge: bool,
) -> Result<RuleSet<C>, ConfigError> {
    let json = parse_json(raw)?;
    let Value::Object(mut global) = json else {
        if json.is_array() {
            // serde would read a list as a struct's fields in order
            // (`[true]` for `{"mockEnable": true}`): not a configuration.
            return Err(ConfigError::new(
                "the configuration must be a JSON object, not a list",
            ));
        }
        // Not an object: the plugin's parser says what it thinks of it.
        return parse(&json).map(RuleSet::global);
    };
    global.remove(PLUGIN_ID);
    let rules = match global.remove(RULES) {
        None => return parse(&Value::Object(global)).map(RuleSet::global),
        Some(Value::Array(rules)) => rules,
        Some(other) => {
            return Err(ConfigError::at(
                RULES,
                format_args!("must be a list of rules, not {}", kind(&other)),
            ))
        }
    };
    let global_json = (merge && parse_rule.is_none()).then(|| global.clone());
    let global = match global.is_empty() {
        true => None,
        false => match parse(&Value::Object(global)) {
            Ok(config) => Some(config),
            Err(err) if rules.is_empty() => return Err(err),
            Err(err) => {
                // Go drops a global part that does not parse when there are
                // rules; ported configurations rely on it.
                log::warn!("{err}; the global configuration is ignored, only `_rules_` apply");
                None
            }
        },
    };
    if rules.is_empty() && global.is_none() {
        return Err(ConfigError::at(
            RULES,
            "no valid rules, and no global configuration",
        ));
    }
    let base = rule_base(parse, parse_rule, &global)?;
    let global = global.map(Rc::new);
    let mut parsed = Vec::with_capacity(rules.len());
    for (index, rule) in rules.into_iter().enumerate() {
        let base = global.as_deref().or(base.as_ref());
        parsed.push(parse_rule_at(
            index,
            rule,
            parse,
            parse_rule,
            base,
            global_json.as_ref(),
        )?);
    }
    Ok(RuleSet {
        global,
        rules: parsed,
    })
}

/// What an override parser builds on when there is no global config (a
/// document of `_rules_` only): the config of `{}`.
fn rule_base<C>(
    parse: ParseFn<C>,
    parse_rule: Option<ParseRuleFn<C>>,
    global: &Option<C>,
) -> Result<Option<C>, ConfigError> {
    match (parse_rule, global) {
        (Some(_), None) => parse(&Value::Object(Map::new())).map(Some).map_err(|err| {
            ConfigError::at(
                RULES,
                format_args!("the rules build on the global configuration, and an empty one is refused: {err}"),
            )
        }),
        _ => Ok(None),
    }
}

/// Rule `index` of `_rules_`: its match keys, and its config parsed by
/// `parse_rule` on `base` if the plugin has one, else by `parse` (over the
/// global JSON object with `merge`).
fn parse_rule_at<C>(
    index: usize,
    rule: Value,
    parse: ParseFn<C>,
    parse_rule: Option<ParseRuleFn<C>>,
    base: Option<&C>,
    global_json: Option<&Map<String, Value>>,
) -> Result<Rule<C>, ConfigError> {
    let place = format!("{RULES}[{index}]");
    let Value::Object(mut body) = rule else {
        return Err(ConfigError::at(
            place,
            format_args!("a rule must be an object, not {}", kind(&rule)),
        ));
    };
    let matcher = Matcher::take_from(&mut body, &place)?;
    if let Some(global_json) = global_json {
        let mut merged = global_json.clone();
        merged.extend(body);
        body = merged;
    }
    let body = Value::Object(body);
    let config = match parse_rule {
        Some(parse_rule) => match base {
            Some(base) => parse_rule(&body, base),
            None => unreachable!("a base config exists when there is a rule parser"),
        },
        None => parse(&body),
    }
    .map_err(|err| err.within(&place))?;
    Ok(Rule {
        matcher,
        config: Rc::new(config),
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Category {
    Route,
    RouteAndService,
    Domain,
    Service,
    RoutePrefix,
    RoutePrefixAndConsumer,
}

#[derive(Debug, PartialEq, Eq)]
enum DomainMatch {
    /// `*.example.com` (`*` alone: any domain).
    Suffix(String),
    /// `www.*`.
    Prefix(String),
    Exact(String),
}

impl DomainMatch {
    fn new(pattern: &str) -> Self {
        if let Some(suffix) = pattern.strip_prefix('*') {
            DomainMatch::Suffix(suffix.to_string())
        } else if let Some(prefix) = pattern.strip_suffix('*') {
            DomainMatch::Prefix(prefix.to_string())
        } else {
            DomainMatch::Exact(pattern.to_string())
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            DomainMatch::Suffix(suffix) => host.ends_with(suffix.as_str()),
            DomainMatch::Prefix(prefix) => host.starts_with(prefix.as_str()),
            DomainMatch::Exact(exact) => host == exact,
        }
    }
}

/// What one rule matches.
#[derive(Debug)]
struct Matcher {
    category: Category,
    routes: Vec<String>,
    domains: Vec<DomainMatch>,
    services: Vec<String>,
    route_prefixes: Vec<String>,
    consumers: Vec<String>,
}

impl Matcher {
    /// Takes the match keys out of a rule (the rest is the rule's config).
    fn take_from(rule: &mut Map<String, Value>, place: &str) -> Result<Matcher, ConfigError> {
        let mut list = |key: &str| -> Result<Vec<String>, ConfigError> {
            let Some(value) = rule.remove(key) else {
                return Ok(Vec::new());
            };
            let wrong = || {
                ConfigError::at(
                    format!("{place}.{key}"),
                    format_args!("must be a list of strings, not {}", kind(&value)),
                )
            };
            let Value::Array(items) = &value else {
                return Err(wrong());
            };
            let mut strings = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => strings.push(s.clone()),
                    _ => return Err(wrong()),
                }
            }
            Ok(strings)
        };
        let non_empty =
            |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|s| !s.is_empty()).collect() };
        let routes = non_empty(list(MATCH_ROUTE)?);
        let domains: Vec<DomainMatch> = list(MATCH_DOMAIN)?
            .iter()
            .map(|d| DomainMatch::new(d))
            .collect();
        let services = non_empty(list(MATCH_SERVICE)?);
        let route_prefixes = non_empty(list(MATCH_ROUTE_PREFIX)?);
        let consumers = non_empty(list(MATCH_CONSUMER)?);
        let category = if !routes.is_empty() {
            match services.is_empty() {
                true => Category::Route,
                false => Category::RouteAndService,
            }
        } else if !domains.is_empty() {
            Category::Domain
        } else if !services.is_empty() {
            Category::Service
        } else if !route_prefixes.is_empty() {
            match consumers.is_empty() {
                true => Category::RoutePrefix,
                false => Category::RoutePrefixAndConsumer,
            }
        } else {
            return Err(ConfigError::at(
                place,
                "a rule needs at least one of '_match_route_', '_match_domain_', '_match_service_' and '_match_route_prefix_'",
            ));
        };
        Ok(Matcher {
            category,
            routes,
            domains,
            services,
            route_prefixes,
            consumers,
        })
    }

    fn matches(&self, request: &mut impl RequestFacts) -> bool {
        match self.category {
            Category::Route => self.route_matches(request.route_name()),
            Category::RouteAndService => {
                self.route_matches(request.route_name())
                    && self.service_matches(request.cluster_name())
            }
            Category::Domain => {
                let host = strip_port(request.authority());
                self.domains.iter().any(|d| d.matches(host))
            }
            Category::Service => self.service_matches(request.cluster_name()),
            Category::RoutePrefix => self.route_prefix_matches(request.route_name()),
            Category::RoutePrefixAndConsumer => {
                self.route_prefix_matches(request.route_name())
                    && self.consumers.iter().any(|c| c == request.consumer())
            }
        }
    }

    fn route_matches(&self, route: &str) -> bool {
        self.routes.iter().any(|r| r == route)
    }

    fn route_prefix_matches(&self, route: &str) -> bool {
        self.route_prefixes
            .iter()
            .any(|p| route.starts_with(p.as_str()))
    }

    fn service_matches(&self, cluster: &str) -> bool {
        let mut parts = cluster.split('|');
        let (Some(_), Some(port), Some(_), Some(fqdn), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return false;
        };
        self.services.iter().any(|service| {
            let with_port = service
                .rsplit_once(':')
                .is_some_and(|(name, p)| name == fqdn && p == port);
            with_port || service == fqdn
        })
    }
}

/// `host[:port]` without the port (IPv6 `[..]:port` too), as Envoy does.
fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon) if authority.rfind(']').is_none_or(|bracket| bracket < colon) => {
            &authority[..colon]
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Facts {
        authority: String,
        route: String,
        cluster: String,
        consumer: String,
    }

    impl RequestFacts for Facts {
        fn authority(&mut self) -> &str {
            &self.authority
        }
        fn route_name(&mut self) -> &str {
            &self.route
        }
        fn cluster_name(&mut self) -> &str {
            &self.cluster
        }
        fn consumer(&mut self) -> &str {
            &self.consumer
        }
    }

    fn host(authority: &str) -> Facts {
        Facts {
            authority: authority.into(),
            ..Facts::default()
        }
    }

    fn cluster(name: &str) -> Facts {
        Facts {
            cluster: name.into(),
            ..Facts::default()
        }
    }

    fn matcher(json: Value) -> Result<Matcher, ConfigError> {
        let Value::Object(mut map) = json else {
            panic!("an object")
        };
        Matcher::take_from(&mut map, "_rules_[0]")
    }

    /// Higress's `TestHostMatch` cases.
    #[test]
    fn domains_as_higress_matches_them() {
        for (pattern, authority, expected) in [
            ("www.*", "www.test.com", true),
            ("www.*", "test.com", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "example.com", false),
            ("www.example.com", "www.example.com", true),
            ("www.example.com", "example.com", false),
            ("www.example.com", "www.example.com:8080", true),
            ("*", "www.example.com", true),
            ("[::1]", "[::1]:8080", true),
            ("[::1]", "[::1]", true),
        ] {
            let m = matcher(serde_json::json!({"_match_domain_": [pattern]})).unwrap();
            assert_eq!(
                m.matches(&mut host(authority)),
                expected,
                "{pattern} vs {authority}"
            );
        }
    }

    /// Higress's `TestServiceMatch` cases.
    #[test]
    fn services_as_higress_matches_them() {
        for (service, expected) in [
            ("qwen.dns", true),
            ("qwen.dns:443", true),
            ("moonshot.dns:443", false),
            ("qwen.dns:", false),
        ] {
            let m = matcher(serde_json::json!({"_match_service_": [service]})).unwrap();
            assert_eq!(
                m.matches(&mut cluster("outbound|443||qwen.dns")),
                expected,
                "{service}"
            );
        }
        let m = matcher(serde_json::json!({"_match_service_": ["qwen.dns"]})).unwrap();
        assert!(
            !m.matches(&mut cluster("qwen.dns")),
            "not a Higress cluster name"
        );
    }

    #[test]
    fn categories_take_precedence_as_in_higress() {
        let m = matcher(serde_json::json!({
            "_match_route_": ["r1"], "_match_domain_": ["*"], "_match_service_": ["svc"]
        }))
        .unwrap();
        assert_eq!(m.category, Category::RouteAndService);
        let mut facts = Facts {
            route: "r1".into(),
            cluster: "outbound|80||svc".into(),
            ..Facts::default()
        };
        assert!(m.matches(&mut facts));
        facts.cluster = "outbound|80||other".into();
        assert!(!m.matches(&mut facts), "route and service must both match");
        let m =
            matcher(serde_json::json!({"_match_domain_": ["a.com"], "_match_service_": ["svc"]}))
                .unwrap();
        assert_eq!(m.category, Category::Domain);
        let m = matcher(serde_json::json!({"_match_route_prefix_": ["api-"]})).unwrap();
        assert!(m.matches(&mut Facts {
            route: "api-v1".into(),
            ..Facts::default()
        }));
        assert!(!m.matches(&mut Facts::default()));
        let m = matcher(serde_json::json!({
            "_match_route_prefix_": ["api-"], "_match_consumer_": ["alice"]
        }))
        .unwrap();
        assert_eq!(m.category, Category::RoutePrefixAndConsumer);
        assert!(m.matches(&mut Facts {
            route: "api-v1".into(),
            consumer: "alice".into(),
            ..Facts::default()
        }));
        assert!(!m.matches(&mut Facts {
            route: "api-v1".into(),
            consumer: "bob".into(),
            ..Facts::default()
        }));
    }

    #[derive(Debug, PartialEq)]
    struct Custom {
        name: String,
        age: i64,
    }

    fn parse_custom(json: &Value) -> Result<Custom, ConfigError> {
        Ok(Custom {
            name: json["name"].as_str().unwrap_or_default().to_string(),
            age: json["age"].as_i64().unwrap_or_default(),
        })
    }

    fn rules(json: Value) -> Result<RuleSet<Custom>, ConfigError> {
        parse(json.to_string().as_bytes(), parse_custom, None)
    }

    /// Higress's `TestParseRuleConfig` cases, and matching on their result.
    #[test]
    fn parses_rules_as_higress_does() {
        let set = rules(serde_json::json!({"name": "john", "age": 18})).unwrap();
        assert!(!set.has_rules());
        assert_eq!(set.select(&mut Facts::default()).unwrap().name, "john");

        let set = rules(serde_json::json!({"_rules_": [
            {"_match_domain_": ["*.example.com", "www.*", "*", "www.abc.com"], "name": "john", "age": 18},
            {"_match_route_": ["test1", "test2"], "name": "ann", "age": 16},
            {"_match_service_": ["test1.dns", "test2.static:8080"], "name": "ann", "age": 16},
            {"_match_route_prefix_": ["api1", "api2"], "name": "ann", "age": 16},
        ]}))
        .unwrap();
        assert!(set.global_config().is_none());
        assert_eq!(set.rules.len(), 4);
        let categories: Vec<Category> = set.rules.iter().map(|r| r.matcher.category).collect();
        assert_eq!(
            categories,
            [
                Category::Domain,
                Category::Route,
                Category::Service,
                Category::RoutePrefix
            ]
        );
        assert_eq!(
            set.rules[0].matcher.domains,
            [
                DomainMatch::Suffix(".example.com".into()),
                DomainMatch::Prefix("www.".into()),
                DomainMatch::Suffix(String::new()),
                DomainMatch::Exact("www.abc.com".into()),
            ]
        );
        assert_eq!(
            *set.rules[1].config,
            Custom {
                name: "ann".into(),
                age: 16
            }
        );
        // The first rule matches any domain: it wins.
        assert_eq!(set.select(&mut host("x.org")).unwrap().name, "john");
    }

    #[test]
    fn first_match_in_order_then_global_then_nothing() {
        let doc = |global: bool| {
            let mut json = serde_json::json!({"_rules_": [
                {"_match_route_": ["r1"], "name": "route"},
                {"_match_domain_": ["*.example.com"], "name": "domain"},
            ]});
            if global {
                json["name"] = "global".into();
            }
            json
        };
        let set = rules(doc(true)).unwrap();
        let mut both = Facts {
            route: "r1".into(),
            authority: "a.example.com:80".into(),
            ..Facts::default()
        };
        assert_eq!(set.select(&mut both).unwrap().name, "route");
        assert_eq!(
            set.select(&mut host("a.example.com")).unwrap().name,
            "domain"
        );
        assert_eq!(set.select(&mut host("other.com")).unwrap().name, "global");
        // Only rules: a request no rule matches gets no config.
        let set = rules(doc(false)).unwrap();
        assert!(set.select(&mut host("other.com")).is_none());
    }

    #[test]
    fn bad_documents_are_refused_with_the_place() {
        for (json, expected) in [
            (
                serde_json::json!({"_rules_": []}),
                "invalid configuration at _rules_: no valid rules, and no global configuration",
            ),
            (
                serde_json::json!({"_rules_": [{"age": 16}]}),
                "invalid configuration at _rules_[0]: a rule needs at least one of '_match_route_', '_match_domain_', '_match_service_' and '_match_route_prefix_'",
            ),
            (
                serde_json::json!({"_rules_": {"_match_route_": ["r"]}}),
                "invalid configuration at _rules_: must be a list of rules, not an object",
            ),
            (
                serde_json::json!({"_rules_": [{"_match_route_": ["r"]}, {"_match_domain_": "a.com"}]}),
                "invalid configuration at _rules_[1]._match_domain_: must be a list of strings, not a string",
            ),
            (
                serde_json::json!({"_rules_": [{"_match_route_": ["r", 1]}]}),
                "invalid configuration at _rules_[0]._match_route_: must be a list of strings, not a list",
            ),
            (
                serde_json::json!({"_rules_": ["r"]}),
                "invalid configuration at _rules_[0]: a rule must be an object, not a string",
            ),
        ] {
            let err = rules(json.clone()).err().unwrap_or_else(|| panic!("{json} accepted"));
            assert_eq!(err.to_string(), expected, "{json}");
        }
    }

    #[derive(Debug, PartialEq)]
    struct Complete {
        consumers: Vec<String>,
        allow: Vec<String>,
    }

    fn strings(json: &Value, key: &str) -> Vec<String> {
        json[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn parse_global(json: &Value) -> Result<Complete, ConfigError> {
        if json.get("consumers").is_some() && json.get("allow").is_some() {
            return Err(ConfigError::new(
                "consumers and allow should not be configured at the same level",
            ));
        }
        Ok(Complete {
            consumers: strings(json, "consumers"),
            allow: Vec::new(),
        })
    }

    fn parse_override(json: &Value, global: &Complete) -> Result<Complete, ConfigError> {
        if json.get("consumers").is_some() && json.get("allow").is_some() {
            return Err(ConfigError::new(
                "consumers and allow should not be configured at the same level",
            ));
        }
        Ok(Complete {
            consumers: global.consumers.clone(),
            allow: strings(json, "allow"),
        })
    }

    /// Higress's `TestParseOverrideConfig` cases.
    #[test]
    fn override_configs_build_on_the_global_one() {
        let parse_doc = |json: Value| {
            parse(
                json.to_string().as_bytes(),
                parse_global,
                Some(parse_override as ParseRuleFn<Complete>),
            )
        };
        let set = parse_doc(serde_json::json!({
            "consumers": ["c1", "c2", "c3"],
            "_rules_": [{"_match_route_": ["r1", "r2"], "allow": ["c1", "c3"]}],
        }))
        .unwrap();
        let mut r2 = Facts {
            route: "r2".into(),
            ..Facts::default()
        };
        assert_eq!(
            *set.select(&mut r2).unwrap(),
            Complete {
                consumers: vec!["c1".into(), "c2".into(), "c3".into()],
                allow: vec!["c1".into(), "c3".into()],
            }
        );
        assert!(set.select(&mut Facts::default()).unwrap().allow.is_empty());

        let err = parse_doc(serde_json::json!({"consumers": ["c1"], "allow": ["c1"]}))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "invalid configuration: consumers and allow should not be configured at the same level"
        );
        let err = parse_doc(serde_json::json!({"_rules_": [
            {"_match_route_": ["r1", "r2"], "consumers": ["c1", "c2"], "allow": ["c1"]}
        ]}))
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "invalid configuration at _rules_[0]: consumers and allow should not be configured at the same level"
        );
    }

    #[test]
    fn a_global_part_that_does_not_parse_is_dropped_when_rules_exist() {
        fn strict(json: &Value) -> Result<Custom, ConfigError> {
            match json["name"].as_str() {
                Some(name) => Ok(Custom {
                    name: name.into(),
                    age: 0,
                }),
                None => Err(ConfigError::at("name", "missing")),
            }
        }
        let set = parse(
            br#"{"age": 3, "_rules_": [{"_match_route_": ["r"], "name": "rule"}]}"#,
            strict,
            None,
        )
        .unwrap();
        assert!(set.global_config().is_none());
        // Without rules the same global part is refused.
        let err = parse(br#"{"age": 3}"#, strict, None).err().unwrap();
        assert_eq!(err.to_string(), "invalid configuration at name: missing");
    }

    #[test]
    fn merged_rules_state_only_what_they_change() {
        let doc = br#"{"name": "global", "age": 40,
            "_rules_": [{"_match_route_": ["r1"], "age": 7}]}"#;
        let set = parse_merging(doc, parse_custom, None, true).unwrap();
        let mut r1 = Facts {
            route: "r1".into(),
            ..Facts::default()
        };
        assert_eq!(
            *set.select(&mut r1).unwrap(),
            Custom {
                name: "global".into(),
                age: 7
            }
        );
        // Without merging the rule stands alone.
        let set = parse(doc, parse_custom, None).unwrap();
        assert_eq!(set.select(&mut r1).unwrap().name, "");
    }

    #[test]
    fn plugin_id_is_read_before_parsing_and_not_passed_on() {
        assert_eq!(
            plugin_id(br#"{"_plugin_id_": "p-7", "a": 1}"#).as_deref(),
            Some("p-7")
        );
        assert_eq!(plugin_id(br#"{"_plugin_id_": 3}"#).as_deref(), Some(""));
        assert_eq!(plugin_id(br#"{"a": 1}"#), None);
        assert_eq!(plugin_id(b"[1]"), None);
        assert_eq!(plugin_id(b"not json"), None);
    }

    #[test]
    fn strip_port_keeps_ipv6_brackets() {
        assert_eq!(strip_port("a.com:80"), "a.com");
        assert_eq!(strip_port("a.com"), "a.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
