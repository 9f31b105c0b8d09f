//! Envoy's log lines as `run` shows them: split in Envoy's default format,
//! the plugin's own lines shortened to `info [my-plugin] ...`, Envoy's lines
//! at warning and above passed through as `envoy: ...`, and the plugin's
//! last error picked out when Envoy exits at startup.

/// A line of Envoy's log, `[time][thread][level][component] [file:line] message`.
pub(super) struct EnvoyLine<'a> {
    pub(super) level: &'a str,
    component: &'a str,
    pub(super) message: &'a str,
}

/// Splits a log line in Envoy's default format; `None` for anything else
/// (the continuation of a message with a newline, Envoy's last words).
pub(super) fn parse_line(line: &str) -> Option<EnvoyLine<'_>> {
    let rest = line.strip_prefix('[')?;
    let (_time, rest) = rest.split_once("][")?;
    let (_thread, rest) = rest.split_once("][")?;
    let (level, rest) = rest.split_once("][")?;
    let (component, rest) = rest.split_once(']')?;
    let rest = rest.trim_start();
    let message = match rest.strip_prefix('[') {
        Some(located) => located.split_once("] ").map_or(located, |(_, m)| m),
        None => rest,
    };
    Some(EnvoyLine {
        level,
        component,
        message,
    })
}

impl EnvoyLine<'_> {
    /// The plugin's own message, for a line the plugin logged:
    /// `wasm log <root_id> <vm_id>: [my-plugin] message` → `[my-plugin] message`.
    fn plugin_message(&self) -> Option<&str> {
        if self.component != "wasm" {
            return None;
        }
        let after = self.message.strip_prefix("wasm log")?;
        Some(after.split_once(": ").map_or(after, |(_, m)| m))
    }
}

/// The plugin's last error (or critical) line among `lines`.
pub(super) fn plugin_error(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let line = parse_line(l)?;
        if !matches!(line.level, "error" | "critical") {
            return None;
        }
        line.plugin_message().map(str::to_string)
    })
}

/// The one-line reason for V8's "missing import" (the plugin calls a host
/// function this Envoy does not have), with what to do; `None` for any
/// other line.
pub(super) fn missing_import(line: &str) -> Option<String> {
    let (_, import) = line.split_once("missing import: ")?;
    let import = import.split_whitespace().next().unwrap_or(import);
    if import.contains("proxy_redis_") {
        return Some(format!(
            "Envoy cannot load the plugin: it imports {import}, Higress's Redis host call, \
             which upstream Envoy does not have; test it with `cargo gateway-plugin test` \
             (the test host has Redis), or run it in a Higress gateway"
        ));
    }
    Some(format!(
        "Envoy cannot load the plugin: it imports {import}, a host call this Envoy does not have"
    ))
}

/// Prints Envoy's lines as `run` shows them.
#[derive(Default)]
pub(super) struct LinePrinter {
    /// How the last line was shown, for a message's continuation lines.
    last: Shown,
}

/// How a line was shown.
#[derive(Default, Clone, Copy, PartialEq)]
enum Shown {
    #[default]
    Not,
    Plugin,
    Envoy,
}

impl LinePrinter {
    /// Prints a plugin line as `level [my-plugin] message`, an Envoy line at
    /// warning and above as `envoy: <line>`, nothing else.
    pub(super) fn print(&mut self, line: &str) {
        let Some(parsed) = parse_line(line) else {
            match self.last {
                Shown::Plugin => println!("  {line}"),
                Shown::Envoy => println!("envoy: {line}"),
                Shown::Not => {}
            }
            return;
        };
        if let Some(message) = parsed.plugin_message() {
            println!("{} {message}", parsed.level);
            self.last = Shown::Plugin;
        } else if matches!(parsed.level, "warning" | "error" | "critical") {
            println!("envoy: {line}");
            self.last = Shown::Envoy;
        } else {
            self.last = Shown::Not;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_import_is_one_line_saying_what_to_do() {
        let line = "[2026-12-08 01:30:00.000][12][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Failed to load Wasm module due to a missing import: env.proxy_redis_init";
        let reason = missing_import(line).unwrap();
        assert!(reason.contains("imports env.proxy_redis_init,"), "{reason}");
        assert!(reason.contains("cargo gateway-plugin test"), "{reason}");
        let other = missing_import("... due to a missing import: env.proxy_foo").unwrap();
        assert!(
            other.ends_with("imports env.proxy_foo, a host call this Envoy does not have"),
            "{other}"
        );
        assert_eq!(missing_import("Unable to create Wasm plugin p"), None);
    }

    #[test]
    fn shortens_a_plugin_line() {
        let line = "[2026-11-25 21:27:28.074][29702][info][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log: [basic-plugin] GET /";
        let parsed = parse_line(line).unwrap();
        assert_eq!(parsed.level, "info");
        assert_eq!(parsed.plugin_message(), Some("[basic-plugin] GET /"));
        let with_ids = "[t][1][error][wasm] [context.cc:1] wasm log my-root my-vm: [p] invalid configuration: x";
        assert_eq!(
            plugin_error(&[with_ids.to_string()]).as_deref(),
            Some("[p] invalid configuration: x")
        );
    }

    #[test]
    fn envoy_lines_are_not_plugin_lines() {
        let line = "[t][1][error][wasm] [source/extensions/common/wasm/wasm.cc:104] Wasm VM failed Failed to configure base Wasm plugin";
        assert_eq!(parse_line(line).unwrap().plugin_message(), None);
        assert!(parse_line("Unable to create Wasm plugin p").is_none());
    }
}
