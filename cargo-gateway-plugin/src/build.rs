//! `cargo gateway-plugin build`: `cargo build --target wasm32-wasip1` in the
//! plugin crate (adding the target with rustup when it is missing), then
//! optionally `wasm-opt -Oz` (into `<name>.opt.wasm` beside cargo's
//! artifact); prints the `.wasm`'s path and size.

use crate::project::{cargo, Plugin, WASM_TARGET};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `build`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Build with the release profile (small, optimized).
    #[arg(long)]
    release: bool,
    /// Shrink the .wasm further with `wasm-opt -Oz` (binaryen), if installed.
    #[arg(long)]
    opt: bool,
    /// The plugin crate's Cargo.toml (default: the one around the current folder).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
}

/// Runs `build`.
pub fn run(args: Args) -> Result<()> {
    let plugin = Plugin::locate(args.manifest_path.as_deref())?;
    let wasm = build(&plugin, args.release, args.opt)?;
    print_artifact(&wasm)
}

/// Prints the artifact's path and size, the result of a build.
pub fn print_artifact(wasm: &Path) -> Result<()> {
    let size = std::fs::metadata(wasm)
        .with_context(|| format!("cannot read {}", wasm.display()))?
        .len();
    println!("{} ({} bytes)", wasm.display(), size);
    Ok(())
}

/// Builds the plugin for wasm32-wasip1 and returns its `.wasm`; with `opt`,
/// runs `wasm-opt -Oz` on it (a note and no change when wasm-opt is absent).
pub fn build(plugin: &Plugin, release: bool, opt: bool) -> Result<PathBuf> {
    ensure_target(&plugin.dir)?;
    let mut cmd = cargo();
    cmd.args(["build", "--target", WASM_TARGET, "--manifest-path"])
        .arg(&plugin.manifest_path);
    if release {
        cmd.arg("--release");
    }
    // The compiler's messages go straight to the user's terminal.
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .context("cannot run `cargo build`")?;
    if !status.success() {
        bail!(
            "`cargo build --target {WASM_TARGET}` of `{}` failed",
            plugin.name
        );
    }
    let wasm = plugin.wasm_path(release);
    if !wasm.is_file() {
        bail!("cargo built no {}", wasm.display());
    }
    if opt {
        return wasm_opt(&wasm);
    }
    Ok(wasm)
}

/// Adds the wasm32-wasip1 target with rustup when it is missing. Without
/// rustup the toolchain may still have it: a note, and the build tells.
fn ensure_target(dir: &Path) -> Result<()> {
    // In the crate's folder: a rust-toolchain.toml there picks the toolchain.
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .stderr(Stdio::null())
        .output();
    let listed = match listed {
        Ok(output) if output.status.success() => output.stdout,
        Ok(_) => bail!("`rustup target list --installed` failed"),
        Err(_) => {
            eprintln!(
                "note: rustup not found; assuming the toolchain has the {WASM_TARGET} target \
                 (without it the build fails with \"can't find crate for `std`\")"
            );
            return Ok(());
        }
    };
    if String::from_utf8_lossy(&listed)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    eprintln!("note: adding the {WASM_TARGET} target (rustup target add {WASM_TARGET})");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(dir)
        .status()
        .context("cannot run `rustup target add`")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

/// Whether `wasm-opt` is on PATH.
pub fn have_wasm_opt() -> bool {
    Command::new("wasm-opt")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `wasm-opt -Oz` of `wasm` into `<name>.opt.wasm` next to it, which it
/// returns (`wasm` itself, with a note, when wasm-opt is not installed).
/// Cargo's artifact stays as built: optimizing an optimized module again
/// need not give the same bytes, and the image digest must not drift. The
/// output is written under a temporary name and renamed, so a reader never
/// sees half a file. The feature flags are those rustc emits for
/// wasm32-wasip1, which older binaryen refuses unless told.
fn wasm_opt(wasm: &Path) -> Result<PathBuf> {
    if !have_wasm_opt() {
        eprintln!("note: wasm-opt not found on PATH (apt-get install binaryen); skipping --opt");
        return Ok(wasm.to_path_buf());
    }
    let out = wasm.with_extension("opt.wasm");
    let temp = wasm.with_extension(format!("opt.wasm.tmp-{}", std::process::id()));
    let status = Command::new("wasm-opt")
        .arg("-Oz")
        .args([
            "--enable-bulk-memory",
            "--enable-sign-ext",
            "--enable-nontrapping-float-to-int",
            "--enable-mutable-globals",
        ])
        .arg(wasm)
        .arg("-o")
        .arg(&temp)
        .status()
        .context("cannot run wasm-opt")?;
    if !status.success() {
        let _ = std::fs::remove_file(&temp);
        bail!("wasm-opt failed on {}", wasm.display());
    }
    std::fs::rename(&temp, &out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out)
}
