//! The bridge from the `log` crate to the host log.
//!
//! Plugin code logs with `log::info!(..)` and friends; each record reaches the
//! gateway's log as `[plugin-name] message`, or, with `#[plugin(log =
//! "higress")]`, as Higress's Go SDK writes it (`higress-group/wasm-go`,
//! `pkg/wrapper/log_wrapper.go`): `[plugin-name] [plugin-id] [request-id]
//! message`, the id from the configuration's `_plugin_id_` and the request's
//! from the property `x_request_id`, each `nil` when absent. The `log` crate's max level is
//! set from the host's level when the VM starts and at every (re)configure, so
//! a disabled level costs one integer compare and no host call.

use crate::host;
use log::{Level, LevelFilter, Log, Metadata, Record};
use proxy_wasm::types::LogLevel;
use std::cell::RefCell;
use std::sync::OnceLock;

static PLUGIN_NAME: OnceLock<&'static str> = OnceLock::new();
static PLAIN: HostLogger<false> = HostLogger;
static HIGRESS: HostLogger<true> = HostLogger;

thread_local! {
    // Higress's `_plugin_id_` (one VM runs one thread).
    static PLUGIN_ID: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Remembers the configuration's `_plugin_id_` for Higress-format lines.
pub(crate) fn set_plugin_id(id: &str) {
    PLUGIN_ID.with(|p| *p.borrow_mut() = Some(id.to_string()));
}

/// Writes the line's prefix, `[name]` or `[name] [plugin-id] [request-id]`,
/// into `out`. (A const parameter, so a plugin links only the format it uses.)
fn write_prefix<const HIGRESS: bool>(out: &mut String) {
    out.push('[');
    out.push_str(plugin_name());
    out.push(']');
    if !HIGRESS {
        return;
    }
    fn or_nil(s: &str) -> &str {
        if s.is_empty() {
            "nil"
        } else {
            s
        }
    }
    let request_id = host::get_property(&["x_request_id"])
        .ok()
        .flatten()
        .map(|id| String::from_utf8_lossy(&id).into_owned())
        .unwrap_or_default();
    out.push_str(" [");
    PLUGIN_ID.with(|p| out.push_str(or_nil(p.borrow().as_deref().unwrap_or(""))));
    out.push_str("] [");
    out.push_str(or_nil(&request_id));
    out.push(']');
}

/// A log line: the prefix, a space, the message. Sized once for a typical
/// line, so formatting does not grow it step by step (each step a copy).
fn line<const HIGRESS: bool>(message: std::fmt::Arguments<'_>) -> String {
    let mut line = String::with_capacity(160);
    write_prefix::<HIGRESS>(&mut line);
    line.push(' ');
    match message.as_str() {
        Some(text) => line.push_str(text),
        None => {
            let _ = std::fmt::Write::write_fmt(&mut line, message);
        }
    }
    line
}

struct HostLogger<const HIGRESS: bool>;

impl<const HIGRESS: bool> Log for HostLogger<HIGRESS> {
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
        let message = line::<HIGRESS>(*record.args());
        // Nowhere to report a failing log call; dropping the line is all we can do.
        let _ = host::log(level, &message);
    }

    fn flush(&self) {}
}

/// The plugin's name, as given to `#[plugin(name = "...")]`.
pub(crate) fn plugin_name() -> &'static str {
    PLUGIN_NAME.get().copied().unwrap_or("gateway-plugin")
}

/// Installs the logger and the panic hook; called once from the generated
/// `_initialize`.
pub(crate) fn install(name: &'static str, higress_format: bool) {
    let _ = PLUGIN_NAME.set(name);
    // A second install (two plugins in one VM) keeps the first; not an error.
    let _ = match higress_format {
        true => log::set_logger(&HIGRESS),
        false => log::set_logger(&PLAIN),
    };
    // No host call here: hosts refuse them during `_initialize` (Envoy's V8
    // traps with `restricted_callback`). The real level is read at VM start.
    log::set_max_level(LevelFilter::Info);
    std::panic::set_hook(match higress_format {
        true => Box::new(panic_hook::<true>),
        false => Box::new(panic_hook::<false>),
    });
}

/// Rust on wasm32 cannot unwind: the VM is about to trap. Leave the reason
/// in the gateway log so the failure policy's effect is explained.
fn panic_hook<const HIGRESS: bool>(info: &std::panic::PanicHookInfo<'_>) {
    let message = line::<HIGRESS>(format_args!("panicked: {info}"));
    let _ = host::log(LogLevel::Critical, &message);
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
