//! The single-threaded executor behind `async` handlers.
//!
//! A stream has at most one task: the phase handler that is waiting. The
//! stream's callback polls it once; `Pending` becomes `Action::Pause`. A
//! callout future dispatches on its first poll and records
//! `token -> (task, waker)` here; the host's answer is read in its callback,
//! stored, and wakes the task, which is polled right there with the host's
//! effective context set to the task's stream. A task that completes with
//! `Continue` resumes its request or response (unless it sent a response).
//!
//! Every HTTP callout is made on behalf of the *root* context, both for the
//! host and for the `proxy-wasm` SDK's own token table: the SDK records a
//! callout against the context it last dispatched, which is stale after a
//! callback it does not dispatch (Higress's Redis answer) and dies with its
//! stream. Recorded against the root, every answer reaches
//! `Root::on_http_call_response`, and this table, not the SDK's, says which
//! task it belongs to. A stream that ends drops its task; the task's callout
//! futures forget their tokens on drop, and a late answer finds no entry and
//! is ignored.

use crate::context::HttpContext;
use crate::host::{self, StreamType};
use crate::http_client::{HttpCallError, HttpResponse};
use hashbrown::HashMap;
use proxy_wasm::types::Action;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// A handler's future: it owns the stream's context and gives it back.
pub type TaskFuture = Pin<Box<dyn Future<Output = (HttpContext, Action)>>>;

/// Where a task puts the [`HttpContext`] back when it completes.
pub(crate) type ContextSlot = Rc<RefCell<Option<HttpContext>>>;

/// Boxes a handler future (called by generated code).
pub fn boxed_task(future: impl Future<Output = (HttpContext, Action)> + 'static) -> TaskFuture {
    Box::pin(future)
}

/// The queue id that `proxy_on_queue_ready` is called with to point the SDK's
/// record of "the current context" at the root; the root ignores it.
pub(crate) const SDK_ROOT_MARKER_QUEUE: u32 = u32::MAX;

struct Task {
    future: TaskFuture,
    slot: ContextSlot,
    /// What to resume when the task completes with `Continue`; `None` for a
    /// stream-done task, which outlives its stream.
    resume: Option<StreamType>,
}

/// A callout's answer, as read in the host's callback.
pub(crate) enum Outcome {
    Http(Result<HttpResponse, HttpCallError>),
    /// The raw RESP reply, or the host's status when there is none.
    Redis(Result<Vec<u8>, u32>),
}

/// What to read when a callout is answered.
#[derive(Clone, Copy)]
pub(crate) enum Expect {
    /// An HTTP response with a body of at most this many bytes.
    Http {
        max_body: usize,
    },
    Redis,
}

struct Callout {
    task: u32,
    waker: Option<Waker>,
    outcome: Option<Outcome>,
    expect: Expect,
}

#[derive(Default)]
struct Executor {
    root_id: Cell<u32>,
    in_root_callback: Cell<bool>,
    current: Cell<Option<u32>>,
    tasks: RefCell<HashMap<u32, Task>>,
    callouts: RefCell<HashMap<u32, Callout>>,
    ready: RefCell<Vec<u32>>,
}

thread_local! {
    static EXECUTOR: Executor = Executor::default();
}

fn with<R>(f: impl FnOnce(&Executor) -> R) -> R {
    EXECUTOR.with(f)
}

// ---- wakers: the data pointer is the task's context id ------------------------

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake, wake, drop_waker);

fn raw_waker(task: u32) -> RawWaker {
    RawWaker::new(task as usize as *const (), &VTABLE)
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    raw_waker(data as usize as u32)
}

unsafe fn wake(data: *const ()) {
    let task = data as usize as u32;
    let _ = EXECUTOR.try_with(|e| e.ready.borrow_mut().push(task));
}

unsafe fn drop_waker(_: *const ()) {}

fn waker(task: u32) -> Waker {
    // SAFETY: the vtable functions only read the id out of the pointer.
    unsafe { Waker::from_raw(raw_waker(task)) }
}

// ---- the root context ---------------------------------------------------------

/// Remembers the plugin's root context (callouts are made on its behalf).
pub(crate) fn set_root(context_id: u32) {
    with(|e| e.root_id.set(context_id));
}

/// Runs `f` as a root-context callback dispatched by the SDK (the SDK's record
/// of the current context is the root already).
pub(crate) fn in_root_callback<R>(f: impl FnOnce() -> R) -> R {
    let outer = with(|e| e.in_root_callback.replace(true));
    let result = f();
    with(|e| e.in_root_callback.set(outer));
    result
}

// ---- tasks ---------------------------------------------------------------------

fn poll_task(id: u32, task: &mut Task) -> Poll<(HttpContext, Action)> {
    let outer = with(|e| e.current.replace(Some(id)));
    let waker = waker(id);
    let result = task.future.as_mut().poll(&mut Context::from_waker(&waker));
    with(|e| e.current.set(outer));
    result
}

/// Polls a new task once. `Some(action)` if it completed (its context is back
/// in `slot`); `None` if it waits, and the stream must return `Pause`.
pub(crate) fn spawn(
    context_id: u32,
    future: TaskFuture,
    slot: ContextSlot,
    resume: Option<StreamType>,
) -> Option<Action> {
    let mut task = Task {
        future,
        slot,
        resume,
    };
    match poll_task(context_id, &mut task) {
        Poll::Ready((ctx, action)) => {
            *task.slot.borrow_mut() = Some(ctx);
            run_ready(context_id);
            Some(action)
        }
        Poll::Pending => {
            let old = with(|e| e.tasks.borrow_mut().insert(context_id, task));
            // A stream has one task at a time; an older one would be a bug
            // upstream of here. Drop it outside the borrow.
            drop(old);
            run_ready(context_id);
            None
        }
    }
}

/// Polls every woken task, each with the host's effective context set to its
/// stream, until none is left; then sets the effective context back to
/// `caller`, the context whose callback this is.
pub(crate) fn run_ready(caller: u32) {
    let mut switched = false;
    loop {
        let Some(id) = with(|e| e.ready.borrow_mut().pop()) else {
            if switched {
                let _ = host::set_effective_context(caller);
            }
            return;
        };
        let Some(mut task) = with(|e| e.tasks.borrow_mut().remove(&id)) else {
            continue; // already finished or dropped: a stale wake
        };
        switched = true;
        if host::set_effective_context(id).is_err() {
            // A stream-done task whose stream is gone runs as the root.
            let _ = host::set_effective_context(with(|e| e.root_id.get()));
        }
        match poll_task(id, &mut task) {
            Poll::Pending => {
                with(|e| e.tasks.borrow_mut().insert(id, task));
            }
            Poll::Ready((ctx, action)) => {
                let responded = ctx.has_responded();
                *task.slot.borrow_mut() = Some(ctx);
                if action == Action::Continue && !responded {
                    if let Some(stream) = task.resume {
                        if let Err(err) = host::continue_stream(stream) {
                            log::warn!("cannot resume the stream: {err}");
                        }
                    }
                }
            }
        }
    }
}

/// Drops the stream's waiting task, unless it is a stream-done task (which
/// is meant to outlive the stream). Its callouts forget their tokens.
pub(crate) fn cancel(context_id: u32) {
    let task = with(|e| {
        let mut tasks = e.tasks.borrow_mut();
        match tasks.get(&context_id) {
            Some(task) if task.resume.is_some() => tasks.remove(&context_id),
            _ => None,
        }
    });
    // Dropped here, outside the borrow: the futures' Drop touch the table.
    drop(task);
}

/// Live tasks and callouts, for leak checks: `(tasks, callouts)`.
pub fn live_counts() -> (usize, usize) {
    with(|e| (e.tasks.borrow().len(), e.callouts.borrow().len()))
}

// ---- callouts ----------------------------------------------------------------------

/// The task being polled, if any.
pub(crate) fn current_task() -> Option<u32> {
    with(|e| e.current.get())
}

extern "C" {
    // The proxy-wasm SDK's own export, called to set its "current context" to
    // the root without host calls (see the module docs).
    fn proxy_on_queue_ready(context_id: u32, queue_id: u32);
}

/// Makes a host call that starts a callout (`dispatch` returns its token or
/// the host's status) for the current task, on behalf of the root, and
/// records the token.
fn dispatch(
    expect: Expect,
    waker: &Waker,
    dispatch: impl FnOnce() -> Result<u32, u32>,
) -> Result<u32, DispatchError> {
    let Some(task) = current_task() else {
        return Err(DispatchError::NotInHandler);
    };
    let (root, in_root) = with(|e| (e.root_id.get(), e.in_root_callback.get()));
    if !in_root {
        // SAFETY: the SDK's exported callback; it only borrows its root table,
        // which no caller of ours holds outside a root callback.
        unsafe { proxy_on_queue_ready(root, SDK_ROOT_MARKER_QUEUE) };
    }
    let _ = host::set_effective_context(root);
    let result = dispatch();
    let _ = host::set_effective_context(task);
    let token = result.map_err(DispatchError::Refused)?;
    with(|e| {
        e.callouts.borrow_mut().insert(
            token,
            Callout {
                task,
                waker: Some(waker.clone()),
                outcome: None,
                expect,
            },
        )
    });
    Ok(token)
}

/// Why a callout did not start.
pub(crate) enum DispatchError {
    NotInHandler,
    /// The host's status.
    Refused(u32),
}

/// Dispatches an HTTP callout for the current task, on behalf of the root.
pub(crate) fn dispatch_http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout: std::time::Duration,
    max_body: usize,
    waker: &Waker,
) -> Result<u32, HttpCallError> {
    dispatch(Expect::Http { max_body }, waker, || {
        proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, body, vec![], timeout)
            .map_err(|status| status as u32)
    })
    .map_err(|err| match err {
        DispatchError::NotInHandler => HttpCallError::NotInHandler,
        DispatchError::Refused(status) => HttpCallError::Dispatch {
            cluster: cluster.to_string(),
            status,
        },
    })
}

/// Dispatches a Redis command (RESP bytes) for the current task.
pub(crate) fn dispatch_redis_call(
    cluster: &str,
    query: &[u8],
    waker: &Waker,
) -> Result<u32, DispatchError> {
    dispatch(Expect::Redis, waker, || {
        host::dispatch_redis_call(cluster, query)
    })
}

/// The answer to `token` if it came; else remembers the waker.
pub(crate) fn take_outcome(token: u32, waker: &Waker) -> Option<Outcome> {
    with(|e| {
        let mut callouts = e.callouts.borrow_mut();
        let callout = callouts.get_mut(&token)?;
        match callout.outcome.take() {
            Some(outcome) => {
                callouts.remove(&token);
                Some(outcome)
            }
            None => {
                callout.waker = Some(waker.clone());
                None
            }
        }
    })
}

/// A callout future was dropped: forget its token.
pub(crate) fn forget(token: u32) {
    let callout = with(|e| e.callouts.borrow_mut().remove(&token));
    drop(callout);
}

/// The host's answer to an HTTP callout, in the callback of context `caller`:
/// read it now (the host frees it after this callback), store it, wake the
/// task and run what is ready.
pub(crate) fn on_http_call_response(
    caller: u32,
    token: u32,
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
) {
    answered(caller, token, |expect| match expect {
        Expect::Http { max_body } => Outcome::Http(HttpResponse::read_from_host(
            num_headers,
            body_size,
            num_trailers,
            max_body,
        )),
        Expect::Redis => Outcome::Http(Err(HttpCallError::BadResponse(
            "an HTTP answer to a Redis call".to_string(),
        ))),
    });
}

/// The host's answer to a Redis call (Higress's extension): `status` 0 and
/// the reply in the Redis buffer, or the host's error status.
pub(crate) fn on_redis_call_response(caller: u32, token: u32, status: u32, response_size: usize) {
    answered(caller, token, |_| {
        Outcome::Redis(match status {
            0 => host::get_redis_reply(response_size).map_err(|err| err.status),
            status => Err(status),
        })
    });
}

fn answered(caller: u32, token: u32, read: impl FnOnce(Expect) -> Outcome) {
    let Some(expect) = with(|e| e.callouts.borrow().get(&token).map(|c| c.expect)) else {
        log::debug!("ignoring the answer to callout {token}: its stream has ended");
        return;
    };
    let outcome = read(expect);
    let (waker, task) = with(|e| {
        let mut callouts = e.callouts.borrow_mut();
        match callouts.get_mut(&token) {
            Some(callout) => {
                callout.outcome = Some(outcome);
                (callout.waker.take(), callout.task)
            }
            None => (None, 0),
        }
    });
    match waker {
        Some(waker) => waker.wake(),
        None => with(|e| e.ready.borrow_mut().push(task)),
    }
    run_ready(caller);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waker_round_trips_the_task_id() {
        let w = waker(42).clone();
        w.wake_by_ref();
        w.wake();
        with(|e| assert_eq!(*e.ready.borrow(), vec![42, 42]));
        with(|e| e.ready.borrow_mut().clear());
    }

    #[test]
    fn forgetting_a_token_and_late_answers_are_harmless() {
        let w = waker(7);
        with(|e| {
            e.callouts.borrow_mut().insert(
                9,
                Callout {
                    task: 7,
                    waker: None,
                    outcome: None,
                    expect: Expect::Http { max_body: 10 },
                },
            )
        });
        assert_eq!(live_counts(), (0, 1));
        assert!(take_outcome(9, &w).is_none());
        forget(9);
        assert_eq!(live_counts(), (0, 0));
        // A late answer for the forgotten token: ignored, no host call.
        on_http_call_response(1, 9, 3, 10, 0);
        assert_eq!(live_counts(), (0, 0));
    }
}
