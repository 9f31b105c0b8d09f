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
//! Every HTTP callout is made on behalf of a *root* context, both for the
//! host and for the `proxy-wasm` SDK's own token table: the SDK records a
//! callout against the context it last dispatched, which is stale after a
//! callback it does not dispatch (Higress's Redis answer) and dies with its
//! stream. Recorded against a root, every answer reaches
//! `Root::on_http_call_response`, and this table, not the SDK's, says which
//! task it belongs to. A stream that ends drops its task; the task's callout
//! futures forget their tokens on drop, and a late answer finds no entry and
//! is ignored.
//!
//! One VM may hold several roots: Envoy (and Higress on every configuration
//! push) runs each filter configuration that shares a `vm_config` as a root
//! context of its own, created and deleted while the others' streams live.
//! So every task remembers the root of its stream and its callouts are made
//! on behalf of that root, while it lives (else another live one). A root
//! that goes away takes its callouts with it (the host cancels them): their
//! tasks are woken with an error instead of waiting forever. HTTP and Redis
//! tokens come from separate host counters, so they are kept apart
//! ([`CalloutId`]).

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
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = (HttpContext, Action)>>>;

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
    /// The root context of the task's stream.
    root: u32,
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
    /// A Redis reply of this many bytes, over the call's limit (not read).
    RedisTooLarge(usize),
}

/// What to read when a callout is answered.
#[derive(Clone, Copy)]
pub(crate) enum Expect {
    /// An HTTP response with a body of at most this many bytes.
    Http { max_body: usize },
    /// A Redis reply of at most this many bytes.
    Redis { max_reply: usize },
}

struct Callout {
    task: u32,
    /// The root the callout was made on behalf of (the host cancels it when
    /// that root is deleted).
    root: u32,
    waker: Option<Waker>,
    outcome: Option<Outcome>,
    expect: Expect,
}

/// A dispatched callout: its kind and the host's token. HTTP and Redis
/// tokens are counted apart by some hosts (Higress), so they may be equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct CalloutId(u64);

impl CalloutId {
    fn http(token: u32) -> CalloutId {
        CalloutId(u64::from(token))
    }
    fn redis(token: u32) -> CalloutId {
        CalloutId(1 << 32 | u64::from(token))
    }
    fn of(expect: Expect, token: u32) -> CalloutId {
        match expect {
            Expect::Http { .. } => CalloutId::http(token),
            Expect::Redis { .. } => CalloutId::redis(token),
        }
    }
}

/// The host status given to a callout whose root was deleted while it
/// waited (`InternalFailure` in the proxy-wasm ABI).
const STATUS_ROOT_DELETED: u32 = 10;

#[derive(Default)]
struct Executor {
    /// Live root contexts, oldest first.
    roots: RefCell<Vec<u32>>,
    /// The root whose SDK-dispatched callback is running, if any: the SDK
    /// holds its table of roots then, so it cannot be pointed elsewhere.
    sdk_root: Cell<Option<u32>>,
    /// The task being polled and its root.
    current: Cell<Option<(u32, u32)>>,
    tasks: RefCell<HashMap<u32, Task>>,
    callouts: RefCell<HashMap<CalloutId, Callout>>,
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

/// A root context was created (callouts are made on behalf of roots).
pub(crate) fn add_root(context_id: u32) {
    with(|e| e.roots.borrow_mut().push(context_id));
}

/// A root context was deleted. The host cancels the callouts made on its
/// behalf: their tasks get an error and run at the next callback (not here:
/// the SDK holds its tables while it deletes a context).
pub(crate) fn remove_root(context_id: u32) {
    let wake = with(|e| {
        e.roots.borrow_mut().retain(|root| *root != context_id);
        let mut wake = Vec::new();
        for (id, callout) in e.callouts.borrow_mut().iter_mut() {
            if callout.root != context_id || callout.outcome.is_some() {
                continue;
            }
            callout.outcome = Some(match callout.expect {
                Expect::Http { .. } => Outcome::Http(Err(HttpCallError::NoResponse)),
                Expect::Redis { .. } => Outcome::Redis(Err(STATUS_ROOT_DELETED)),
            });
            log::debug!("callout {id:?} cancelled: its plugin configuration was removed");
            wake.push((callout.waker.take(), callout.task));
        }
        wake
    });
    // Woken outside the borrows: a waker pushes onto the ready list.
    for (waker, task) in wake {
        match waker {
            Some(waker) => waker.wake(),
            None => with(|e| e.ready.borrow_mut().push(task)),
        }
    }
}

/// How many root contexts are live.
pub(crate) fn root_count() -> usize {
    with(|e| e.roots.borrow().len())
}

/// `root` if it is live, else the newest live root.
fn live_root(root: u32) -> Option<u32> {
    with(|e| {
        let roots = e.roots.borrow();
        match roots.contains(&root) {
            true => Some(root),
            false => roots.last().copied(),
        }
    })
}

/// Runs `f` as a callback of root `root` dispatched by the SDK (the SDK's
/// record of the current context is that root already).
pub(crate) fn in_root_callback<R>(root: u32, f: impl FnOnce() -> R) -> R {
    let outer = with(|e| e.sdk_root.replace(Some(root)));
    let result = f();
    with(|e| e.sdk_root.set(outer));
    result
}

// ---- tasks ---------------------------------------------------------------------

fn poll_task(id: u32, task: &mut Task) -> Poll<(HttpContext, Action)> {
    let outer = with(|e| e.current.replace(Some((id, task.root))));
    let waker = waker(id);
    let result = task.future.as_mut().poll(&mut Context::from_waker(&waker));
    with(|e| e.current.set(outer));
    result
}

/// Polls a new task of stream `context_id` (of root context `root`) once.
/// `Some(action)` if it completed (its context is back in `slot`); `None` if
/// it waits, and the stream must return `Pause`.
pub(crate) fn spawn(
    context_id: u32,
    root: u32,
    future: TaskFuture,
    slot: ContextSlot,
    resume: Option<StreamType>,
) -> Option<Action> {
    let mut task = Task {
        future,
        root,
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
            // A stream-done task whose stream is gone runs as its root.
            if let Some(root) = live_root(task.root) {
                let _ = host::set_effective_context(root);
            }
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

/// The task id of root `root`'s tick handler at `slot`: above every
/// context id the host hands out, so it never names a stream.
pub(crate) fn tick_task_id(root: u32, slot: usize) -> u32 {
    0x8000_0000 | ((root & 0x7f_ffff) << 8) | (slot as u32 & 0xff)
}

/// Runs tasks woken outside a callback that could run them (their root was
/// deleted), as stream `caller`.
pub(crate) fn run_pending(caller: u32) {
    if with(|e| !e.ready.borrow().is_empty()) {
        run_ready(caller);
    }
}

/// Live tasks and callouts, for leak checks: `(tasks, callouts)`.
pub fn live_counts() -> (usize, usize) {
    with(|e| (e.tasks.borrow().len(), e.callouts.borrow().len()))
}

// ---- callouts ----------------------------------------------------------------------

extern "C" {
    // The proxy-wasm SDK's own export, called to set its "current context" to
    // the root without host calls (see the module docs).
    fn proxy_on_queue_ready(context_id: u32, queue_id: u32);
}

/// Makes a host call that starts a callout (`dispatch` returns its token or
/// the host's status) for the current task, on behalf of its stream's root,
/// and records the token.
fn dispatch(
    expect: Expect,
    waker: &Waker,
    dispatch: impl FnOnce() -> Result<u32, u32>,
) -> Result<CalloutId, DispatchError> {
    let Some((task, task_root)) = with(|e| e.current.get()) else {
        return Err(DispatchError::NotInHandler);
    };
    let root = match with(|e| e.sdk_root.get()) {
        // Inside a root's SDK-dispatched callback the SDK's record is that
        // root and its root table is borrowed: dispatch as that root.
        Some(root) => root,
        None => {
            let Some(root) = live_root(task_root) else {
                log::warn!("no plugin configuration is left in this VM to make a callout for");
                return Err(DispatchError::Refused(STATUS_ROOT_DELETED));
            };
            // SAFETY: the SDK's exported callback for a live root; it only
            // borrows its root table, which is free outside a root callback.
            // SAFETY: the SDK's own export, called with a root id it knows; no
            // borrow of ours is held across it.
            unsafe { proxy_on_queue_ready(root, SDK_ROOT_MARKER_QUEUE) };
            root
        }
    };
    let _ = host::set_effective_context(root);
    let result = dispatch();
    let _ = host::set_effective_context(task);
    let id = CalloutId::of(expect, result.map_err(DispatchError::Refused)?);
    with(|e| {
        e.callouts.borrow_mut().insert(
            id,
            Callout {
                task,
                root,
                waker: Some(waker.clone()),
                outcome: None,
                expect,
            },
        )
    });
    Ok(id)
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
) -> Result<CalloutId, HttpCallError> {
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
    max_reply: usize,
    waker: &Waker,
) -> Result<CalloutId, DispatchError> {
    dispatch(Expect::Redis { max_reply }, waker, || {
        host::dispatch_redis_call(cluster, query)
    })
}

/// The answer to callout `id` if it came; else remembers the waker.
pub(crate) fn take_outcome(id: CalloutId, waker: &Waker) -> Option<Outcome> {
    with(|e| {
        let mut callouts = e.callouts.borrow_mut();
        let callout = callouts.get_mut(&id)?;
        match callout.outcome.take() {
            Some(outcome) => {
                callouts.remove(&id);
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
pub(crate) fn forget(id: CalloutId) {
    let callout = with(|e| e.callouts.borrow_mut().remove(&id));
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
    answered(caller, CalloutId::http(token), |expect| match expect {
        Expect::Http { max_body } => Outcome::Http(HttpResponse::read_from_host(
            num_headers,
            body_size,
            num_trailers,
            max_body,
        )),
        Expect::Redis { .. } => Outcome::Http(Err(HttpCallError::BadResponse(
            "an HTTP answer to a Redis call".to_string(),
        ))),
    });
}

/// The host's answer to a Redis call (Higress's extension): `status` 0 and
/// the reply in the Redis buffer, or the host's error status.
pub(crate) fn on_redis_call_response(caller: u32, token: u32, status: u32, response_size: usize) {
    answered(caller, CalloutId::redis(token), |expect| match expect {
        // Not read at all: a huge reply must not grow the VM's memory.
        Expect::Redis { max_reply } if status == 0 && response_size > max_reply => {
            Outcome::RedisTooLarge(response_size)
        }
        _ => Outcome::Redis(match status {
            0 => host::get_redis_reply(response_size).map_err(|err| err.status),
            status => Err(status),
        }),
    });
}

fn answered(caller: u32, id: CalloutId, read: impl FnOnce(Expect) -> Outcome) {
    let Some(expect) = with(|e| e.callouts.borrow().get(&id).map(|c| c.expect)) else {
        log::debug!("ignoring the answer to callout {id:?}: its stream has ended");
        return;
    };
    let outcome = read(expect);
    let (waker, task) = with(|e| {
        let mut callouts = e.callouts.borrow_mut();
        match callouts.get_mut(&id) {
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
        insert_callout(CalloutId::http(9), 7, 1, Expect::Http { max_body: 10 });
        assert_eq!(live_counts(), (0, 1));
        assert!(take_outcome(CalloutId::http(9), &w).is_none());
        forget(CalloutId::http(9));
        assert_eq!(live_counts(), (0, 0));
        // A late answer for the forgotten token: ignored, no host call.
        on_http_call_response(1, 9, 3, 10, 0);
        assert_eq!(live_counts(), (0, 0));
    }

    fn insert_callout(id: CalloutId, task: u32, root: u32, expect: Expect) {
        with(|e| {
            e.callouts.borrow_mut().insert(
                id,
                Callout {
                    task,
                    root,
                    waker: None,
                    outcome: None,
                    expect,
                },
            )
        });
    }

    #[test]
    fn http_and_redis_tokens_do_not_collide() {
        let w = waker(3);
        insert_callout(CalloutId::http(5), 3, 1, Expect::Http { max_body: 10 });
        insert_callout(CalloutId::redis(5), 4, 1, Expect::Redis { max_reply: 10 });
        assert_eq!(live_counts(), (0, 2));
        forget(CalloutId::http(5));
        assert!(take_outcome(CalloutId::redis(5), &w).is_none());
        forget(CalloutId::redis(5));
        assert_eq!(live_counts(), (0, 0));
    }

    #[test]
    fn a_deleted_root_fails_only_its_own_callouts() {
        add_root(1);
        add_root(2);
        assert_eq!(live_root(1), Some(1));
        insert_callout(CalloutId::http(1), 10, 1, Expect::Http { max_body: 10 });
        insert_callout(CalloutId::redis(2), 11, 2, Expect::Redis { max_reply: 10 });
        insert_callout(CalloutId::http(3), 12, 2, Expect::Http { max_body: 10 });
        // A waiting callout has its task's waker: waking it must not touch
        // the tables remove_root holds.
        with(|e| {
            if let Some(callout) = e.callouts.borrow_mut().get_mut(&CalloutId::http(3)) {
                callout.waker = Some(waker(12));
            }
        });
        remove_root(2);
        assert_eq!(root_count(), 1);
        // A task whose root is gone makes its callouts as a live one.
        assert_eq!(live_root(2), Some(1));
        let w = waker(0);
        assert!(take_outcome(CalloutId::http(1), &w).is_none());
        assert!(matches!(
            take_outcome(CalloutId::redis(2), &w),
            Some(Outcome::Redis(Err(STATUS_ROOT_DELETED)))
        ));
        assert!(matches!(
            take_outcome(CalloutId::http(3), &w),
            Some(Outcome::Http(Err(HttpCallError::NoResponse)))
        ));
        // Their tasks were woken.
        with(|e| {
            let mut ready = std::mem::take(&mut *e.ready.borrow_mut());
            ready.sort();
            assert_eq!(ready, vec![11, 12]);
        });
        forget(CalloutId::http(1));
        remove_root(1);
        assert_eq!(live_root(1), None);
        assert_eq!(live_counts(), (0, 0));
    }
}
