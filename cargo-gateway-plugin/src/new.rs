//! `cargo gateway-plugin new <name>`: a plugin crate from a template
//! (`templates/`, embedded), ready to build and with a passing host test.
//!
//! The crate depends on `gateway-plugin` (and, for tests, on
//! `gateway-plugin-test`) by path when the framework's sources are known —
//! `--path-to-framework`, else the repository this tool was built from if it
//! is still there — and by version `0.1` otherwise.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// `new`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The crate's name, and the folder to create (a path's last part is the name).
    name: PathBuf,
    /// What the plugin does to start with.
    #[arg(long, value_enum, default_value_t = Template::Basic)]
    template: Template,
    /// The gateway-plugin repository (the folder holding `gateway-plugin/`
    /// and `gateway-plugin-test/`), to depend on by path.
    #[arg(long, value_name = "DIR")]
    path_to_framework: Option<PathBuf>,
}

/// The starting points.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// Adds a configured request header; answers with a mock body if asked.
    Basic,
    /// An async callout (`.await`) to a token service before going upstream.
    HttpCall,
    /// A requests-per-minute limit counted in Redis.
    Redis,
    /// A streaming rewrite of the response body.
    Streaming,
    /// An MCP server: a tool calling a REST service, a tool with structured output.
    Mcp,
}

/// A template's files: `src/lib.rs`, `tests/plugin.rs`, `config.json`,
/// and what its Cargo.toml needs beyond `gateway-plugin`.
struct Files {
    lib: &'static str,
    test: &'static str,
    config: &'static str,
    about: &'static str,
    /// The runtime's features it turns on.
    features: &'static [&'static str],
    /// More `[dependencies]` lines.
    dependencies: &'static str,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::Basic => "basic",
            Template::HttpCall => "http-call",
            Template::Redis => "redis",
            Template::Streaming => "streaming",
            Template::Mcp => "mcp",
        }
    }

    fn files(self) -> Files {
        match self {
            Template::Basic => Files {
                lib: include_str!("../templates/basic/lib.rs"),
                test: include_str!("../templates/basic/plugin.rs"),
                config: include_str!("../templates/basic/config.json"),
                about: "It adds a configured header to every request and, with `mockEnable`, \
                        answers requests itself.",
                features: &[],
                dependencies: "",
            },
            Template::HttpCall => Files {
                lib: include_str!("../templates/http-call/lib.rs"),
                test: include_str!("../templates/http-call/plugin.rs"),
                config: include_str!("../templates/http-call/config.json"),
                about: "It asks a token service for a token (an async callout) before a \
                        request goes upstream. The tests answer the callouts with a closure.",
                features: &[],
                dependencies: "",
            },
            Template::Redis => Files {
                lib: include_str!("../templates/redis/lib.rs"),
                test: include_str!("../templates/redis/plugin.rs"),
                config: include_str!("../templates/redis/config.json"),
                about: "It limits requests per minute, counted in Redis (Higress only). \
                        The tests start a real `redis-server`, which must be on PATH.",
                features: &[],
                dependencies: "",
            },
            Template::Streaming => Files {
                lib: include_str!("../templates/streaming/lib.rs"),
                test: include_str!("../templates/streaming/plugin.rs"),
                config: include_str!("../templates/streaming/config.json"),
                about: "It rewrites text in the response body chunk by chunk, as it streams.",
                features: &[],
                dependencies: "",
            },
            Template::Mcp => Files {
                lib: include_str!("../templates/mcp/lib.rs"),
                test: include_str!("../templates/mcp/plugin.rs"),
                config: include_str!("../templates/mcp/config.json"),
                about: "It is an MCP server: MCP clients (AI agents) initialize a session, list \
                        its tools and call them; one calls a REST service. The tests speak \
                        the protocol to it on the test host.",
                features: &["mcp"],
                dependencies: "# Tool arguments derive `Deserialize` and `JsonSchema` by these crates' names.\n\
                               serde = { version = \"1\", features = [\"derive\"] }\n\
                               schemars = \"1\"\n",
            },
        }
    }
}

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.tmpl");
const README: &str = include_str!("../templates/README.md.tmpl");
const GITIGNORE: &str = include_str!("../templates/gitignore");
const WASM_PATH: &str = include_str!("../templates/wasm_path.rs");

/// Runs `new`.
pub fn run(args: Args) -> Result<()> {
    let dir = args.name;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("`{}` does not end in a crate name", dir.display()))?
        .to_string();
    validate_name(&name)?;
    // Nothing is written when the folder (or a file of that name) exists.
    if dir.symlink_metadata().is_ok() {
        bail!("`{}` already exists; not overwriting it", dir.display());
    }
    let framework = match args.path_to_framework {
        Some(path) => Some(framework_at(&path)?),
        None => built_from_framework(),
    };
    let files = render(&name, args.template, framework.as_deref())?;
    std::fs::create_dir_all(
        dir.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .with_context(|| format!("cannot create the parent folder of {}", dir.display()))?;
    // `create_dir`, not `_all`: fails if someone created it meanwhile.
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if let Err(err) = write_files(&dir, &files) {
        // Leave nothing half-made behind: the folder is ours, just created.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(err);
    }
    println!(
        "created `{name}` ({} template) in {}",
        args.template.name(),
        dir.display()
    );
    match &framework {
        Some(path) => println!("gateway-plugin: by path, {}", path.display()),
        None => println!("gateway-plugin: version 0.1 from your registry"),
    }
    println!("next: cd {} && cargo gateway-plugin test", dir.display());
    Ok(())
}

/// The files of a new crate, relative path and contents.
fn render(
    name: &str,
    template: Template,
    framework: Option<&Path>,
) -> Result<Vec<(&'static str, String)>> {
    let files = template.files();
    let features = match files.features {
        [] => String::new(),
        features => format!(
            ", features = [{}]",
            features
                .iter()
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let (runtime, test_host) = match framework {
        Some(root) => (
            format!(
                "{{ path = {}{features} }}",
                toml_string(&root.join("gateway-plugin"))?
            ),
            format!(
                "{{ path = {} }}",
                toml_string(&root.join("gateway-plugin-test"))?
            ),
        ),
        None if features.is_empty() => ("\"0.1\"".to_string(), "\"0.1\"".to_string()),
        None => (
            format!("{{ version = \"0.1\"{features} }}"),
            "\"0.1\"".to_string(),
        ),
    };
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{lib_name}}", &name.replace('-', "_"))
            .replace("{{template}}", template.name())
            .replace("{{about}}", files.about)
            .replace("{{gateway_plugin}}", &runtime)
            .replace("{{gateway_plugin_test}}", &test_host)
            .replace("{{dependencies}}\n", files.dependencies)
            .replace("{{wasm_path}}", WASM_PATH.trim_end())
    };
    Ok(vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        (".gitignore", GITIGNORE.to_string()),
        ("README.md", fill(README)),
        ("config.json", files.config.to_string()),
        ("src/lib.rs", fill(files.lib)),
        ("tests/plugin.rs", fill(files.test)),
    ])
}

fn write_files(dir: &Path, files: &[(&str, String)]) -> Result<()> {
    for (path, contents) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A crate name cargo accepts that also works as a plugin: ASCII letters,
/// digits, `-` and `_`, starting with a letter; not a Rust keyword or a
/// name the crate would clash with.
fn validate_name(name: &str) -> Result<()> {
    const RESERVED: &[&str] = &[
        "gateway-plugin",
        "gateway_plugin",
        "gateway-plugin-test",
        "gateway_plugin_test",
        "test",
        "std",
        "core",
        "alloc",
        "proc_macro",
        "proc-macro",
        "self",
        "super",
        "crate",
        "Self",
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "static",
        "struct",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
    ];
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !valid_chars || !starts_with_letter || name.len() > 64 {
        bail!(
            "invalid crate name `{name}`: use ASCII letters, digits, `-` and `_`, starting with a letter (at most 64)"
        );
    }
    if RESERVED.contains(&name) {
        bail!("invalid crate name `{name}`: it is a Rust keyword or clashes with a crate the plugin uses");
    }
    Ok(())
}

/// The framework repository at `path`: it must hold both crates.
fn framework_at(path: &Path) -> Result<PathBuf> {
    let root = path
        .canonicalize()
        .with_context(|| format!("--path-to-framework {}", path.display()))?;
    for krate in ["gateway-plugin", "gateway-plugin-test"] {
        if !root.join(krate).join("Cargo.toml").is_file() {
            bail!(
                "--path-to-framework {}: no {krate}/Cargo.toml there (give the gateway-plugin repository's folder)",
                path.display()
            );
        }
    }
    Ok(root)
}

/// The repository this tool was built from, if it is still there.
fn built_from_framework() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let has = |krate: &str| root.join(krate).join("Cargo.toml").is_file();
    (has("gateway-plugin") && has("gateway-plugin-test")).then(|| root.to_path_buf())
}

/// A path as a TOML string: a literal string (no escapes) when it can be.
fn toml_string(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not UTF-8, which Cargo.toml needs", path.display()))?;
    if !text.contains('\'') && !text.chars().any(char::is_control) {
        return Ok(format!("'{text}'"));
    }
    Ok(serde_json::to_string(text)?) // a JSON string is a valid TOML basic string here
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("my-plugin").is_ok());
        assert!(validate_name("my_plugin2").is_ok());
        for bad in [
            "",
            "2fast",
            "my plugin",
            "my.plugin",
            "fn",
            "test",
            "gateway-plugin",
            "é",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_template_fills_every_placeholder() {
        for template in [
            Template::Basic,
            Template::HttpCall,
            Template::Redis,
            Template::Streaming,
        ] {
            for framework in [None, Some(Path::new("/src/it's here"))] {
                for (path, text) in render("my-plugin", template, framework).unwrap() {
                    assert!(!text.contains("{{"), "{template:?} {path}");
                }
            }
        }
    }
}
