//! One HTTP stream: its config (picked by the rules at request headers),
//! its [`HttpContext`](crate::HttpContext), and the phases that run the handlers — headers and
//! stream-done here, bodies in `body/`. The host's callbacks reach it
//! through `host/exports.rs`.
//!
//! While a stream's async handler waits, its task owns the stream's
//! [`HttpContext`](crate::HttpContext) and leaves it in its executor slot when it completes,
//! where the stream takes it back ([`LentContext`]).

use crate::body::{self, Bodies};
use crate::callout;
use crate::direction::Direction;
use crate::executor::{self, LentContext};
use crate::host::{self, MapType};
use crate::plugin::{uses_executor, HeadersHandler, Plugin};
use crate::rebuild;
use crate::rules::{RequestFacts, RuleSet, CONSUMER_HEADER};
use proxy_wasm::types::Action;
use std::rc::Rc;

/// One HTTP stream: holds the [`HttpContext`](crate::HttpContext) its
/// handlers share.
pub(crate) struct Stream<P: Plugin> {
    /// The stream's context, here or lent to a waiting handler's task.
    ctx: LentContext,
    /// The rules to pick the stream's config from at request headers.
    rules: Option<Rc<RuleSet<P>>>,
    // The stream's config: None if the host opens a stream on a root it
    // never configured, or no rule matches and there is no global config
    // (then no handler runs for the stream).
    config: Option<Rc<P>>,
    // How the stream's bodies are handled; made when a body handler first
    // needs it, so plugins without one carry nothing.
    bodies: Option<Box<Bodies>>,
    // The response is the gateway's own, passed on without the handlers.
    passing_response: bool,
}

impl<P: Plugin> Stream<P> {
    pub(crate) fn new(
        context_id: u32,
        root_id: u32,
        rules: Option<Rc<RuleSet<P>>>,
        config: Option<Rc<P>>,
    ) -> Self {
        Stream {
            ctx: LentContext::new(context_id, root_id),
            rules,
            config,
            bodies: None,
            passing_response: false,
        }
    }

    pub(crate) fn context_id(&self) -> u32 {
        self.ctx.context_id()
    }

    /// The request headers: the stream's first callback.
    pub(crate) fn request_headers(&mut self, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        if uses_executor::<P>() {
            executor::run_pending(self.ctx.context_id());
        }
        if rebuild::enabled::<P>() {
            rebuild::check::<P>();
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

    pub(crate) fn response_headers(&mut self, end_of_stream: bool) -> Action {
        let handlers = P::handlers();
        // A response while the request's headers are still held for a body
        // that never came, or a second response (a timeout's local reply)
        // while the first one's headers are: the gateway stopped the body.
        if let Some(bodies) = &self.bodies {
            if handlers.hold_headers[Direction::Request.index()] {
                bodies.check_hold(Direction::Request);
            }
            if handlers.hold_headers[Direction::Response.index()] {
                bodies.check_hold(Direction::Response);
            }
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
        match self.ctx.get() {
            Some(ctx) => ctx.body_follows[direction.index()] = !end_of_stream,
            None => return self.headers_while_waiting(direction),
        }
        let plan = Bodies::plan::<P>(&mut self.bodies, end_of_stream, direction);
        match handler {
            None => {
                plan.drop_content_length(&mut self.ctx);
                plan.hold(&mut self.bodies, &mut self.ctx, Action::Continue)
            }
            Some(HeadersHandler::Sync(handler)) => match self.ctx.get() {
                Some(ctx) => {
                    let action = handler(ctx, &config);
                    plan.drop_content_length(&mut self.ctx);
                    plan.hold(&mut self.bodies, &mut self.ctx, action)
                }
                None => Action::Continue,
            },
            Some(HeadersHandler::Async(handler)) => {
                // The task may resume the headers: decided before it runs.
                plan.drop_content_length(&mut self.ctx);
                if !plan.follows {
                    return self
                        .ctx
                        .spawn(|ctx| handler(ctx, config), Some(direction.stream()));
                }
                // Body callbacks may come while it waits (on a gateway that
                // lets a header pause hold only the headers).
                let after = plan.await_headers_handler(&mut self.bodies);
                self.ctx.spawn(
                    |ctx| body::headers_then_body(handler(ctx, config), after),
                    Some(direction.stream()),
                )
            }
        }
    }

    /// Headers that arrive while a handler of this stream still waits.
    fn headers_while_waiting(&mut self, direction: Direction) -> Action {
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
        Action::Pause
    }

    /// A body callback (`body_size: None` in the trailers callback, which
    /// ends a message that has trailers: no body chunk then says
    /// `end_of_stream`).
    pub(crate) fn body(
        &mut self,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        if !P::handlers().has_body(direction) {
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
        self.bodies.get_or_insert_with(Box::default).body_phase(
            &mut self.ctx,
            config,
            body_size,
            end_of_stream,
            direction,
        )
    }

    /// The stream is done (`on_log`): the stream-done handler runs.
    pub(crate) fn done(&mut self) {
        let Some(handler) = P::handlers().stream_done else {
            return;
        };
        let Some(config) = self.config.clone() else {
            return;
        };
        // A handler still waiting here means the client went away; its task
        // (and the context it held, with its typed state) is dropped, and the
        // stream-done handler gets a fresh context.
        self.ctx.reclaim();
        match handler {
            HeadersHandler::Sync(handler) => {
                if let Some(ctx) = self.ctx.get() {
                    let _ = handler(ctx, &config);
                }
            }
            // Nothing to resume: the task may outlive the stream (e.g. to
            // report the request somewhere), its callouts made as the root.
            HeadersHandler::Async(handler) => {
                let _ = self.ctx.spawn(|ctx| handler(ctx, config), None);
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
        self.ctx.cancel();
        if log::log_enabled!(log::Level::Debug) {
            let (tasks, callouts) = callout::live_counts();
            log::debug!(
                "stream {} ended; live tasks: {tasks}, live callouts: {callouts}",
                self.ctx.context_id()
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
