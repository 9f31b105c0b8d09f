//! The root and HTTP contexts every plugin gets: how host callbacks reach the
//! user's handlers.
//!
//! `#[plugin]` implements [`Plugin`] for the config type; each phase attribute
//! implements one `On*` trait for it. [`Plugin::handlers`] then finds out at
//! compile time which phases have a handler (`__handlers!`), so a phase
//! without one answers `Continue` with no host call and no allocation, and
//! a plugin without body handlers never asks the gateway to buffer a body.
//!
//! A handler is sync (called in place) or async (a task for the executor).
//! While a stream's task waits, the task owns the stream's [`HttpContext`]
//! and leaves it in its executor slot when it completes, where the stream
//! takes it back.

use crate::body::{self, AfterHeaders, ChunkHandler, Direction, Held, Mode};
use crate::callout;
use crate::config::ConfigError;
use crate::context::HttpContext;
use crate::executor::{self, Spawned, TaskFuture, TaskId};
use crate::host::{self, BufferType, MapType};
use crate::logger;
use crate::rules::{RequestFacts, RuleSet, CONSUMER_HEADER};
use crate::tick::{self, TickHandler, TickState, Ticks};
use proxy_wasm::traits::{Context, HttpContext as SdkHttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::{Cell, RefCell};
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
    fn body(&self, direction: Direction) -> (Option<BodyHandler<C>>, Option<ChunkHandler<C>>) {
        match direction {
            Direction::Request => (self.request_body, self.request_chunk),
            Direction::Response => (self.response_body, self.response_chunk),
        }
    }

    /// Whether the direction has any body handler.
    #[inline(always)]
    fn has_body(&self, direction: Direction) -> bool {
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

/// The compile-time handler lookup behind `__handlers!`: an impl on `&Probe`
/// exists only when the phase trait is implemented, else the `Probe` one says
/// "no handler".
#[doc(hidden)]
pub mod probe {
    use super::*;
    pub use crate::config::probe::Probe;

    macro_rules! probe {
        ($has:ident, $none:ident, $trait:ident, $method:ident, $fn_ty:ident) => {
            pub trait $has<C> {
                fn $method(&self) -> Option<$fn_ty<C>>;
            }
            impl<C: $trait> $has<C> for &Probe<C> {
                #[inline(always)]
                fn $method(&self) -> Option<$fn_ty<C>> {
                    Some(C::HANDLER)
                }
            }
            pub trait $none<C> {
                fn $method(&self) -> Option<$fn_ty<C>>;
            }
            impl<C> $none<C> for Probe<C> {
                #[inline(always)]
                fn $method(&self) -> Option<$fn_ty<C>> {
                    None
                }
            }
        };
    }

    probe!(
        HasRequestHeaders,
        NoRequestHeaders,
        OnRequestHeaders,
        request_headers,
        HeadersHandler
    );
    probe!(
        HasRequestBody,
        NoRequestBody,
        OnRequestBody,
        request_body,
        BodyHandler
    );
    probe!(
        HasResponseHeaders,
        NoResponseHeaders,
        OnResponseHeaders,
        response_headers,
        HeadersHandler
    );
    probe!(
        HasResponseBody,
        NoResponseBody,
        OnResponseBody,
        response_body,
        BodyHandler
    );
    probe!(
        HasRequestChunk,
        NoRequestChunk,
        OnRequestBodyStreaming,
        request_chunk,
        ChunkHandler
    );
    probe!(
        HasResponseChunk,
        NoResponseChunk,
        OnResponseBodyStreaming,
        response_chunk,
        ChunkHandler
    );

    macro_rules! probe_flag {
        ($has:ident, $none:ident, $trait:ident, $method:ident, $flag:ident) => {
            pub trait $has<C> {
                fn $method(&self) -> bool;
            }
            impl<C: $trait> $has<C> for &Probe<C> {
                #[inline(always)]
                fn $method(&self) -> bool {
                    C::$flag
                }
            }
            pub trait $none<C> {
                fn $method(&self) -> bool;
            }
            impl<C> $none<C> for Probe<C> {
                #[inline(always)]
                fn $method(&self) -> bool {
                    false
                }
            }
        };
    }

    probe_flag!(
        HasRequestBodyBinary,
        NoRequestBodyBinary,
        OnRequestBody,
        request_body_binary,
        BINARY
    );
    probe_flag!(
        HasRequestChunkBinary,
        NoRequestChunkBinary,
        OnRequestBodyStreaming,
        request_chunk_binary,
        BINARY
    );
    probe_flag!(
        HasResponseBodyBinary,
        NoResponseBodyBinary,
        OnResponseBody,
        response_body_binary,
        BINARY
    );
    probe_flag!(
        HasResponseChunkBinary,
        NoResponseChunkBinary,
        OnResponseBodyStreaming,
        response_chunk_binary,
        BINARY
    );

    probe_flag!(
        HasRequestBodyHold,
        NoRequestBodyHold,
        OnRequestBody,
        request_body_hold,
        HOLD_HEADERS
    );
    probe_flag!(
        HasRequestChunkHold,
        NoRequestChunkHold,
        OnRequestBodyStreaming,
        request_chunk_hold,
        HOLD_HEADERS
    );
    probe_flag!(
        HasResponseBodyHold,
        NoResponseBodyHold,
        OnResponseBody,
        response_body_hold,
        HOLD_HEADERS
    );
    probe_flag!(
        HasResponseChunkHold,
        NoResponseChunkHold,
        OnResponseBodyStreaming,
        response_chunk_hold,
        HOLD_HEADERS
    );

    probe!(
        HasStreamDone,
        NoStreamDone,
        OnStreamDone,
        stream_done,
        HeadersHandler
    );
}

/// The [`Handlers`] of a concrete config type.
#[doc(hidden)]
#[macro_export]
macro_rules! __handlers {
    ($ty:ty) => {{
        #[allow(unused_imports)]
        use $crate::__private::plugin::probe::*;
        $crate::__private::Handlers::<$ty> {
            request_headers: (&&Probe::<$ty>::new()).request_headers(),
            request_body: (&&Probe::<$ty>::new()).request_body(),
            request_chunk: (&&Probe::<$ty>::new()).request_chunk(),
            response_headers: (&&Probe::<$ty>::new()).response_headers(),
            response_body: (&&Probe::<$ty>::new()).response_body(),
            response_chunk: (&&Probe::<$ty>::new()).response_chunk(),
            stream_done: (&&Probe::<$ty>::new()).stream_done(),
            binary: [
                (&&Probe::<$ty>::new()).request_body_binary()
                    || (&&Probe::<$ty>::new()).request_chunk_binary(),
                (&&Probe::<$ty>::new()).response_body_binary()
                    || (&&Probe::<$ty>::new()).response_chunk_binary(),
            ],
            hold_headers: [
                (&&Probe::<$ty>::new()).request_body_hold()
                    || (&&Probe::<$ty>::new()).request_chunk_hold(),
                (&&Probe::<$ty>::new()).response_body_hold()
                    || (&&Probe::<$ty>::new()).response_chunk_hold(),
            ],
        }
    }};
}

thread_local! {
    /// Requests since the VM started (or last asked for a rebuild).
    static REQUESTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Go's rebuild options: at request headers, count the request and read the
/// VM's memory (property `plugin_vm_memory`, 8 bytes little-endian); past
/// a limit, set `wasm_need_rebuild` to `true` (Higress then replaces the VM
/// between requests).
fn rebuild_check<P: Plugin>() {
    let mut rebuild = false;
    if P::REBUILD_AFTER_REQUESTS > 0 {
        let n = REQUESTS.with(|r| r.get() + 1);
        rebuild = n >= P::REBUILD_AFTER_REQUESTS;
        REQUESTS.with(|r| r.set(if rebuild { 0 } else { n }));
    }
    if P::REBUILD_MAX_MEMORY_BYTES > 0 && !rebuild {
        if let Ok(Some(bytes)) = host::get_property(&["plugin_vm_memory"]) {
            if let Ok(bytes) = <[u8; 8]>::try_from(bytes.as_slice()) {
                rebuild = u64::from_le_bytes(bytes) >= P::REBUILD_MAX_MEMORY_BYTES;
            }
        }
    }
    if rebuild {
        log::info!("asking the gateway for a fresh VM (wasm_need_rebuild)");
        let _ = host::set_property(&["wasm_need_rebuild"], b"true");
    }
}

/// Whether any handler (phase or tick) is async. Constant per plugin, so the
/// executor's code is compiled out of plugins that do not need it.
#[inline(always)]
fn uses_executor<P: Plugin>() -> bool {
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

/// Called from the generated `_initialize`: installs the logger and the root
/// context factory.
pub fn start<P: Plugin>() {
    logger::install(P::NAME, P::HIGRESS_LOG);
    proxy_wasm::set_root_context(|context_id| Box::new(Root::<P>::new(context_id)));
}

/// The plugin's root context: parses the configuration, creates streams.
pub struct Root<P: Plugin> {
    context_id: u32,
    config: Option<Rc<RuleSet<P>>>,
    /// The tick timer, if the plugin has `#[on_tick]` handlers.
    ticks: Option<TickState>,
    /// Which async tick handlers are still running: bit `slot` of the mask.
    ticking: Rc<Cell<u64>>,
}

impl<P: Plugin> Root<P> {
    fn new(context_id: u32) -> Self {
        if uses_executor::<P>() {
            executor::add_root(context_id);
        }
        Root {
            context_id,
            config: None,
            ticks: None,
            ticking: Rc::default(),
        }
    }
}

/// A root is deleted when its configuration is removed (a listener or a
/// route's filter goes away, a configuration push replaces it); other roots
/// of the same VM live on.
impl<P: Plugin> Drop for Root<P> {
    fn drop(&mut self) {
        if !uses_executor::<P>() {
            return;
        }
        callout::remove_root(self.context_id);
        log::debug!(
            "root context {} removed; {} left in this VM",
            self.context_id,
            executor::root_count()
        );
    }
}

impl<P: Plugin> Context for Root<P> {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        if !uses_executor::<P>() {
            return;
        }
        let root = self.context_id;
        callout::in_root_callback(root, || {
            callout::on_http_call_response(root, token_id, num_headers, body_size, num_trailers)
        });
    }
}

impl<P: Plugin> RootContext for Root<P> {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        logger::refresh_level();
        true
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        logger::refresh_level();
        let raw = match host::get_buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        ) {
            Ok(raw) => raw.unwrap_or_default(),
            Err(err) => {
                log::error!("cannot read the plugin configuration: {err}");
                return false;
            }
        };
        match P::parse_config(&raw) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                self.start_ticks()
            }
            Err(err) => {
                // Keep the previous config (if any) so a bad update does not
                // take a working plugin down; the host refuses the update.
                log::error!("{err}");
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn SdkHttpContext>> {
        // Without rules every stream gets the global config now; with rules
        // the config is picked at request headers.
        let (config, rules) = match &self.config {
            Some(rules) if P::may_have_rules() && rules.has_rules() => {
                (None, Some(Rc::clone(rules)))
            }
            Some(rules) => (rules.global_config().cloned(), None),
            None => (None, None),
        };
        Some(Box::new(Stream::<P>::new(
            context_id,
            self.context_id,
            rules,
            config,
        )))
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        // `callout.rs` calls this with `SDK_ROOT_MARKER_QUEUE` only to point
        // the SDK at this root; the framework has no queues of its own.
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn on_tick(&mut self) {
        if !P::has_ticks() {
            return;
        }
        let ticks = P::ticks();
        let Some(state) = self.ticks.as_mut() else {
            return;
        };
        let Some(config) = self
            .config
            .as_ref()
            .and_then(|c| c.global_config().cloned())
        else {
            log::debug!("tick skipped: no global configuration");
            return;
        };
        let root = self.context_id;
        let ticking = &self.ticking;
        state.advance(&ticks, |slot, tick| match tick.handler {
            TickHandler::Sync(handler) => handler(&config),
            // (The guard is constant: plugins without async handlers carry
            // no executor.)
            TickHandler::Async(_) if !uses_executor::<P>() => {}
            TickHandler::Async(handler) => {
                let bit = 1u64 << slot;
                if ticking.get() & bit != 0 {
                    log::debug!("tick {slot} skipped: its previous run still waits");
                    return;
                }
                ticking.set(ticking.get() | bit);
                let done = Rc::clone(ticking);
                let future = handler(Rc::clone(&config));
                let task: TaskFuture = Box::pin(async move {
                    let out = future.await;
                    done.set(done.get() & !bit);
                    out
                });
                // Callouts are made on behalf of this root (its callback);
                // the task is nobody's: it frees itself when done.
                callout::in_root_callback(root, || {
                    let _ = executor::spawn(root, root, task, None, false);
                });
            }
        });
    }
}

impl<P: Plugin> Root<P> {
    /// Starts the root's timer for the `#[on_tick]` handlers (after a good
    /// configuration); `false` if the host refuses the timer.
    fn start_ticks(&mut self) -> bool {
        if !P::has_ticks() {
            return true;
        }
        let ticks = P::ticks();
        let Some(state) = TickState::new(&ticks) else {
            return true;
        };
        if let Err(err) = host::set_tick_period(state.host_period_ms) {
            log::error!("cannot start the tick handlers' timer: {err}");
            return false;
        }
        if self.ticks.is_none() {
            self.ticks = Some(state);
        }
        true
    }
}

/// One HTTP stream: holds the [`HttpContext`] its handlers share.
pub struct Stream<P: Plugin> {
    context_id: u32,
    /// The root context that created the stream: its callouts are made on
    /// that root's behalf.
    root_id: u32,
    /// The rules to pick the stream's config from at request headers.
    rules: Option<Rc<RuleSet<P>>>,
    // The stream's config: None if the host opens a stream on a root it
    // never configured, or no rule matches and there is no global config
    // (then no handler runs for the stream).
    config: Option<Rc<P>>,
    // None while a task holds the context.
    ctx: Option<HttpContext>,
    // The task that holds the context while it waits or until the stream
    // takes the context back.
    task: Option<TaskId>,
    // How the stream's bodies are handled; made when a body handler first
    // needs it, so plugins without one carry nothing.
    bodies: Option<Box<Bodies>>,
    // The response is the gateway's own, passed on without the handlers.
    passing_response: bool,
}

/// Per direction (request, response): how a stream's body is handled.
#[derive(Default)]
struct Bodies {
    // The whole-body handler has run.
    handled: [bool; 2],
    // A binary body (or a WebSocket): not read, unless the handler opted in.
    binary: [bool; 2],
    // How the body is handled, decided at its first callback.
    mode: [Option<Mode>; 2],
    // The plugin's buffer limit, read with the mode.
    limit: [Option<usize>; 2],
    // The body went past the limit and the stream was answered.
    over_limit: [bool; 2],
    // The chunks an async streaming handler holds; made on first use.
    held: [Option<Rc<RefCell<Held>>>; 2],
    // An async headers handler runs while body callbacks may arrive.
    after_headers: [Option<Rc<RefCell<AfterHeaders>>>; 2],
    // The headers are held for the body handler (`hold_headers`).
    holding: [bool; 2],
    // A body callback came.
    seen_body: [bool; 2],
}

impl<P: Plugin> Stream<P> {
    fn new(
        context_id: u32,
        root_id: u32,
        rules: Option<Rc<RuleSet<P>>>,
        config: Option<Rc<P>>,
    ) -> Self {
        Stream {
            context_id,
            root_id,
            rules,
            config,
            ctx: Some(HttpContext::new(context_id)),
            task: None,
            bodies: None,
            passing_response: false,
        }
    }

    fn bodies(&mut self) -> &mut Bodies {
        self.bodies.get_or_insert_with(Box::default)
    }

    /// The context, if no task holds it (taking it back from the task if
    /// it has finished).
    fn context(&mut self) -> Option<&mut HttpContext> {
        if self.ctx.is_none() {
            if let Some(task) = self.task {
                self.ctx = executor::take_context(task);
                if self.ctx.is_some() {
                    self.task = None;
                }
            }
        }
        self.ctx.as_mut()
    }

    /// Hands the context to an async handler's task and polls it once.
    fn spawn(
        &mut self,
        make: impl FnOnce(HttpContext) -> TaskFuture,
        resume: Option<host::StreamType>,
    ) -> Action {
        // (Taking it back first if the previous task has finished.)
        self.context();
        let Some(ctx) = self.ctx.take() else {
            return Action::Pause;
        };
        // A stream-done task (nothing to resume) outlives the stream: the
        // stream does not hold it.
        let held = resume.is_some();
        match executor::spawn(self.context_id, self.root_id, make(ctx), resume, held) {
            Spawned::Done(ctx, action) => {
                self.ctx = Some(ctx);
                action
            }
            Spawned::Waiting(task) => {
                self.task = task;
                Action::Pause
            }
        }
    }

    /// Runs a headers handler. With a body handler still to come for this
    /// direction, `content-length` is removed: the headers go on now (they
    /// cannot wait for the body: Envoy turns a header pause into a full stop
    /// that also holds the body back), and the body handler may change the
    /// body's length. The body then travels chunked. A binary body (by
    /// Higress's rules, decided before the handler) and a body the handler
    /// chose not to read keep their length: they go on untouched.
    fn headers_phase(
        &mut self,
        handler: Option<HeadersHandler<P>>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let Some(config) = self.config.clone() else {
            return Action::Continue;
        };
        if self.context().is_none() {
            if direction == Direction::Response {
                // A request handler still holds the stream, so this response
                // is the gateway's own (a timeout's local reply): it goes on
                // now, not when the handler is done.
                self.passing_response = true;
                log::debug!(
                    "a response arrived while a request handler still waits (the gateway's \
                     own answer): passed on without the response handlers"
                );
                return Action::Continue;
            }
            log::warn!(
                "{} headers arrived while a handler is still waiting",
                direction.name()
            );
            return Action::Pause;
        }
        let handlers = P::handlers();
        if direction == Direction::Request
            && (handlers.has_body(Direction::Request) || handlers.has_body(Direction::Response))
            && body::is_websocket()
        {
            self.bodies().binary = [true; 2];
        }
        let d = direction.index();
        let body_follows = handlers.has_body(direction) && !end_of_stream && {
            if !handlers.binary[d] && !self.bodies().binary[d] {
                self.bodies().binary[d] = body::is_binary(direction);
            }
            !self.bodies().binary[d] || handlers.binary[d]
        };
        // `hold_headers`: the headers wait for the body handler (a gateway
        // that allows it passes the body on to the plugin meanwhile).
        let hold = handlers.hold_headers[d] && body_follows && !body::hold_refused();
        match handler {
            None => {
                self.drop_content_length(body_follows, direction);
                self.hold(hold, Action::Continue, direction)
            }
            Some(HeadersHandler::Sync(handler)) => match self.context() {
                Some(ctx) => {
                    let action = handler(ctx, &config);
                    self.drop_content_length(body_follows, direction);
                    self.hold(hold, action, direction)
                }
                None => Action::Continue,
            },
            Some(HeadersHandler::Async(handler)) => {
                // The task may resume the headers: decided before it runs.
                self.drop_content_length(body_follows, direction);
                if !body_follows {
                    return self.spawn(|ctx| handler(ctx, config), Some(direction.stream()));
                }
                // Body callbacks may come while it waits (on a gateway that
                // lets a header pause hold only the headers).
                let after = Rc::new(RefCell::new(AfterHeaders {
                    hold,
                    ..AfterHeaders::default()
                }));
                let bodies = self.bodies();
                bodies.after_headers[d] = Some(Rc::clone(&after));
                bodies.holding[d] = hold;
                self.spawn(
                    |ctx| body::headers_then_body(handler(ctx, config), after),
                    Some(direction.stream()),
                )
            }
        }
    }

    /// After a sync headers handler: with `hold_headers`, a `Continue`
    /// becomes a pause that holds the headers until the body handler lets
    /// them go (unless the handler chose not to read the body).
    fn hold(&mut self, hold: bool, action: Action, direction: Direction) -> Action {
        if !hold || action != Action::Continue {
            return action;
        }
        let d = direction.index();
        let reads = self
            .context()
            .is_some_and(|ctx| !ctx.has_responded() && !ctx.body_control[d].dont_read);
        if !reads {
            return action;
        }
        self.bodies().holding[d] = true;
        Action::Pause
    }

    /// A stream that held its headers (`hold_headers`) but never got a body
    /// callback: the gateway stopped the body with the headers.
    fn check_hold(&mut self, direction: Direction) {
        let d = direction.index();
        if let Some(bodies) = &self.bodies {
            if bodies.holding[d] && !bodies.seen_body[d] {
                body::refuse_hold(direction);
            }
        }
    }

    /// Removes `content-length` when the body handler will read (and may
    /// change) the body that follows: it then travels chunked.
    fn drop_content_length(&mut self, body_follows: bool, direction: Direction) {
        if !body_follows {
            return;
        }
        let dont_read = self
            .context()
            .is_some_and(|ctx| ctx.body_control[direction.index()].dont_read);
        if !dont_read {
            if let Err(err) = host::remove_map_value(direction.headers(), "content-length") {
                log::warn!("cannot remove content-length: {err}");
            }
        }
    }

    /// How the direction's body is handled for this stream (decided once,
    /// at its first callback, from what the headers handlers said).
    fn mode(&mut self, direction: Direction) -> Mode {
        let d = direction.index();
        if let Some(mode) = self.bodies().mode[d] {
            return mode;
        }
        let handlers = P::handlers();
        let (whole, chunk) = handlers.body(direction);
        let control = self
            .context()
            .map(|ctx| ctx.body_control[d])
            .unwrap_or_default();
        let binary_skip = self.bodies().binary[d] && !handlers.binary[d];
        let mode = match self.config {
            None => Mode::Skip,
            Some(_) => body::decide_mode(whole.is_some(), chunk.is_some(), binary_skip, control),
        };
        self.bodies().mode[d] = Some(mode);
        self.bodies().limit[d] = control.limit;
        mode
    }

    /// Whether `size` buffered bytes are past the plugin's limit; if so the
    /// stream is answered (once) and the rest of the body goes through.
    fn over_limit(&mut self, direction: Direction, size: usize) -> bool {
        let d = direction.index();
        match self.bodies().limit[d] {
            Some(limit) if size > limit => {
                self.bodies().over_limit[d] = true;
                body::reject_over_limit(direction, size, limit);
                true
            }
            _ => false,
        }
    }

    /// A body callback (`body_size: None` in the trailers callback, which
    /// ends a message that has trailers: no body chunk then says
    /// `end_of_stream`).
    fn body_phase(
        &mut self,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let (whole, chunk) = P::handlers().body(direction);
        if whole.is_none() && chunk.is_none() {
            return Action::Continue;
        }
        // No config (no rule matched and no global one): the plugin leaves
        // the stream alone, and nothing is buffered.
        let Some(config) = self.config.clone() else {
            return Action::Continue;
        };
        if direction == Direction::Response && self.passing_response {
            return Action::Continue;
        }
        let d = direction.index();
        self.bodies().seen_body[d] = true;
        if self.bodies().over_limit[d] {
            return Action::Continue;
        }
        // An async headers handler still waits (the gateway passed the body
        // on while the headers were paused): nothing goes on before the
        // body handler has seen the body.
        // (Constant guard: only an async headers handler leaves this record.)
        let headers = match direction {
            Direction::Request => P::handlers().request_headers,
            Direction::Response => P::handlers().response_headers,
        };
        if matches!(headers, Some(HeadersHandler::Async(_))) && self.context().is_none() {
            if let Some(after) = self.bodies().after_headers[d].clone() {
                after.borrow_mut().body_started = true;
                if end_of_stream {
                    let body_phase = self.body_continuation(body_size, config, direction);
                    after.borrow_mut().continuation = Some(body_phase);
                }
                // Pause on a body chunk = StopIterationAndBuffer.
                return Action::Pause;
            }
        }
        // An async streaming handler holds the stream: this chunk waits its
        // turn. (The guard is constant: only async streaming handlers hold.)
        let held = match chunk {
            Some(ChunkHandler::Async(_)) => self.bodies().held[d].clone(),
            _ => None,
        };
        if let Some(held) = held {
            let mut held = held.borrow_mut();
            if held.running {
                let size = body_size.unwrap_or(held.buffered());
                held.push(size, end_of_stream);
                drop(held);
                if self.over_limit(direction, size) {
                    return Action::Continue;
                }
                return Action::Pause;
            }
        }
        match self.mode(direction) {
            Mode::Skip => Action::Continue,
            Mode::Streaming => match chunk {
                Some(handler) => {
                    self.chunk_phase(handler, config, body_size, end_of_stream, direction)
                }
                None => Action::Continue,
            },
            Mode::Whole => {
                if let Some(size) = body_size {
                    if self.over_limit(direction, size) {
                        return Action::Continue;
                    }
                }
                if !end_of_stream {
                    // Pause on a body chunk = StopIterationAndBuffer.
                    return Action::Pause;
                }
                if std::mem::replace(&mut self.bodies().handled[d], true) {
                    return Action::Continue;
                }
                // In the trailers callback the size is not given: read all
                // there is (the host returns at most what it has).
                let size = body_size.unwrap_or(u32::MAX as usize);
                match (whole, chunk) {
                    (Some(handler), _) => self.whole_body(handler, config, size, direction),
                    (None, Some(handler)) => {
                        self.chunk_phase(handler, config, Some(size), true, direction)
                    }
                    (None, None) => Action::Continue,
                }
            }
        }
    }

    /// The body phase of a message that ended while its async headers
    /// handler waited: run by that handler's task when it is done, with the
    /// context it gives back (so the headers handler's decisions count).
    fn body_continuation(
        &mut self,
        body_size: Option<usize>,
        config: Rc<P>,
        direction: Direction,
    ) -> Box<dyn FnOnce(HttpContext) -> TaskFuture> {
        let d = direction.index();
        let handlers = P::handlers();
        let (whole, chunk) = handlers.body(direction);
        let bodies = self.bodies();
        let binary_skip = bodies.binary[d] && !handlers.binary[d];
        // No body callback comes after the end.
        bodies.handled[d] = true;
        bodies.mode[d] = Some(Mode::Whole);
        Box::new(move |mut ctx: HttpContext| -> TaskFuture {
            let control = ctx.body_control[d];
            let mode = body::decide_mode(whole.is_some(), chunk.is_some(), binary_skip, control);
            if mode == Mode::Skip {
                return Box::pin(async move { (ctx, Action::Continue) });
            }
            let size = body_size.unwrap_or(u32::MAX as usize);
            let body = match host::get_buffer(direction.buffer(), 0, size) {
                Ok(body) => body.unwrap_or_default(),
                Err(err) => {
                    log::error!("cannot read the {} body: {err}", direction.name());
                    Vec::new()
                }
            };
            if let Some(limit) = control.limit.filter(|limit| body.len() > *limit) {
                body::reject_over_limit(direction, body.len(), limit);
                return Box::pin(async move { (ctx, Action::Pause) });
            }
            // The whole body is in: streaming gets it as one last chunk.
            match (whole, chunk) {
                (Some(handler), _) if mode == Mode::Whole => {
                    match direction {
                        Direction::Request => ctx.request_body_len = body.len(),
                        Direction::Response => ctx.response_body_len = body.len(),
                    }
                    match handler {
                        BodyHandler::Sync(handler) => Box::pin(async move {
                            let action = handler(&mut ctx, &config, &body);
                            (ctx, action)
                        }),
                        BodyHandler::Async(handler) => handler(ctx, config, body),
                    }
                }
                (_, Some(ChunkHandler::Sync(handler))) => Box::pin(async move {
                    let out = handler(&mut ctx, &config, &body, true);
                    body::apply_chunk(direction, &body, out);
                    (ctx, Action::Continue)
                }),
                (_, Some(ChunkHandler::Async(handler))) => {
                    body::chunk_task(handler, ctx, config, Rc::default(), direction, body, true)
                }
                _ => Box::pin(async move { (ctx, Action::Continue) }),
            }
        })
    }

    /// Runs the whole-body handler with the buffered body.
    fn whole_body(
        &mut self,
        handler: BodyHandler<P>,
        config: Rc<P>,
        size: usize,
        direction: Direction,
    ) -> Action {
        let Some(ctx) = self.context() else {
            log::warn!(
                "the {} body arrived while a handler is still waiting",
                direction.name()
            );
            return Action::Pause;
        };
        if ctx.has_responded() {
            return Action::Continue;
        }
        let body = match host::get_buffer(direction.buffer(), 0, size) {
            Ok(body) => body.unwrap_or_default(),
            Err(err) => {
                log::error!("cannot read the {} body: {err}", direction.name());
                return Action::Continue;
            }
        };
        match direction {
            Direction::Request => ctx.request_body_len = body.len(),
            Direction::Response => ctx.response_body_len = body.len(),
        }
        match handler {
            BodyHandler::Sync(handler) => handler(ctx, &config, &body),
            BodyHandler::Async(handler) => {
                self.spawn(|ctx| handler(ctx, config, body), Some(direction.stream()))
            }
        }
    }

    /// Runs the streaming handler on the chunk the host holds now
    /// (`body_size: None`: the stream ended with trailers, the handler gets
    /// an empty last chunk and what it returns is added at the end).
    fn chunk_phase(
        &mut self,
        handler: ChunkHandler<P>,
        config: Rc<P>,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let Some(ctx) = self.context() else {
            log::warn!(
                "a {} body chunk arrived while a handler is still waiting",
                direction.name()
            );
            return Action::Pause;
        };
        if ctx.has_responded() {
            return Action::Continue;
        }
        let chunk = match body_size {
            Some(size) if size > 0 => match host::get_buffer(direction.buffer(), 0, size) {
                Ok(chunk) => chunk.unwrap_or_default(),
                Err(err) => {
                    log::error!("cannot read the {} body: {err}", direction.name());
                    return Action::Continue;
                }
            },
            _ => Vec::new(),
        };
        match handler {
            ChunkHandler::Sync(handler) => {
                let out = handler(ctx, &config, &chunk, end_of_stream);
                match body_size {
                    Some(_) => body::apply_chunk(direction, &chunk, out),
                    None => body::append_at_end(direction, out),
                }
                if ctx.has_responded() {
                    Action::Pause
                } else {
                    Action::Continue
                }
            }
            ChunkHandler::Async(handler) => {
                let held = Rc::clone(
                    self.bodies().held[direction.index()].get_or_insert_with(Rc::default),
                );
                self.spawn(
                    |ctx| {
                        body::chunk_task(
                            handler,
                            ctx,
                            config,
                            held,
                            direction,
                            chunk,
                            end_of_stream,
                        )
                    },
                    Some(direction.stream()),
                )
            }
        }
    }
}

impl<P: Plugin> Drop for Stream<P> {
    fn drop(&mut self) {
        if !uses_executor::<P>() {
            return;
        }
        // The client is gone: a task still waiting will never be resumed.
        if let Some(task) = self.task.take() {
            executor::cancel(task);
        }
        if log::log_enabled!(log::Level::Debug) {
            let (tasks, callouts) = callout::live_counts();
            log::debug!(
                "stream {} ended; live tasks: {tasks}, live callouts: {callouts}",
                self.context_id
            );
        }
    }
}

/// What rules match on, read from the host when a rule first asks.
#[derive(Default)]
struct HostFacts {
    authority: Option<String>,
    route: Option<String>,
    cluster: Option<String>,
    consumer: Option<String>,
}

fn request_header(name: &str) -> String {
    host::get_map_value(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
        .unwrap_or_default()
}

impl RequestFacts for HostFacts {
    fn authority(&mut self) -> &str {
        self.authority
            .get_or_insert_with(|| request_header(":authority"))
    }
    fn route_name(&mut self) -> &str {
        self.route
            .get_or_insert_with(|| host::gateway_name_property("route_name"))
    }
    fn cluster_name(&mut self) -> &str {
        self.cluster
            .get_or_insert_with(|| host::gateway_name_property("cluster_name"))
    }
    fn consumer(&mut self) -> &str {
        self.consumer
            .get_or_insert_with(|| request_header(CONSUMER_HEADER))
    }
}

impl<P: Plugin> Context for Stream<P> {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        // Callouts are recorded against the root, so answers arrive there;
        // this is only a fallback for hosts that route them otherwise.
        if !uses_executor::<P>() {
            return;
        }
        callout::on_http_call_response(
            self.context_id,
            token_id,
            num_headers,
            body_size,
            num_trailers,
        );
    }
}

impl<P: Plugin> SdkHttpContext for Stream<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        if uses_executor::<P>() {
            executor::run_pending(self.context_id);
        }
        if P::REBUILD_AFTER_REQUESTS > 0 || P::REBUILD_MAX_MEMORY_BYTES > 0 {
            rebuild_check::<P>();
        }
        if P::HIGRESS_LOG {
            // As Go's SDK: the request id, where Higress's log lines read it.
            if let Ok(Some(id)) =
                host::get_map_value_bytes(MapType::HttpRequestHeaders, "x-request-id")
            {
                let _ = host::set_property(&["x_request_id"], &id);
            }
        }
        if P::may_have_rules() {
            if let Some(rules) = self.rules.take() {
                // Held for the whole stream: every phase and continuation sees it.
                self.config = rules.select(&mut HostFacts::default());
            }
        }
        if handlers.request_headers.is_none()
            && !handlers.has_body(Direction::Request)
            && !handlers.has_body(Direction::Response)
        {
            return Action::Continue;
        }
        self.headers_phase(handlers.request_headers, end_of_stream, Direction::Request)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.body_phase(Some(body_size), end_of_stream, Direction::Request)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // Trailers end the message: the body handler runs now, whatever the
        // body chunks said (else a body check is bypassed by adding trailers).
        self.body_phase(None, true, Direction::Request)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        // A response while the request's headers are still held for a body
        // that never came, or a second response (a timeout's local reply)
        // while the first one's headers are: the gateway stopped the body.
        if handlers.hold_headers[Direction::Request.index()] {
            self.check_hold(Direction::Request);
        }
        if handlers.hold_headers[Direction::Response.index()] {
            self.check_hold(Direction::Response);
        }
        if handlers.response_headers.is_none() && !handlers.has_body(Direction::Response) {
            return Action::Continue;
        }
        self.headers_phase(
            handlers.response_headers,
            end_of_stream,
            Direction::Response,
        )
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.body_phase(Some(body_size), end_of_stream, Direction::Response)
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.body_phase(None, true, Direction::Response)
    }

    fn on_log(&mut self) {
        let Some(handler) = P::handlers().stream_done else {
            return;
        };
        let Some(config) = self.config.clone() else {
            return;
        };
        // A handler still waiting here means the client went away; its task
        // (and the context it held, with its typed state) is dropped, and the
        // stream-done handler gets a fresh context.
        if self.context().is_none() {
            if let Some(task) = self.task.take() {
                executor::cancel(task);
            }
            self.ctx = Some(HttpContext::new(self.context_id));
        }
        match handler {
            HeadersHandler::Sync(handler) => {
                if let Some(ctx) = self.context() {
                    let _ = handler(ctx, &config);
                }
            }
            // Nothing to resume: the task may outlive the stream (e.g. to
            // report the request somewhere), its callouts made as the root.
            HeadersHandler::Async(handler) => {
                let _ = self.spawn(|ctx| handler(ctx, config), None);
            }
        }
    }
}
