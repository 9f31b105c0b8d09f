//! The single-threaded executor behind `async` handlers: tasks, wakers,
//! spawn, poll and cancel. It knows nothing of callouts (`callout.rs`).
//!
//! A stream has at most one task: the phase handler that is waiting. The
//! stream's callback polls it once; `Pending` becomes `Action::Pause`. A
//! woken task is polled in the callback that woke it (a callout's answer),
//! with the host's effective context set to the task's stream; one that
//! completes with `Continue` resumes its request or response (unless it sent
//! a response).
//!
//! Tasks live in a slab: a task's [`TaskId`] is its index, and a waker's data
//! is that index, so waking and polling need no lookup. A completed task of
//! a stream leaves the stream's [`HttpContext`] in its slot until the stream
//! takes it back ([`LentContext`], the stream's side of this); only the
//! stream frees its slot, so the id it holds is never reused under it. A stale wake (for a slot reused by
//! another task) only polls that task once more, which a future allows.

use crate::context::HttpContext;
use crate::host::{self, StreamType};
use proxy_wasm::types::Action;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// A handler's future: it owns the stream's context and gives it back.
pub(crate) type TaskFuture = Pin<Box<dyn Future<Output = (HttpContext, Action)>>>;

/// Boxes a handler future (called by generated code).
pub fn boxed_task(future: impl Future<Output = (HttpContext, Action)> + 'static) -> TaskFuture {
    Box::pin(future)
}

/// A waiting task of a stream: the index of its slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TaskId(u32);

struct Task {
    future: TaskFuture,
    /// The context the task works for (its stream, or a root for a tick
    /// handler): the host's effective context while it is polled.
    context: u32,
    /// The root context of the task's stream.
    root: u32,
    /// What to resume when the task completes with `Continue`.
    resume: Option<StreamType>,
    /// A stream holds the task's id and takes its context back; a task
    /// nobody holds (stream-done, tick) frees its slot when it completes.
    held: bool,
}

enum Slot {
    Free,
    /// `None` while the task is being polled.
    Waiting(Option<Task>),
    /// The task completed; its stream has not taken the context back yet.
    Finished(HttpContext),
}

/// The task being polled: its context and root.
#[derive(Clone, Copy)]
pub(crate) struct Current {
    pub context: u32,
    pub root: u32,
}

struct Executor {
    /// Live root contexts, oldest first.
    roots: RefCell<Vec<u32>>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
    /// Tasks waiting (polled, not complete).
    waiting: Cell<usize>,
    current: Cell<Option<Current>>,
    ready: RefCell<Vec<u32>>,
}

thread_local! {
    // `const`: no lazy-initialisation check on every access.
    static EXECUTOR: Executor = const {
        Executor {
            roots: RefCell::new(Vec::new()),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
            waiting: Cell::new(0),
            current: Cell::new(None),
            ready: RefCell::new(Vec::new()),
        }
    };
}

fn with<R>(f: impl FnOnce(&Executor) -> R) -> R {
    EXECUTOR.with(f)
}

// ---- wakers: the data pointer is the task's slot -------------------------------

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake, wake, drop_waker);

fn raw_waker(slot: u32) -> RawWaker {
    RawWaker::new(slot as usize as *const (), &VTABLE)
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    raw_waker(data as usize as u32)
}

unsafe fn wake(data: *const ()) {
    let slot = data as usize as u32;
    let _ = EXECUTOR.try_with(|e| e.ready.borrow_mut().push(slot));
}

unsafe fn drop_waker(_: *const ()) {}

fn waker(slot: u32) -> Waker {
    // SAFETY: the vtable functions only read the index out of the pointer.
    unsafe { Waker::from_raw(raw_waker(slot)) }
}

// ---- roots: the contexts a task may run as when its stream is gone -----------

/// A root context was created.
pub(crate) fn add_root(context_id: u32) {
    with(|e| e.roots.borrow_mut().push(context_id));
}

/// A root context was deleted (`callout::remove_root` also fails its
/// callouts).
pub(crate) fn remove_root(context_id: u32) {
    with(|e| e.roots.borrow_mut().retain(|root| *root != context_id));
}

/// How many root contexts are live.
pub(crate) fn root_count() -> usize {
    with(|e| e.roots.borrow().len())
}

/// `root` if it is live, else the newest live root.
pub(crate) fn live_root(root: u32) -> Option<u32> {
    with(|e| {
        let roots = e.roots.borrow();
        match roots.contains(&root) {
            true => Some(root),
            false => roots.last().copied(),
        }
    })
}

// ---- tasks ---------------------------------------------------------------------

/// The task being polled, if any (callouts are made for it).
pub(crate) fn current() -> Option<Current> {
    with(|e| e.current.get())
}

fn poll_task(slot: u32, task: &mut Task) -> Poll<(HttpContext, Action)> {
    let outer = with(|e| {
        e.current.replace(Some(Current {
            context: task.context,
            root: task.root,
        }))
    });
    let waker = waker(slot);
    let result = task.future.as_mut().poll(&mut Context::from_waker(&waker));
    with(|e| e.current.set(outer));
    result
}

/// What [`spawn`] did with a task.
pub(crate) enum Spawned {
    /// It completed at once: the context and the handler's action.
    Done(HttpContext, Action),
    /// It waits; the stream must return `Pause`. `None` for a task nobody
    /// holds (`held` was false).
    Waiting(Option<TaskId>),
}

/// Polls a new task of `context` (of root context `root`) once. `held`: the
/// stream keeps the returned id and takes the context back with
/// [`take_context`] (or drops it with [`cancel`]).
pub(crate) fn spawn(
    context: u32,
    root: u32,
    future: TaskFuture,
    resume: Option<StreamType>,
    held: bool,
) -> Spawned {
    let slot = with(|e| {
        let free = e.free.borrow_mut().pop();
        match free {
            Some(slot) => slot,
            None => {
                let mut slots = e.slots.borrow_mut();
                slots.push(Slot::Free);
                slots.len() as u32 - 1
            }
        }
    });
    let mut task = Task {
        future,
        context,
        root,
        resume,
        held,
    };
    let spawned = match poll_task(slot, &mut task) {
        Poll::Ready((ctx, action)) => {
            free_slot(slot);
            Spawned::Done(ctx, action)
        }
        Poll::Pending => {
            with(|e| {
                e.slots.borrow_mut()[slot as usize] = Slot::Waiting(Some(task));
                e.waiting.set(e.waiting.get() + 1);
            });
            Spawned::Waiting(held.then_some(TaskId(slot)))
        }
    };
    run_ready(context, true);
    spawned
}

fn free_slot(slot: u32) {
    with(|e| e.free.borrow_mut().push(slot));
}

/// The stream's context back from its completed task; `None` while the
/// task still waits.
pub(crate) fn take_context(id: TaskId) -> Option<HttpContext> {
    let ctx = with(|e| {
        let mut slots = e.slots.borrow_mut();
        let slot = slots.get_mut(id.0 as usize)?;
        match std::mem::replace(slot, Slot::Free) {
            Slot::Finished(ctx) => Some(ctx),
            other => {
                *slot = other;
                None
            }
        }
    })?;
    free_slot(id.0);
    Some(ctx)
}

/// The stream ended: drops its task (waiting or completed). The task's
/// callout futures forget their tokens.
pub(crate) fn cancel(id: TaskId) {
    let dropped = with(|e| {
        let mut slots = e.slots.borrow_mut();
        let slot = slots.get_mut(id.0 as usize)?;
        let old = std::mem::replace(slot, Slot::Free);
        if let Slot::Waiting(Some(_)) = old {
            e.waiting.set(e.waiting.get() - 1);
        }
        Some(old)
    });
    if let Some(old) = dropped {
        if let Slot::Waiting(None) = old {
            // Being polled (cannot happen from a stream's own drop): put
            // the marker back; the poll finishes the task as usual.
            with(|e| e.slots.borrow_mut()[id.0 as usize] = Slot::Waiting(None));
            return;
        }
        free_slot(id.0);
        // Dropped here, outside the borrow: the futures' Drop touch the
        // callout tables.
        drop(old);
    }
}

/// Polls every woken task, each with the host's effective context set to its
/// stream, until none is left. Then, if `restore`, sets the effective
/// context back to `caller`, whose callback goes on (a callback that ends
/// right after needs no switch back: the host sets it for the next one).
pub(crate) fn run_ready(caller: u32, restore: bool) {
    let mut switched = false;
    loop {
        let Some(slot) = with(|e| e.ready.borrow_mut().pop()) else {
            if switched && restore {
                let _ = host::set_effective_context(caller);
            }
            return;
        };
        let task = with(|e| match e.slots.borrow_mut().get_mut(slot as usize) {
            Some(Slot::Waiting(task)) => task.take(),
            _ => None, // finished or dropped: a stale wake
        });
        let Some(mut task) = task else {
            continue;
        };
        switched = true;
        if host::set_effective_context(task.context).is_err() {
            // A stream-done task whose stream is gone runs as its root.
            if let Some(root) = live_root(task.root) {
                let _ = host::set_effective_context(root);
            }
        }
        match poll_task(slot, &mut task) {
            Poll::Pending => with(|e| {
                e.slots.borrow_mut()[slot as usize] = Slot::Waiting(Some(task));
            }),
            Poll::Ready((ctx, action)) => {
                with(|e| e.waiting.set(e.waiting.get() - 1));
                let responded = ctx.has_responded();
                if task.held {
                    with(|e| e.slots.borrow_mut()[slot as usize] = Slot::Finished(ctx));
                } else {
                    free_slot(slot);
                    drop(ctx);
                }
                let Task { future, resume, .. } = task;
                // The future's drop (its callouts' tokens) before resuming.
                drop(future);
                if action == Action::Continue && !responded {
                    if let Some(stream) = resume {
                        if let Err(err) = host::continue_stream(stream) {
                            log::warn!("cannot resume the stream: {err}");
                        }
                    }
                }
            }
        }
    }
}

/// Runs tasks woken outside a callback that could run them (their root was
/// deleted), as context `caller`.
pub(crate) fn run_pending(caller: u32) {
    if with(|e| !e.ready.borrow().is_empty()) {
        run_ready(caller, true);
    }
}

// ---- a stream's context, lent to its waiting task ----------------------------

/// A stream's [`HttpContext`]: with the stream, or lent to the task of its
/// async handler, which leaves it in its slot when it completes; the stream
/// takes it back at its next use.
pub(crate) struct LentContext {
    context_id: u32,
    /// The root context that created the stream: its callouts are made on
    /// that root's behalf.
    root_id: u32,
    // None while a task holds the context.
    ctx: Option<HttpContext>,
    // The task that holds the context while it waits or until the stream
    // takes the context back.
    task: Option<TaskId>,
}

impl LentContext {
    pub(crate) fn new(context_id: u32, root_id: u32) -> Self {
        LentContext {
            context_id,
            root_id,
            ctx: Some(HttpContext::new(context_id)),
            task: None,
        }
    }

    /// The stream's context id.
    pub(crate) fn context_id(&self) -> u32 {
        self.context_id
    }

    /// The context, if no task holds it (taking it back from the task if
    /// it has finished).
    pub(crate) fn get(&mut self) -> Option<&mut HttpContext> {
        if self.ctx.is_none() {
            if let Some(task) = self.task {
                self.ctx = take_context(task);
                if self.ctx.is_some() {
                    self.task = None;
                }
            }
        }
        self.ctx.as_mut()
    }

    /// Hands the context to an async handler's task and polls it once.
    pub(crate) fn spawn(
        &mut self,
        make: impl FnOnce(HttpContext) -> TaskFuture,
        resume: Option<StreamType>,
    ) -> Action {
        // (Taking it back first if the previous task has finished.)
        self.get();
        let Some(ctx) = self.ctx.take() else {
            return Action::Pause;
        };
        // A stream-done task (nothing to resume) outlives the stream: the
        // stream does not hold it.
        let held = resume.is_some();
        match spawn(self.context_id, self.root_id, make(ctx), resume, held) {
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

    /// The stream ends: a task still waiting will never be resumed.
    pub(crate) fn cancel(&mut self) {
        if let Some(task) = self.task.take() {
            cancel(task);
        }
    }

    /// The context for the stream's last phase: a task still holding it
    /// (the client went away) is dropped with the context, typed state
    /// included, and the phase gets a fresh one.
    pub(crate) fn reclaim(&mut self) {
        if self.get().is_none() {
            self.cancel();
            self.ctx = Some(HttpContext::new(self.context_id));
        }
    }
}

/// Tasks waiting, for leak checks.
pub(crate) fn waiting_tasks() -> usize {
    with(|e| e.waiting.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waker_round_trips_the_slot() {
        let w = waker(42).clone();
        w.wake_by_ref();
        w.wake();
        with(|e| assert_eq!(*e.ready.borrow(), vec![42, 42]));
        with(|e| e.ready.borrow_mut().clear());
    }

    #[test]
    fn a_stale_wake_and_a_cancelled_slot_are_harmless() {
        // A wake for a slot that holds no task: nothing to poll.
        with(|e| e.ready.borrow_mut().push(7));
        run_pending(1);
        assert_eq!(waiting_tasks(), 0);
        // Cancelling an id twice, or one never used, does nothing.
        cancel(TaskId(1000));
        assert!(take_context(TaskId(1000)).is_none());
    }
}
