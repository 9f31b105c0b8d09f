//! Every call the host makes into the plugin: the `proxy-wasm` SDK's
//! callbacks (its dispatcher calls the trait impls here for the root and
//! the stream contexts), and Higress's Redis answer, which the SDK does not
//! know and the plugin exports itself.
//!
//! Both kinds of callout answer, HTTP and Redis, reach `callout.rs` here.
//! A plugin without a `RedisClient` does not link the Redis answer path:
//! the export only calls what the first client registered.

use crate::callout;
use crate::direction::Direction;
use crate::logger;
use crate::plugin::{uses_executor, Plugin};
use crate::root::Root;
use crate::stream::Stream;
use proxy_wasm::traits::{Context, HttpContext as SdkHttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::Cell;

/// Called from the generated `_initialize`: installs the logger and the root
/// context factory.
pub fn start<P: Plugin>() {
    logger::install(P::NAME, P::HIGRESS_LOG);
    proxy_wasm::set_root_context(|context_id| Box::new(Root::<P>::new(context_id)));
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
        let root = self.context_id();
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
        self.configure(plugin_configuration_size)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn SdkHttpContext>> {
        Some(Box::new(self.new_stream(context_id)))
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        // `callout.rs` calls this (`host::point_sdk_at_root`) only to point
        // the SDK at this root; the framework has no queues of its own.
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn on_tick(&mut self) {
        self.tick()
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
            self.context_id(),
            token_id,
            num_headers,
            body_size,
            num_trailers,
        );
    }
}

impl<P: Plugin> SdkHttpContext for Stream<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.request_headers(end_of_stream)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.body(Some(body_size), end_of_stream, Direction::Request)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // Trailers end the message: the body handler runs now, whatever the
        // body chunks said (else a body check is bypassed by adding trailers).
        self.body(None, true, Direction::Request)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.response_headers(end_of_stream)
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.body(Some(body_size), end_of_stream, Direction::Response)
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.body(None, true, Direction::Response)
    }

    fn on_log(&mut self) {
        self.done()
    }
}

/// What the Redis answer export calls: `(root, token, status, size)`.
type RedisAnswer = fn(u32, u32, u32, usize);

thread_local! {
    // Set by the first `RedisClient` (`accept_redis_answers`): the export
    // below then reaches the callout tables. Plugins without Redis never
    // set it, so the answer path is not linked into their `.wasm`.
    static REDIS_ANSWER: Cell<Option<RedisAnswer>> = const { Cell::new(None) };
}

/// Lets Redis answers through: called when a `RedisClient` is made.
pub(crate) fn accept_redis_answers() {
    REDIS_ANSWER.with(|answer| answer.set(Some(callout::on_redis_call_response)));
}

/// Higress calls this with the reply to a Redis command (its first argument
/// is the root context the call was made on behalf of).
// Exported to the host by its symbol name, not reachable as a Rust path.
#[allow(unreachable_pub)]
#[no_mangle]
pub extern "C" fn proxy_on_redis_call_response(
    plugin_context_id: u32,
    token: u32,
    status: u32,
    response_size: usize,
) {
    if let Some(answer) = REDIS_ANSWER.with(Cell::get) {
        answer(plugin_context_id, token, status, response_size);
    }
}
