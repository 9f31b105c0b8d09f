//! MCP servers in the gateway (the `mcp` feature): tools as annotated
//! functions, the protocol owned by the framework.
//!
//! A server is a plugin config with `#[mcp_server(name, version, tools =
//! [..])]`; a tool is a function with `#[mcp_tool]` taking the call, the
//! config and one argument type (`Deserialize` + `JsonSchema`: its schema
//! is the tool's `inputSchema`, built once per VM):
//!
//! ```no_run
//! use gateway_plugin::prelude::*;
//! use gateway_plugin::mcp::{ToolCall, ToolResult};
//!
//! #[plugin(name = "hello-mcp")]
//! #[mcp_server(name = "hello", version = "1.0.0", tools = [greet])]
//! #[derive(Deserialize, Default)]
//! pub struct Hello {}
//!
//! #[derive(Deserialize, JsonSchema)]
//! # #[schemars(crate = "gateway_plugin::schemars")]
//! # #[serde(crate = "gateway_plugin::serde")]
//! pub struct Who {
//!     /// Whom to greet.
//!     name: String,
//! }
//!
//! /// Greets somebody.
//! #[mcp_tool]
//! fn greet(_call: &mut ToolCall, _config: &Hello, who: Who) -> ToolResult {
//!     ToolResult::text(format!("hello, {}", who.name))
//! }
//! ```
//!
//! What the framework does: JSON-RPC 2.0 over Streamable HTTP on every
//! path of the routes the plugin runs on (`jsonrpc.rs`, `transport.rs`),
//! `initialize` with version negotiation and a self-describing session id
//! that every worker checks without shared memory (`session.rs`), `ping`,
//! notifications (202), `tools/list` by pages and `tools/call`
//! (`server.rs`), results and tool errors (`tool.rs`), and Higress's
//! REST-to-MCP servers from configuration (`rest/`, [`RestServer`]).

mod jsonrpc;
mod rest;
mod server;
mod session;
mod tool;
mod transport;

pub use jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
pub use rest::RestServer;
pub use server::McpServer;
pub use session::{LATEST_VERSION, SUPPORTED_VERSIONS};
pub use tool::{
    Content, IntoToolResult, NoArguments, Structured, Tool, ToolArguments, ToolCall, ToolFuture,
    ToolResult,
};
pub use transport::ALLOW_TOOLS_HEADER;

/// What `#[mcp_server]` and `#[mcp_tool]` expand to.
#[doc(hidden)]
pub mod __private {
    pub use super::tool::{same_name, McpTool};
    pub use super::transport::{on_request_body, on_request_headers};
}
