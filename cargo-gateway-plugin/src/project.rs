//! Locating the plugin crate and its compiled `.wasm`, from
//! `cargo metadata --format-version 1 --no-deps` (the package's name, its
//! cdylib target's name, the workspace's target directory).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Rust target plugins are built for.
pub const WASM_TARGET: &str = "wasm32-wasip1";

/// The cargo to run: the one that ran us (`$CARGO`), else `cargo` on PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A plugin crate.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// The package name (`my-plugin`).
    pub name: String,
    /// The package version (`0.1.0`).
    pub version: String,
    /// Its `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The folder holding `Cargo.toml`.
    pub dir: PathBuf,
    /// The cdylib's file stem: the lib target name with `-` → `_`.
    pub artifact: String,
    /// Where cargo puts build output (honours `CARGO_TARGET_DIR`).
    pub target_dir: PathBuf,
}

/// The part of `cargo metadata` we read.
#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    crate_types: Vec<String>,
}

impl Plugin {
    /// The plugin crate of `manifest_path`, or of the nearest `Cargo.toml`
    /// from the current folder up.
    pub fn locate(manifest_path: Option<&Path>) -> Result<Plugin> {
        let manifest = match manifest_path {
            Some(path) => path
                .canonicalize()
                .with_context(|| format!("cannot read manifest {}", path.display()))?,
            None => nearest_manifest()?,
        };
        let output = cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest)
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run `cargo metadata`")?;
        if !output.status.success() {
            bail!("`cargo metadata` failed for {}", manifest.display());
        }
        let metadata: Metadata = serde_json::from_slice(&output.stdout)
            .context("cannot read the output of `cargo metadata`")?;
        let package = metadata
            .packages
            .into_iter()
            .find(|p| same_file(&p.manifest_path, &manifest))
            .with_context(|| {
                format!(
                    "{} is a workspace manifest, not a plugin crate's: use --manifest-path <crate>/Cargo.toml",
                    manifest.display()
                )
            })?;
        let lib = package
            .targets
            .iter()
            .find(|t| t.crate_types.iter().any(|c| c == "cdylib"))
            .with_context(|| {
                format!(
                    "package `{}` has no cdylib target: a plugin needs `[lib] crate-type = [\"cdylib\"]`",
                    package.name
                )
            })?;
        let dir = manifest
            .parent()
            .context("a manifest path has a folder")?
            .to_path_buf();
        Ok(Plugin {
            artifact: lib.name.replace('-', "_"),
            name: package.name,
            version: package.version,
            manifest_path: manifest,
            dir,
            target_dir: metadata.target_directory,
        })
    }

    /// The compiled plugin of a `release` or debug build.
    pub fn wasm_path(&self, release: bool) -> PathBuf {
        let profile = if release { "release" } else { "debug" };
        self.target_dir
            .join(WASM_TARGET)
            .join(profile)
            .join(format!("{}.wasm", self.artifact))
    }
}

/// `cargo locate-project`: the `Cargo.toml` of the package around the
/// current folder (not its workspace's).
fn nearest_manifest() -> Result<PathBuf> {
    let output = cargo()
        .args(["locate-project", "--message-format", "plain"])
        .stderr(Stdio::null())
        .output()
        .context("cannot run `cargo locate-project`")?;
    if !output.status.success() {
        let here = std::env::current_dir().unwrap_or_default();
        bail!(
            "no Cargo.toml in {} or above: run this in a plugin crate or pass --manifest-path",
            here.display()
        );
    }
    let path = String::from_utf8(output.stdout).context("manifest path is not UTF-8")?;
    Ok(PathBuf::from(path.trim()))
}

/// Whether two paths name the same file (cargo prints canonical paths, but
/// a symlinked folder may differ).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}
