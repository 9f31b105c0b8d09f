//! The plugin API: the [`Plugin`] trait, the phase traits the attributes
//! implement, and the handler types (what a handler is, what it returns).
//!
//! `#[plugin]` implements [`Plugin`] for the config type; each phase attribute
//! implements one `On*` trait for it. [`Plugin::handlers`] then finds out at
//! compile time which phases have a handler (`__handlers!`, `lookup.rs`), so a phase
//! without one answers `Continue` with no host call and no allocation, and
//! a plugin without body handlers never asks the gateway to buffer a body.
//!
//! A handler is sync (called in place) or async (a task for the executor).
//! How the host's callbacks reach the handlers is the root's (`root.rs`) and
//! the stream's (`stream.rs`, `body/`) business.

use crate::config::ConfigError;
use crate::context::HttpContext;
use crate::direction::Direction;
use crate::executor::TaskFuture;
use crate::rules::RuleSet;
use crate::tick::{self, TickHandler, Ticks};
use proxy_wasm::types::Action;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A sync headers-phase or stream-done handler.
pub type HeadersFn<C> = fn(&mut HttpContext, &C) -> Action;
/// A sync body-phase handler, called once with the whole body.
pub type BodyFn<C> = fn(&mut HttpContext, &C, &[u8]) -> Action;
/// An async headers-phase handler, wrapped so that its future owns what it borrows.
pub type AsyncHeadersFn<C> = fn(HttpContext, Rc<C>) -> TaskFuture;
/// An async body-phase handler, wrapped likewise.
pub type AsyncBodyFn<C> = fn(HttpContext, Rc<C>, Vec<u8>) -> TaskFuture;

/// A headers-phase (or stream-done) handler, sync or async.
pub enum HeadersHandler<C> {
    /// `fn(..) -> Action`
    Sync(HeadersFn<C>),
    /// `async fn(..) -> Action`
    Async(AsyncHeadersFn<C>),
}

/// A body-phase handler, sync or async.
pub enum BodyHandler<C> {
    /// `fn(..) -> Action`
    Sync(BodyFn<C>),
    /// `async fn(..) -> Action`
    Async(AsyncBodyFn<C>),
}

/// A sync streaming handler.
pub(crate) type ChunkFn<C> = fn(&mut HttpContext, &C, &[u8], bool) -> Chunk;
/// The future of an async streaming handler, borrowing its arguments.
pub type ChunkFuture<'a> = Pin<Box<dyn Future<Output = Chunk> + 'a>>;
/// An async streaming handler, wrapped to box its future.
pub(crate) type AsyncChunkFn<C> =
    for<'a> fn(&'a mut HttpContext, &'a C, &'a [u8], bool) -> ChunkFuture<'a>;

/// A streaming body handler, sync or async.
pub enum ChunkHandler<C> {
    /// `fn(..) -> Vec<u8>` (or [`Chunk`])
    Sync(ChunkFn<C>),
    /// `async fn(..) -> Vec<u8>` (or [`Chunk`])
    Async(AsyncChunkFn<C>),
}

// Derived Clone/Copy would require `C: Copy`.
impl<C> Clone for HeadersHandler<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for HeadersHandler<C> {}
impl<C> Clone for BodyHandler<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for BodyHandler<C> {}
impl<C> Clone for ChunkHandler<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for ChunkHandler<C> {}

/// A plugin: its config type, marked with `#[plugin(name = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin configuration type",
    label = "handlers take `&C` where `C` has `#[plugin(name = \"...\")]`",
    note = "put `#[plugin(name = \"my-plugin\")]` on the configuration struct or enum"
)]
pub trait Plugin: Sized + 'static {
    /// The name given to `#[plugin(name = "...")]`, the log prefix.
    const NAME: &'static str;
    /// `#[plugin(log = "higress")]`: log lines as Higress's Go SDK writes
    /// them, `[name] [plugin-id] [request-id] message`.
    const HIGRESS_LOG: bool = false;
    /// `#[plugin(rebuild_after_requests = N)]`: ask the gateway for a fresh
    /// VM after N requests (Go's `WithRebuildAfterRequests`); 0: never.
    const REBUILD_AFTER_REQUESTS: u64 = 0;
    /// `#[plugin(rebuild_max_memory_bytes = M)]`: ask for a fresh VM once
    /// the VM's memory reaches M bytes (Go's `WithRebuildMaxMemBytes`).
    const REBUILD_MAX_MEMORY_BYTES: u64 = 0;
    /// Builds the config (global and per-rule) from the raw configuration
    /// the gateway sends.
    fn parse_config(raw: &[u8]) -> Result<RuleSet<Self>, ConfigError>;
    /// Which phases have handlers.
    fn handlers() -> Handlers<Self>;
    /// Whether the configuration may hold `_rules_` (constant per type: a
    /// plugin that takes no configuration compiles the matcher out).
    fn may_have_rules() -> bool {
        true
    }
    /// The `#[on_tick]` handlers, by slot.
    fn ticks() -> Ticks<Self> {
        [None; tick::SLOTS]
    }
    /// Whether there is any `#[on_tick]` handler (constant per type).
    fn has_ticks() -> bool {
        false
    }
}

/// The handlers of a plugin, one optional slot per phase.
#[allow(missing_docs)]
pub struct Handlers<C> {
    pub request_headers: Option<HeadersHandler<C>>,
    pub request_body: Option<BodyHandler<C>>,
    pub request_chunk: Option<ChunkHandler<C>>,
    pub response_headers: Option<HeadersHandler<C>>,
    pub response_body: Option<BodyHandler<C>>,
    pub response_chunk: Option<ChunkHandler<C>>,
    pub stream_done: Option<HeadersHandler<C>>,
    /// A body handler of the direction (request, response) takes binary bodies.
    pub binary: [bool; 2],
    /// A body handler of the direction holds its headers (`hold_headers`).
    pub hold_headers: [bool; 2],
}

impl<C> Handlers<C> {
    /// Whether any handler is async. Constant per plugin, so the executor's
    /// code is compiled out of plugins that do not need it.
    #[inline(always)]
    pub fn any_async(&self) -> bool {
        matches!(self.request_headers, Some(HeadersHandler::Async(_)))
            || matches!(self.request_body, Some(BodyHandler::Async(_)))
            || matches!(self.response_headers, Some(HeadersHandler::Async(_)))
            || matches!(self.response_body, Some(BodyHandler::Async(_)))
            || matches!(self.request_chunk, Some(ChunkHandler::Async(_)))
            || matches!(self.response_chunk, Some(ChunkHandler::Async(_)))
            || matches!(self.stream_done, Some(HeadersHandler::Async(_)))
    }

    /// The direction's whole-body and streaming handlers.
    #[inline(always)]
    pub(crate) fn body(
        &self,
        direction: Direction,
    ) -> (Option<BodyHandler<C>>, Option<ChunkHandler<C>>) {
        match direction {
            Direction::Request => (self.request_body, self.request_chunk),
            Direction::Response => (self.response_body, self.response_chunk),
        }
    }

    /// Whether the direction has any body handler.
    #[inline(always)]
    pub(crate) fn has_body(&self, direction: Direction) -> bool {
        let (whole, chunk) = self.body(direction);
        whole.is_some() || chunk.is_some()
    }
}

/// Implemented by `#[on_request_headers]`.
pub trait OnRequestHeaders: Plugin {
    /// The handler.
    const HANDLER: HeadersHandler<Self>;
}

/// Implemented by `#[on_request_body]`.
pub trait OnRequestBody: Plugin {
    /// The handler.
    const HANDLER: BodyHandler<Self>;
    /// `#[on_request_body(binary)]`: binary bodies reach the handler too.
    const BINARY: bool = false;
    /// `hold_headers`: the headers wait for the body handler, which may change them.
    const HOLD_HEADERS: bool = false;
}

/// Implemented by `#[on_request_body(streaming)]`.
pub trait OnRequestBodyStreaming: Plugin {
    /// The handler.
    const HANDLER: ChunkHandler<Self>;
    /// `#[on_request_body(streaming, binary)]`.
    const BINARY: bool = false;
    /// `hold_headers`: the headers wait for the body handler, which may change them.
    const HOLD_HEADERS: bool = false;
}

/// Implemented by `#[on_response_headers]`.
pub trait OnResponseHeaders: Plugin {
    /// The handler.
    const HANDLER: HeadersHandler<Self>;
}

/// Implemented by `#[on_response_body]`.
pub trait OnResponseBody: Plugin {
    /// The handler.
    const HANDLER: BodyHandler<Self>;
    /// `#[on_response_body(binary)]`: binary bodies reach the handler too.
    const BINARY: bool = false;
    /// `hold_headers`: the headers wait for the body handler, which may change them.
    const HOLD_HEADERS: bool = false;
}

/// Implemented by `#[on_response_body(streaming)]`.
pub trait OnResponseBodyStreaming: Plugin {
    /// The handler.
    const HANDLER: ChunkHandler<Self>;
    /// `#[on_response_body(streaming, binary)]`.
    const BINARY: bool = false;
    /// `hold_headers`: the headers wait for the body handler, which may change them.
    const HOLD_HEADERS: bool = false;
}

/// Implemented by `#[on_stream_done]`.
pub trait OnStreamDone: Plugin {
    /// The handler.
    const HANDLER: HeadersHandler<Self>;
}

/// Whether any handler (phase or tick) is async. Constant per plugin, so the
/// executor's code is compiled out of plugins that do not need it.
#[inline(always)]
pub(crate) fn uses_executor<P: Plugin>() -> bool {
    P::handlers().any_async()
        || (P::has_ticks()
            && P::ticks()
                .iter()
                .flatten()
                .any(|tick| matches!(tick.handler, TickHandler::Async(_))))
}

/// Fails to compile, with [`Plugin`]'s message, unless `C` is a plugin config.
pub fn assert_plugin<C: Plugin>() {}

/// The type a handler's first argument points at: only [`HttpContext`]
/// (under any name). Generated code passes the context through
/// [`IsHttpContext::cast`], spanned at the argument, so another type is one
/// error there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not gateway-plugin's `HttpContext`",
    label = "a handler's first argument is `&mut HttpContext`",
    note = "use `gateway_plugin::HttpContext` (from the prelude; an alias of it is fine)"
)]
pub trait IsHttpContext {
    /// The context, as the handler's argument type.
    fn cast(ctx: &mut HttpContext) -> &mut Self;
}

impl IsHttpContext for HttpContext {
    #[inline(always)]
    fn cast(ctx: &mut HttpContext) -> &mut Self {
        ctx
    }
}

/// What a phase handler may return: only [`Action`] (under any name).
#[diagnostic::on_unimplemented(
    message = "a phase handler returns `Action`, not `{Self}`",
    label = "expected `Action`",
    note = "return `Action::Continue`, `Action::Pause`, or `ctx.send_response(..)` (which returns the `Action`)"
)]
pub trait IntoAction {
    /// The action.
    fn into_action(self) -> Action;
}

impl IntoAction for Action {
    #[inline(always)]
    fn into_action(self) -> Action {
        self
    }
}

/// Converts a handler's return value (called by generated code, spanned at
/// the handler's return type).
#[inline(always)]
pub fn into_action<T: IntoAction>(value: T) -> Action {
    value.into_action()
}

/// What a streaming body handler sends on in place of a chunk.
///
/// A handler may also return `Vec<u8>` (or `String`): returning the chunk's
/// own bytes is recognised and costs no copy into the host; `Chunk::Pass`
/// does not even allocate.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
/// # #[plugin(name = "doc")] #[derive(Deserialize, Default)] struct Config;
///
/// #[on_response_body(streaming)]
/// fn redact(_ctx: &mut HttpContext, _config: &Config, chunk: &[u8], _end: bool) -> Chunk {
///     if chunk.windows(6).any(|w| w == b"secret") {
///         Chunk::Replace(b"data: [redacted]\n\n".to_vec())
///     } else {
///         Chunk::Pass
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// The chunk goes on unchanged.
    Pass,
    /// These bytes go on instead (empty: the chunk is dropped).
    Replace(Vec<u8>),
}

impl Chunk {
    /// Drops the chunk: nothing goes on in its place.
    pub const fn drop_chunk() -> Chunk {
        Chunk::Replace(Vec::new())
    }
}

/// What a streaming body handler may return: [`Chunk`], `Vec<u8>`, `String`,
/// `&[u8]` or `&str` (the bytes to send on in place of the chunk).
#[diagnostic::on_unimplemented(
    message = "a streaming body handler cannot return `{Self}`",
    label = "expected `Vec<u8>` or `Chunk`",
    note = "return the bytes to send on in place of the chunk (`Vec<u8>`), or `Chunk::Pass` to send it on unchanged"
)]
pub trait IntoChunk {
    /// Converts the handler's return value.
    fn into_chunk(self) -> Chunk;
}

impl IntoChunk for Chunk {
    fn into_chunk(self) -> Chunk {
        self
    }
}
impl IntoChunk for Vec<u8> {
    fn into_chunk(self) -> Chunk {
        Chunk::Replace(self)
    }
}
impl IntoChunk for String {
    fn into_chunk(self) -> Chunk {
        Chunk::Replace(self.into_bytes())
    }
}
impl IntoChunk for &[u8] {
    fn into_chunk(self) -> Chunk {
        Chunk::Replace(self.to_vec())
    }
}
impl IntoChunk for &str {
    fn into_chunk(self) -> Chunk {
        Chunk::Replace(self.as_bytes().to_vec())
    }
}
