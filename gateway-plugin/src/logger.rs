//! The bridge from the `log` crate to the host log.
//!
//! Plugin code logs with `log::info!(..)` and friends; each record reaches the
//! gateway's log as `[plugin-name] message`. The `log` crate's max level is
//! set from the host's level when the VM starts and at every (re)configure, so
//! a disabled level costs one integer compare and no host call.

use crate::host;
use log::{Level, LevelFilter, Log, Metadata, Record};
use proxy_wasm::types::LogLevel;
use std::sync::OnceLock;

static PLUGIN_NAME: OnceLock<&'static str> = OnceLock::new();
static LOGGER: HostLogger = HostLogger;

struct HostLogger;

impl Log for HostLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => LogLevel::Error,
            Level::Warn => LogLevel::Warn,
            Level::Info => LogLevel::Info,
            Level::Debug => LogLevel::Debug,
            Level::Trace => LogLevel::Trace,
        };
        let message = format!("[{}] {}", plugin_name(), record.args());
        // Nowhere to report a failing log call; dropping the line is all we can do.
        let _ = host::log(level, &message);
    }

    fn flush(&self) {}
}

/// The plugin's name, as given to `#[plugin(name = "...")]`.
pub fn plugin_name() -> &'static str {
    PLUGIN_NAME.get().copied().unwrap_or("gateway-plugin")
}

/// Installs the logger and the panic hook; called once from the generated
/// `_initialize`.
pub(crate) fn install(name: &'static str) {
    let _ = PLUGIN_NAME.set(name);
    // A second install (two plugins in one VM) keeps the first; not an error.
    let _ = log::set_logger(&LOGGER);
    // No host call here: hosts refuse them during `_initialize` (Envoy's V8
    // traps with `restricted_callback`). The real level is read at VM start.
    log::set_max_level(LevelFilter::Info);
    std::panic::set_hook(Box::new(|info| {
        // Rust on wasm32 cannot unwind: the VM is about to trap. Leave the
        // reason in the gateway log so the failure policy's effect is explained.
        let message = format!("[{}] panicked: {}", plugin_name(), info);
        let _ = host::log(LogLevel::Critical, &message);
    }));
}

/// Reads the host's log level into the `log` crate's max level.
pub(crate) fn refresh_level() {
    let filter = match host::log_level() {
        Ok(LogLevel::Trace) => LevelFilter::Trace,
        Ok(LogLevel::Debug) => LevelFilter::Debug,
        Ok(LogLevel::Info) => LevelFilter::Info,
        Ok(LogLevel::Warn) => LevelFilter::Warn,
        Ok(LogLevel::Error) => LevelFilter::Error,
        Ok(LogLevel::Critical) => LevelFilter::Off,
        // A host without proxy_get_log_level: keep what it sends us at info.
        Err(_) => LevelFilter::Info,
    };
    log::set_max_level(filter);
}
