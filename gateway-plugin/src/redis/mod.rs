//! `RedisClient`: async Redis commands over Higress's Redis extension.
//!
//! Matched against Higress's sources, byte for byte on the wire:
//! - `higress-group/proxy-wasm-go-sdk`, `proxywasm/internal/abi_hostcalls.go`:
//!   the imports `proxy_redis_init(cluster, username, password, timeout_ms)`
//!   and `proxy_redis_call(cluster, query, *token)`;
//! - same repository, `proxywasm/internal/abi_callback_l7.go`: the export
//!   `proxy_on_redis_call_response(plugin_context_id, token, status,
//!   response_size)`, a status other than 0 meaning no reply;
//! - same repository, `proxywasm/internal/abi_enums.go`: the reply is read
//!   from buffer type 9 (`BufferTypeRedisCallResponse`);
//! - `alibaba/higress`, `plugins/wasm-go/pkg/wrapper/redis_wrapper.go`:
//!   the command goes out as
//!   a RESP array of bulk strings, the cluster name is the `HttpClient` one
//!   (`cluster_wrapper.go`), `Init` is made in `parseConfig`, `SetNX` is
//!   `SET k v NX`. Higress's `Init` appends options to the cluster name
//!   (`?db=..&buffer_flush_timeout=3&max_buffer_size_before_flush=1024`);
//!   ours sends the bare name, which the gateway reads with the same
//!   defaults.
//!
//! Commands are `async`: each is a callout like an HTTP one, answered in the
//! executor, so a handler can await Redis, then HTTP, then Redis again. The
//! answer comes in through `host/exports.rs`, once a client exists.
//!
//! The client and its init are in `client.rs`, the commands in
//! `commands.rs` (what their arguments can be, and a command built one
//! argument at a time, in `arg.rs`) and what their replies become in `reply.rs`, the future a
//! command is in `call.rs`, its errors in `error.rs`.

mod arg;
mod call;
mod client;
mod commands;
mod error;
mod init;
mod reply;

pub use arg::{RedisArg, RedisCommand};
pub use call::RedisCall;
pub use client::RedisClient;
pub use error::RedisError;
pub use init::RedisOptions;
