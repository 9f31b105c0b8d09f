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
