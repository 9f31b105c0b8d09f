//! What can go wrong when loading, configuring or running a plugin.

use std::fmt;

/// A failure of the plugin or of the host; `Display` says what and where,
/// with the plugin's log lines where they help.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The `.wasm` could not be read or compiled.
    Load { path: String, reason: String },
    /// The plugin imports a function this host does not provide.
    UnknownImport { module: String, name: String },
    /// The plugin lacks an export every proxy-wasm plugin has.
    MissingExport { name: String },
    /// The plugin refused its configuration (`proxy_on_vm_start` or
    /// `proxy_on_configure` returned false); `logs` are its log lines.
    Refused { logs: Vec<String> },
    /// The plugin trapped (a Rust panic, a Go `panic`, `unreachable`...) in
    /// `callback`. The VM is replaced before the next call, as a gateway
    /// with a reload policy does.
    Trap {
        callback: String,
        message: String,
        logs: Vec<String>,
    },
    /// Streams waited with nothing left to wake them (a plugin that pauses
    /// and never resumes: in a gateway, a hung request).
    Stuck {
        streams: Vec<String>,
        seed: Option<u64>,
    },
    /// A request a gateway would refuse before any plugin sees it: a
    /// header (or trailer) whose name is empty or not a token, or whose
    /// value has CR, LF or NUL. Envoy answers such a request 400 itself.
    BadRequest { header: String, reason: String },
}

impl Error {
    /// The plugin's log lines, for a refused configuration or a trap.
    pub fn logs(&self) -> &[String] {
        match self {
            Error::Refused { logs } | Error::Trap { logs, .. } => logs,
            _ => &[],
        }
    }
}

fn write_logs(f: &mut fmt::Formatter<'_>, logs: &[String]) -> fmt::Result {
    if !logs.is_empty() {
        write!(f, "\nplugin log:")?;
        for line in logs {
            write!(f, "\n  {line}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load { path, reason } => write!(f, "cannot load {path}: {reason}"),
            Error::UnknownImport { module, name } => write!(
                f,
                "the plugin imports `{module}.{name}`, which this proxy-wasm host does not provide"
            ),
            Error::MissingExport { name } => {
                write!(
                    f,
                    "the plugin does not export `{name}`: is it a proxy-wasm plugin?"
                )
            }
            Error::Refused { logs } => {
                write!(f, "the plugin refused its configuration")?;
                write_logs(f, logs)
            }
            Error::Trap {
                callback,
                message,
                logs,
            } => {
                write!(f, "the plugin trapped in {callback}: {message}")?;
                write_logs(f, logs)
            }
            Error::BadRequest { header, reason } => write!(
                f,
                "a gateway refuses this request before the plugin sees it: header {header:?} {reason}"
            ),
            Error::Stuck { streams, seed } => {
                write!(
                    f,
                    "streams wait and nothing is left to resume them: {}",
                    streams.join(", ")
                )?;
                if let Some(seed) = seed {
                    write!(f, " (interleaving seed {seed})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}
