//! The root and HTTP contexts every plugin gets: how host callbacks reach the
//! user's handlers.
//!
//! `#[plugin]` implements [`Plugin`] for the config type; each phase attribute
//! implements one `On*` trait for it. [`Plugin::handlers`] then finds out at
//! compile time which phases have a handler (`__handlers!`), so a phase
//! without one answers `Continue` with no host call and no allocation, and
//! a plugin without body handlers never asks the gateway to buffer a body.

use crate::config::ConfigError;
use crate::context::HttpContext;
use crate::host::{self, BufferType, MapType};
use crate::logger;
use proxy_wasm::traits::{Context, HttpContext as SdkHttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;

/// A headers-phase or stream-done handler.
pub type HeadersFn<C> = fn(&mut HttpContext, &C) -> Action;
/// A body-phase handler, called once with the whole body.
pub type BodyFn<C> = fn(&mut HttpContext, &C, &[u8]) -> Action;

/// A plugin: its config type, marked with `#[plugin(name = "...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin configuration type",
    label = "handlers take `&C` where `C` has `#[plugin(name = \"...\")]`",
    note = "put `#[plugin(name = \"my-plugin\")]` on the configuration struct or enum"
)]
pub trait Plugin: Sized + 'static {
    /// The name given to `#[plugin(name = "...")]`, the log prefix.
    const NAME: &'static str;
    /// Builds the config from the raw configuration the gateway sends.
    fn parse_config(raw: &[u8]) -> Result<Self, ConfigError>;
    /// Which phases have handlers.
    fn handlers() -> Handlers<Self>;
}

/// The handlers of a plugin, one optional slot per phase.
pub struct Handlers<C> {
    pub request_headers: Option<HeadersFn<C>>,
    pub request_body: Option<BodyFn<C>>,
    pub response_headers: Option<HeadersFn<C>>,
    pub response_body: Option<BodyFn<C>>,
    pub stream_done: Option<HeadersFn<C>>,
}

/// Implemented by `#[on_request_headers]`.
pub trait OnRequestHeaders: Plugin {
    /// The handler.
    const HANDLER: HeadersFn<Self>;
}

/// Implemented by `#[on_request_body]`.
pub trait OnRequestBody: Plugin {
    /// The handler.
    const HANDLER: BodyFn<Self>;
}

/// Implemented by `#[on_response_headers]`.
pub trait OnResponseHeaders: Plugin {
    /// The handler.
    const HANDLER: HeadersFn<Self>;
}

/// Implemented by `#[on_response_body]`.
pub trait OnResponseBody: Plugin {
    /// The handler.
    const HANDLER: BodyFn<Self>;
}

/// Implemented by `#[on_stream_done]`.
pub trait OnStreamDone: Plugin {
    /// The handler.
    const HANDLER: HeadersFn<Self>;
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
                fn $method(&self) -> Option<$fn_ty<C>> {
                    Some(C::HANDLER)
                }
            }
            pub trait $none<C> {
                fn $method(&self) -> Option<$fn_ty<C>>;
            }
            impl<C> $none<C> for Probe<C> {
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
        HeadersFn
    );
    probe!(
        HasRequestBody,
        NoRequestBody,
        OnRequestBody,
        request_body,
        BodyFn
    );
    probe!(
        HasResponseHeaders,
        NoResponseHeaders,
        OnResponseHeaders,
        response_headers,
        HeadersFn
    );
    probe!(
        HasResponseBody,
        NoResponseBody,
        OnResponseBody,
        response_body,
        BodyFn
    );
    probe!(
        HasStreamDone,
        NoStreamDone,
        OnStreamDone,
        stream_done,
        HeadersFn
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
            response_headers: (&&Probe::<$ty>::new()).response_headers(),
            response_body: (&&Probe::<$ty>::new()).response_body(),
            stream_done: (&&Probe::<$ty>::new()).stream_done(),
        }
    }};
}

/// Fails to compile, with [`Plugin`]'s message, unless `C` is a plugin config.
pub fn assert_plugin<C: Plugin>() {}

/// Called from the generated `_initialize`: installs the logger and the root
/// context factory.
pub fn start<P: Plugin>() {
    logger::install(P::NAME);
    proxy_wasm::set_root_context(|context_id| Box::new(Root::<P>::new(context_id)));
}

/// The plugin's root context: parses the configuration, creates streams.
pub struct Root<P: Plugin> {
    #[allow(dead_code)]
    context_id: u32,
    config: Option<Rc<P>>,
}

impl<P: Plugin> Root<P> {
    fn new(context_id: u32) -> Self {
        Root {
            context_id,
            config: None,
        }
    }
}

impl<P: Plugin> Context for Root<P> {}

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
                true
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
        Some(Box::new(Stream::<P> {
            config: self.config.clone(),
            ctx: HttpContext::new(context_id),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One HTTP stream: holds the [`HttpContext`] its handlers share.
pub struct Stream<P: Plugin> {
    // None only if the host opens a stream on a root it never configured.
    config: Option<Rc<P>>,
    ctx: HttpContext,
}

impl<P: Plugin> Stream<P> {
    /// Runs a headers handler. With a body handler still to come for this
    /// direction, `content-length` is removed: the headers go on now (they
    /// cannot wait for the body: Envoy turns a header pause into a full stop
    /// that also holds the body back), and the body handler may change the
    /// body's length. The body then travels chunked.
    fn headers_phase(
        &mut self,
        handler: Option<HeadersFn<P>>,
        body_handler_follows: bool,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        let action = match handler {
            Some(handler) => handler(&mut self.ctx, config),
            None => Action::Continue,
        };
        if body_handler_follows && !end_of_stream && !self.ctx.has_responded() {
            if let Err(err) = host::remove_map_value(direction.headers(), "content-length") {
                log::warn!("cannot remove content-length: {err}");
            }
        }
        action
    }

    /// Buffers a body until its end, then runs the body handler once with it.
    fn body_phase(
        &mut self,
        handler: BodyFn<P>,
        body_size: usize,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        if !end_of_stream {
            // Pause on a body chunk = StopIterationAndBuffer.
            return Action::Pause;
        }
        let Some(config) = &self.config else {
            return Action::Continue;
        };
        if self.ctx.has_responded() {
            return Action::Continue;
        }
        let body = match host::get_buffer(direction.buffer(), 0, body_size) {
            Ok(body) => body.unwrap_or_default(),
            Err(err) => {
                log::error!("cannot read the {} body: {err}", direction.name());
                return Action::Continue;
            }
        };
        direction.set_body_len(&mut self.ctx, body.len());
        handler(&mut self.ctx, config, &body)
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

impl Direction {
    fn buffer(self) -> BufferType {
        match self {
            Direction::Request => BufferType::HttpRequestBody,
            Direction::Response => BufferType::HttpResponseBody,
        }
    }
    fn headers(self) -> MapType {
        match self {
            Direction::Request => MapType::HttpRequestHeaders,
            Direction::Response => MapType::HttpResponseHeaders,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
    fn set_body_len(self, ctx: &mut HttpContext, len: usize) {
        match self {
            Direction::Request => ctx.request_body_len = len,
            Direction::Response => ctx.response_body_len = len,
        }
    }
}

impl<P: Plugin> Context for Stream<P> {}

impl<P: Plugin> SdkHttpContext for Stream<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        if handlers.request_headers.is_none() && handlers.request_body.is_none() {
            return Action::Continue;
        }
        self.headers_phase(
            handlers.request_headers,
            handlers.request_body.is_some(),
            end_of_stream,
            Direction::Request,
        )
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match P::handlers().request_body {
            None => Action::Continue,
            Some(handler) => self.body_phase(handler, body_size, end_of_stream, Direction::Request),
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        if handlers.response_headers.is_none() && handlers.response_body.is_none() {
            return Action::Continue;
        }
        self.headers_phase(
            handlers.response_headers,
            handlers.response_body.is_some(),
            end_of_stream,
            Direction::Response,
        )
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match P::handlers().response_body {
            None => Action::Continue,
            Some(handler) => {
                self.body_phase(handler, body_size, end_of_stream, Direction::Response)
            }
        }
    }

    fn on_log(&mut self) {
        if let (Some(handler), Some(config)) = (P::handlers().stream_done, &self.config) {
            let _ = handler(&mut self.ctx, config);
        }
    }
}
