//! `cargo gateway-plugin`: the command line for gateway-plugin plugins.
//!
//! - `new`: a plugin crate from a template, with a passing host test.
//! - `build`: the plugin for `wasm32-wasip1` (optionally `wasm-opt -Oz`).
//! - `test`: build, then the crate's tests with `GATEWAY_PLUGIN_WASM` set.
//! - `package`: an OCI image layout of the plugin (see [`package`]).
//! - `push`: that image to a registry over the OCI distribution API.
//! - `run`: build, then the plugin in a real Envoy in front of an echo
//!   backend, its log lines on the terminal (see [`run`]).
//!
//! Cargo runs a subcommand `cargo gateway-plugin ARGS` as
//! `cargo-gateway-plugin gateway-plugin ARGS`; run directly, the extra word
//! is absent. Both work. Every failure is one line on stderr, `error: ...`
//! with its causes joined by `: `, and exit code 1.

mod build;
mod new;
mod package;
mod project;
mod push;
mod run;
mod test_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// How cargo calls us: `cargo-gateway-plugin gateway-plugin <command>`.
#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// Create, build, test, run, package and push gateway-plugin plugins.
    GatewayPlugin(Cli),
}

/// The command line proper, after `gateway-plugin` if cargo added it.
#[derive(clap::Args)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The same command line, for running `cargo-gateway-plugin` directly.
#[derive(Parser)]
#[command(
    name = "cargo-gateway-plugin",
    bin_name = "cargo-gateway-plugin",
    version,
    about = "Create, build, test, run, package and push gateway-plugin plugins."
)]
struct Direct {
    #[command(flatten)]
    cli: Cli,
}

#[derive(Subcommand)]
enum Command {
    /// Create a plugin crate from a template.
    New(new::Args),
    /// Build the plugin for wasm32-wasip1.
    Build(build::Args),
    /// Build the plugin (release), then run its tests on the test host.
    Test(test_cmd::Args),
    /// Write the plugin as an OCI image layout.
    Package(package::Args),
    /// Push the plugin as an OCI image to a registry.
    Push(push::Args),
    /// Build the plugin and run it in a local Envoy, showing its logs.
    Run(run::Args),
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = if args.get(1).is_some_and(|a| a == "gateway-plugin") {
        Cargo::try_parse_from(args).map(|Cargo::GatewayPlugin(cli)| cli)
    } else {
        Direct::try_parse_from(args).map(|d| d.cli)
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    let result = match cli.command {
        Command::New(args) => new::run(args),
        Command::Build(args) => build::run(args),
        Command::Test(args) => test_cmd::run(args),
        Command::Package(args) => package::run(args),
        Command::Push(args) => push::run(args),
        Command::Run(args) => run::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` is anyhow's one-line form: the error and its causes
            // joined by ": ". Newlines from a cause would split it.
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Prints a command-line error. Help and version go to stdout, exit 0;
/// anything else is one line (clap's message and its hints, without the
/// usage block) and exit 1, like every other error of this tool.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = err.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {message} (see --help)");
    ExitCode::FAILURE
}

/// Joins a message's lines: an error is one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
