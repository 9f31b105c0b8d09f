//! An in-process proxy-wasm host to test compiled gateway plugins.
//!
//! It runs the real `.wasm` (yours, or any Rust or Go proxy-wasm plugin) on
//! [wasmtime](https://wasmtime.dev), the way Envoy's proxy-wasm host drives
//! an HTTP filter: the request's headers and body, the upstream, the
//! response's headers and body, the stream's end. HTTP callouts go to real
//! servers (or closures), Redis calls (Higress's extension) to a real
//! `redis-server`. Every stream reports the Wasm instructions it cost.
//!
//! ```no_run
//! use gateway_plugin_test::{Host, Request};
//!
//! # fn main() -> Result<(), gateway_plugin_test::Error> {
//! let host = Host::load("target/wasm32-wasip1/release/my_plugin.wasm")?
//!     .cluster("outbound|80||token.static", "127.0.0.1:8080")
//!     .configure(serde_json::json!({"mockEnable": false}))?;
//!
//! let resp = host.request(Request::get("/path").header("a", "b"))?;
//! assert_eq!(resp.status(), 200);
//! let upstream = resp.upstream_request().expect("the request went upstream");
//! assert_eq!(upstream.header("hello"), Some("world"));
//! println!("{} instructions, log: {:?}", resp.fuel(), host.logs());
//! # Ok(()) }
//! ```
//!
//! - [`Host`]: the compiled plugin and its surroundings (clusters, Redis,
//!   the upstream, log level, properties); cheap to clone.
//! - [`Vm`]: the plugin configured and running; [`Vm::request`] runs one
//!   stream, [`Vm::requests`] many, interleaved from a seed.
//! - [`Request`] / [`Response`] build what goes in; [`ClientResponse`] and
//!   [`UpstreamRequest`] show what came out.
//!
//! Header values are bytes inside the host, as in a gateway: a value that is
//! not UTF-8 goes in with [`Request::header_bytes`] or
//! [`Response::header_bytes`] and comes out, byte for byte, with
//! [`UpstreamRequest::header_bytes`] and [`ClientResponse::header_bytes`]
//! (the `&str` getters answer `None` for it).

mod abi;
mod error;
mod host;
mod http;
mod imports;
mod machine;
mod redis;
mod schedule;
mod state;

pub use error::Error;
pub use host::{Host, Vm};
pub use http::{echo, ClientResponse, ReceivedChunk, Request, Response, RootId, UpstreamRequest};
pub use state::ExportCost;
