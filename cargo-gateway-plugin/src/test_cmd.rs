//! `cargo gateway-plugin test`: builds the plugin (release, as deployed),
//! then runs `cargo test` on the host with `GATEWAY_PLUGIN_WASM` set to the
//! `.wasm`'s absolute path, which the tests load into the test host.

use crate::build;
use crate::project::{cargo, Plugin};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// `test`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Passed on to `cargo test` (after `--`), e.g. `-- --nocapture`.
    #[arg(last = true, value_name = "ARGS")]
    cargo_test_args: Vec<String>,
}

/// Runs `test`.
pub fn run(args: Args) -> Result<()> {
    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    let wasm = build::build(&plugin, true, false)?;
    let wasm = wasm
        .canonicalize()
        .with_context(|| format!("cannot find {}", wasm.display()))?;
    eprintln!("note: GATEWAY_PLUGIN_WASM={}", wasm.display());
    let status = cargo()
        .arg("test")
        .arg("--manifest-path")
        .arg(&plugin.manifest_path)
        .args(&args.cargo_test_args)
        .env("GATEWAY_PLUGIN_WASM", &wasm)
        .status()
        .context("cannot run `cargo test`")?;
    if !status.success() {
        bail!("the tests of `{}` failed", plugin.name);
    }
    Ok(())
}
