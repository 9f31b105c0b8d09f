//! Helpers shared by the integration tests: running the built binary,
//! scratch folders, the shared target directory, generated plugin crates.

#![allow(dead_code)] // each test binary uses a part of this

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cargo-gateway-plugin")
}

/// The gateway-plugin repository.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the repository")
        .to_path_buf()
}

/// The workspace's own target directory, for every generated crate: with
/// the workspace's Cargo.lock and profiles they reuse what `cargo test`
/// already compiled (wasmtime above all). Cargo releases its lock on it
/// while the tests run.
pub fn shared_target() -> PathBuf {
    repo_root().join("target")
}

/// Runs `cargo-gateway-plugin ARGS` in `dir` with the shared target
/// directory, `stdin` as its input.
pub fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env_remove("GATEWAY_PLUGIN_WASM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin {
        Some(input) => {
            use std::io::Write;
            cmd.stdin(Stdio::piped());
            let mut child = cmd.spawn().expect("run cargo-gateway-plugin");
            child
                .stdin
                .take()
                .expect("piped stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
            child
                .wait_with_output()
                .expect("wait for cargo-gateway-plugin")
        }
        None => cmd
            .stdin(Stdio::null())
            .output()
            .expect("run cargo-gateway-plugin"),
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success, showing both streams otherwise.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Asserts the failure of a CLI error: exit code 1, stderr one line
/// `error: ...`; returns that line.
pub fn assert_one_line_error(out: &Output, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1:\n--- stdout\n{}\n--- stderr\n{err}",
        stdout(out)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: expected one line on stderr:\n{err}"
    );
    assert!(lines[0].starts_with("error: "), "{what}: {err}");
    lines[0].to_string()
}

/// A folder under the system's temp folder, removed on drop (kept when
/// the test failed, to look at).
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cargo-gateway-plugin-{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch folder");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `new NAME --template TEMPLATE` in `parent`, plus the repository's
/// Cargo.lock, so the crate builds with the versions the workspace has
/// already compiled into the shared target directory.
pub fn new_plugin(parent: &Path, name: &str, template: &str) -> PathBuf {
    let out = run(parent, &["new", name, "--template", template], None);
    assert_ok(&out, &format!("new {name} --template {template}"));
    let dir = parent.join(name);
    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    dir
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    gateway_plugin_envoy::free_port().expect("bind 127.0.0.1:0")
}
