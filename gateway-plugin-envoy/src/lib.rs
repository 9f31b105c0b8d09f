//! Envoy on this machine, for gateway-plugin's tools and tests: the one
//! implementation that `cargo gateway-plugin run`, the real-Envoy suite
//! (`gateway-plugin-e2e`) and its harness share.
//!
//! - [`binary`]: where the Envoy binary is (`$ENVOY_BIN`, a checkout's
//!   `.tools/envoy`, a per-user install made with pip on first use).
//! - [`bootstrap`]: the pieces of an Envoy bootstrap (JSON) with a plugin as
//!   a Wasm filter: listener, connection manager, filters, clusters, admin.
//! - [`EnvoyCommand`] / [`EnvoyProcess`]: Envoy started from a bootstrap,
//!   dying with its parent (`PR_SET_PDEATHSIG`), its stderr captured, its
//!   admin `/ready` polled, stopped on drop.
//! - [`HttpServer`] and [`EchoBackend`]: a small HTTP/1.1 server on
//!   127.0.0.1, and the echo backend built on it that answers every request
//!   with a JSON echo of what reached it.
//!
//! Light on purpose: std, libc and serde_json; no async runtime.

pub mod binary;
pub mod bootstrap;
mod echo;
mod http;
mod process;

pub use echo::{echo, EchoBackend};
pub use http::{header_value, HttpReply, HttpRequest, HttpServer};
pub use process::{
    accepts, describe_exit, die_with_parent, is_ready, EnvoyCommand, EnvoyProcess, NotReady,
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
