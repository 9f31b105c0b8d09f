//! An async headers handler that waits while its body arrives: what its
//! task does once the handler is done ([`AfterHeaders`]).

use crate::context::HttpContext;
use crate::executor::TaskFuture;
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

/// What an async headers handler's task does once the handler is done, on
/// a gateway that lets a header pause hold only the headers (Higress;
/// Envoy with `allow_on_headers_stop_iteration: true`): body callbacks then
/// arrive while the handler waits, without a context to run the body
/// handler with. The stream must not be resumed before the body handler
/// has seen the body, or a body check is skipped.
#[derive(Default)]
pub(crate) struct AfterHeaders {
    /// Body callbacks came while the headers handler waited: the next ones
    /// (or the body handler's `Continue`) resume the stream, not the task.
    pub(crate) body_started: bool,
    /// Keep the headers held after the handler (`hold_headers`).
    pub(crate) hold: bool,
    /// The body ended meanwhile: its phase runs in the task, next.
    pub(crate) continuation: Option<Box<dyn FnOnce(HttpContext) -> TaskFuture>>,
}

/// An async headers handler's task, followed by what [`AfterHeaders`] says.
pub(crate) fn headers_then_body(
    headers: TaskFuture,
    after: Rc<RefCell<AfterHeaders>>,
) -> TaskFuture {
    Box::pin(async move {
        let (ctx, action) = headers.await;
        if action != Action::Continue || ctx.has_responded() {
            return (ctx, action);
        }
        let next = std::mem::take(&mut *after.borrow_mut());
        match next.continuation {
            Some(body_phase) => body_phase(ctx).await,
            // `Pause` here only means "do not resume": the body's callbacks
            // (and the body handler's `Continue`) let the stream go on.
            None if next.body_started || next.hold => (ctx, Action::Pause),
            None => (ctx, Action::Continue),
        }
    })
}
