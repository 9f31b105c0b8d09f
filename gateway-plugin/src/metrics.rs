//! Metrics: counters, gauges and histograms the gateway exports with its own
//! stats (Envoy shows them under `wasmcustom.<name>` in `/stats` and on its
//! Prometheus endpoint).
//!
//! Define them where the configuration is built (`#[parse_config]`), keep
//! them in the config, and use them from handlers. Defining is the only step
//! that can fail, and it fails as a configuration error; using one never
//! fails the request (a refused update is logged at `debug`).

use crate::host;
use std::fmt;

/// A metric the host would not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricError {
    name: String,
    status: u32,
}

impl MetricError {
    /// The metric's full name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the gateway refused to define metric {:?} (status {})",
            self.name, self.status
        )
    }
}

impl std::error::Error for MetricError {}

/// The metric's name with Higress-style labels folded in: `name` followed by
/// `_<key>_<value>` per label (`tokens`, `[("model", "qwen")]` →
/// `tokens_model_qwen`), so one definition per label set.
fn full_name(name: &str, labels: &[(&str, &str)]) -> String {
    let mut full = name.to_string();
    for (key, value) in labels {
        full.push('_');
        full.push_str(key);
        full.push('_');
        full.push_str(value);
    }
    full
}

fn define(kind: host::MetricType, name: &str, labels: &[(&str, &str)]) -> Result<u32, MetricError> {
    let name = full_name(name, labels);
    host::define_metric(kind, &name).map_err(|err| MetricError {
        name,
        status: err.status,
    })
}

fn ignore(what: &str, result: Result<(), host::HostError>) {
    if let Err(err) = result {
        log::debug!("{what}: {err}");
    }
}

/// A number that only goes up (requests served, tokens used).
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "counting")]
/// pub struct Counting {
///     requests: Counter,
/// }
///
/// #[parse_config]
/// fn parse(_json: &serde_json::Value) -> Result<Counting, MetricError> {
///     Ok(Counting { requests: Counter::new("counting_requests")? })
/// }
///
/// #[on_request_headers]
/// fn count(_ctx: &mut HttpContext, config: &Counting) -> Action {
///     config.requests.increment(1);
///     Action::Continue
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    id: u32,
}

impl Counter {
    /// Defines (or finds, if already defined) the counter `name`.
    pub fn new(name: &str) -> Result<Counter, MetricError> {
        Counter::with_labels(name, &[])
    }

    /// The counter `name` for one set of labels, folded into the name.
    pub fn with_labels(name: &str, labels: &[(&str, &str)]) -> Result<Counter, MetricError> {
        define(host::MetricType::Counter, name, labels).map(|id| Counter { id })
    }

    /// Adds `by`.
    pub fn increment(&self, by: u64) {
        let by = i64::try_from(by).unwrap_or(i64::MAX);
        ignore("increment counter", host::increment_metric(self.id, by));
    }

    /// The current value, if the host tells it.
    pub fn value(&self) -> Option<u64> {
        host::get_metric(self.id).ok()
    }
}

/// A number that goes up and down (connections open, items queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge {
    id: u32,
}

impl Gauge {
    /// Defines (or finds) the gauge `name`.
    pub fn new(name: &str) -> Result<Gauge, MetricError> {
        Gauge::with_labels(name, &[])
    }

    /// The gauge `name` for one set of labels, folded into the name.
    pub fn with_labels(name: &str, labels: &[(&str, &str)]) -> Result<Gauge, MetricError> {
        define(host::MetricType::Gauge, name, labels).map(|id| Gauge { id })
    }

    /// Sets the value.
    pub fn set(&self, value: u64) {
        ignore("set gauge", host::record_metric(self.id, value));
    }

    /// Adds `delta` (negative to go down).
    pub fn add(&self, delta: i64) {
        ignore("add to gauge", host::increment_metric(self.id, delta));
    }

    /// The current value, if the host tells it.
    pub fn value(&self) -> Option<u64> {
        host::get_metric(self.id).ok()
    }
}

/// A distribution of values (latencies, sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram {
    id: u32,
}

impl Histogram {
    /// Defines (or finds) the histogram `name`.
    pub fn new(name: &str) -> Result<Histogram, MetricError> {
        Histogram::with_labels(name, &[])
    }

    /// The histogram `name` for one set of labels, folded into the name.
    pub fn with_labels(name: &str, labels: &[(&str, &str)]) -> Result<Histogram, MetricError> {
        define(host::MetricType::Histogram, name, labels).map(|id| Histogram { id })
    }

    /// Records one value.
    pub fn record(&self, value: u64) {
        ignore("record histogram", host::record_metric(self.id, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fold_into_the_name() {
        assert_eq!(full_name("tokens", &[]), "tokens");
        assert_eq!(
            full_name("tokens", &[("model", "qwen"), ("route", "r1")]),
            "tokens_model_qwen_route_r1"
        );
    }

    #[test]
    fn a_refused_definition_is_an_error_naming_the_metric() {
        // The unit-test host answers Unimplemented (12) to every call.
        let err = Counter::with_labels("c", &[("k", "v")]).unwrap_err();
        assert_eq!(err.name(), "c_k_v");
        assert_eq!(
            err.to_string(),
            "the gateway refused to define metric \"c_k_v\" (status 12)"
        );
    }
}
