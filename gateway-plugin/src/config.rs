//! Plugin configuration: from the JSON the gateway sends to the user's type.
//!
//! Three sources, picked at compile time by what the config type offers (see
//! `__parse_config!` in `lookup.rs`): a `#[parse_config]` function, else serde's
//! `Deserialize` (an empty configuration means `Default` where the type has
//! one), else `Default` alone for a plugin that takes no configuration. A
//! config that does not fit becomes a [`ConfigError`] naming the field path
//! and the reason; the root context logs it and refuses the configuration.
//! Splitting a configuration into its global part and `_rules_` is
//! `rules.rs`'s.

use serde::de::DeserializeOwned;
use std::fmt;

/// Why a plugin configuration was refused.
///
/// Its `Display` is what the gateway log shows after the `[plugin-name]`
/// prefix, e.g. `invalid configuration at mockEnable: invalid type: string
/// "yes", expected a boolean`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    path: Option<String>,
    reason: String,
}

impl ConfigError {
    /// An error about the configuration as a whole.
    pub fn new(reason: impl fmt::Display) -> Self {
        ConfigError {
            path: None,
            reason: reason.to_string(),
        }
    }

    /// An error about one field, e.g. `at("rules[0].name", "must not be empty")`.
    pub fn at(path: impl Into<String>, reason: impl fmt::Display) -> Self {
        ConfigError {
            path: Some(path.into()),
            reason: reason.to_string(),
        }
    }

    /// The path of the offending field (`a.b[0].c`), if the error is about one.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The same error, for a part of the document at `place` (a rule).
    pub(crate) fn within(self, place: &str) -> Self {
        let path = match self.path {
            None => place.to_string(),
            Some(path) if path.starts_with('[') => format!("{place}{path}"),
            Some(path) => format!("{place}.{path}"),
        };
        ConfigError {
            path: Some(path),
            reason: self.reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "invalid configuration at {}: {}", path, self.reason),
            None => write!(f, "invalid configuration: {}", self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

/// An empty configuration: nothing, whitespace, or the literal `null`
/// (gateways send any of them for "no configuration"; all mean the same).
pub(crate) fn is_blank(raw: &[u8]) -> bool {
    let trimmed = raw.trim_ascii();
    trimmed.is_empty() || trimmed == b"null"
}

/// Parses the raw configuration as JSON; an empty one reads as `{}`.
pub fn parse_json(raw: &[u8]) -> Result<serde_json::Value, ConfigError> {
    if is_blank(raw) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(raw).map_err(|e| ConfigError::new(format_args!("not valid JSON: {e}")))
}

/// Deserializes the configuration with serde, naming the failing field.
pub fn from_serde<C: DeserializeOwned>(raw: &[u8]) -> Result<C, ConfigError> {
    from_serde_value(&parse_json(raw)?)
}

/// Deserializes one part of the configuration (the global part, a rule).
pub fn from_serde_value<C: DeserializeOwned>(json: &serde_json::Value) -> Result<C, ConfigError> {
    serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        // serde_path_to_error prints `.` for the root.
        if path == "." {
            ConfigError::new(reason)
        } else {
            ConfigError::at(path, reason)
        }
    })
}

/// Like [`from_serde`], but an empty configuration is `C::default()`.
pub fn from_serde_or_default<C: DeserializeOwned + Default>(raw: &[u8]) -> Result<C, ConfigError> {
    if is_blank(raw) {
        Ok(C::default())
    } else {
        from_serde(raw)
    }
}

/// Runs a `#[parse_config]` function on (a part of) the configuration.
pub fn from_parse_fn<C, E: fmt::Display>(
    json: &serde_json::Value,
    parse: fn(&serde_json::Value) -> Result<C, E>,
) -> Result<C, ConfigError> {
    parse(json).map_err(ConfigError::new)
}

/// Runs a `#[parse_rule_config]` function on a rule and the global config.
pub fn from_parse_rule_fn<C, E: fmt::Display>(
    json: &serde_json::Value,
    global: &C,
    parse: fn(&serde_json::Value, &C) -> Result<C, E>,
) -> Result<C, ConfigError> {
    parse(json, global).map_err(ConfigError::new)
}

/// For a config type without `Deserialize`: only an empty configuration (or
/// `{}` / `null`, which is what gateways send for "nothing") is accepted.
///
/// Deliberately does not touch `serde_json`, so a plugin without
/// configuration does not carry a JSON parser in its `.wasm`.
pub fn from_default<C: Default>(raw: &[u8]) -> Result<C, ConfigError> {
    let trimmed: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    match trimmed.as_slice() {
        b"" | b"{}" | b"null" => Ok(C::default()),
        _ => Err(ConfigError::new(
            "this plugin takes no configuration (its config type does not implement Deserialize)",
        )),
    }
}

/// A parser for one part of the document: the global part, or a rule alone.
pub(crate) type ParseFn<C> = fn(&serde_json::Value) -> Result<C, ConfigError>;
/// A parser for a rule given the global config (Go's `ParseOverrideConfig`).
pub(crate) type ParseRuleFn<C> = fn(&serde_json::Value, &C) -> Result<C, ConfigError>;

/// Implemented by `#[parse_config]` for the type its function returns.
pub trait ParseConfig: Sized {
    /// Calls the `#[parse_config]` function on (a part of) the configuration.
    fn parse_config(json: &serde_json::Value) -> Result<Self, ConfigError>;
}

/// Implemented by `#[parse_rule_config]` for the type its function returns.
pub trait ParseRuleConfig: Sized {
    /// Calls the `#[parse_rule_config]` function on a rule.
    fn parse_rule_config(json: &serde_json::Value, global: &Self) -> Result<Self, ConfigError>;
}

/// The configuration sources' last tier ("no source"), declared here by
/// hand rather than with `lookup.rs`'s other tiers: the compile error it
/// exists for names this place (and the ui-tests' snapshots show it).
/// `lookup.rs` implements it.
#[doc(hidden)]
pub(crate) mod probe {
    use super::{ConfigError, ParseRuleFn};

    /// Never implemented: the bound on [`NoConfigSource::parse_config`] turns
    /// "no configuration source" into an error that says what to do.
    #[diagnostic::on_unimplemented(
        message = "the plugin configuration type `{Self}` cannot be built from the gateway's configuration",
        label = "no configuration source for `{Self}`",
        note = "derive `Deserialize` for it, write a `#[parse_config]` function that returns it, or implement `Default` for a plugin that takes no configuration"
    )]
    pub trait ConfigSource {}

    pub trait NoConfigSource<C> {
        /// What `parse_rules` returns: `RuleSet<C>` (named where it is
        /// implemented, so this module needs no `rules.rs`).
        type Rules;
        fn parse_config(&self, raw: &[u8]) -> Result<C, ConfigError>
        where
            C: ConfigSource;
        fn may_have_rules(&self) -> bool;
        fn parse_rules(
            &self,
            raw: &[u8],
            rule: Option<ParseRuleFn<C>>,
            merge: bool,
        ) -> Result<Self::Rules, ConfigError>
        where
            C: ConfigSource;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct MyConfig {
        #[serde(default)]
        mock_enable: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Nested {
        rules: Vec<Rule>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Rule {
        #[allow(dead_code)]
        name: String,
        port: u16,
    }

    #[derive(Debug, Default, PartialEq)]
    struct NoConfig;

    #[derive(Debug, PartialEq)]
    struct Parsed(String);

    impl ParseConfig for Parsed {
        fn parse_config(json: &serde_json::Value) -> Result<Self, ConfigError> {
            from_parse_fn(json, |json| {
                match json.get("name").and_then(|v| v.as_str()) {
                    Some(name) => Ok(Parsed(name.to_string())),
                    None => Err("name is required"),
                }
            })
        }
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = crate::__parse_config!(MyConfig, br#"{"mockEnable": "yes"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid configuration at mockEnable: invalid type: string "yes", expected a boolean"#
        );
    }

    #[test]
    fn nested_path_is_named() {
        let err = crate::__parse_config!(Nested, br#"{"rules": [{"name": "a", "port": 70000}]}"#)
            .unwrap_err();
        assert_eq!(err.path(), Some("rules[0].port"));
        assert!(err.reason().contains("70000"), "{err}");
    }

    #[test]
    fn missing_field_at_root_has_no_path() {
        let err = crate::__parse_config!(Nested, b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: missing field `rules`"
        );
    }

    #[test]
    fn empty_means_default_when_there_is_one() {
        assert_eq!(
            crate::__parse_config!(MyConfig, b"").unwrap(),
            MyConfig::default()
        );
        assert_eq!(
            crate::__parse_config!(MyConfig, br#"{"mockEnable": true}"#).unwrap(),
            MyConfig { mock_enable: true }
        );
    }

    #[test]
    fn empty_without_default_reads_as_empty_object() {
        let err = crate::__parse_config!(Nested, b"  ").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: missing field `rules`"
        );
    }

    #[test]
    fn not_json_is_refused() {
        let err = crate::__parse_config!(MyConfig, b"{mockEnable").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid configuration: not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn default_only_type_takes_nothing() {
        assert_eq!(crate::__parse_config!(NoConfig, b"").unwrap(), NoConfig);
        assert_eq!(
            crate::__parse_config!(NoConfig, b" { } ").unwrap(),
            NoConfig
        );
        let err = crate::__parse_config!(NoConfig, br#"{"a": 1}"#).unwrap_err();
        assert!(err.to_string().contains("takes no configuration"), "{err}");
    }

    #[test]
    fn null_is_the_empty_configuration_and_a_list_is_refused() {
        for raw in [&b""[..], b"  ", b"null", b" null\n"] {
            let rules = crate::__parse_rules!(MyConfig, raw, false).unwrap();
            assert_eq!(
                **rules.global_config().unwrap(),
                MyConfig::default(),
                "{raw:?}"
            );
        }
        let err = crate::__parse_rules!(MyConfig, b"[true]", false)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "invalid configuration: the configuration must be a JSON object, not a list"
        );
    }

    #[test]
    fn parse_fn_wins_and_its_error_is_kept() {
        assert_eq!(
            crate::__parse_config!(Parsed, br#"{"name": "x"}"#).unwrap(),
            Parsed("x".into())
        );
        let err = crate::__parse_config!(Parsed, b"").unwrap_err();
        assert_eq!(err.to_string(), "invalid configuration: name is required");
    }
}
