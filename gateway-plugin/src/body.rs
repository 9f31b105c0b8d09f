//! Bodies: how a stream's request and response bodies reach the handlers.
//!
//! A direction (request or response) is handled in one of three modes,
//! decided per stream at its first body callback:
//!
//! - **skip**: no handler, no config for the stream, a binary body (Higress's
//!   rules: `content-type` with `octet-stream` or `grpc`, any
//!   `content-encoding`, a WebSocket upgrade) unless the handler opted in
//!   with `binary`, or the plugin called `ctx.dont_read_*_body()`. Nothing is
//!   buffered and the body goes on untouched.
//! - **whole**: the body is buffered to its end (last chunk or trailers) and
//!   the handler runs once with all of it.
//! - **streaming**: each chunk goes to the handler as it arrives and what it
//!   returns goes on at once. An async handler that waits *holds* the chunk
//!   and every later one (the host buffers them, [`Held`] remembers where
//!   each starts); they are handed to the handler in order once it
//!   completes, and the stream goes on when none is left.
//!
//! Buffer limits (`ctx.set_*_body_buffer_limit`) are checked wherever the
//! plugin makes the gateway buffer: a body past the limit is answered with
//! 413 (request) or 500 (response) and a log line that says why.
//!
//! This file holds a stream's body state ([`Bodies`]) and its body phases;
//! the headers phase asks it first what body follows ([`BodyPlan`]). Beside
//! it: `binary.rs` (bodies not read), `held.rs` (streaming), `hold.rs`
//! (`hold_headers`) and `after_headers.rs` (a body that arrives while an
//! async headers handler waits).

mod after_headers;
mod binary;
mod held;
mod hold;

use crate::context::{BodyControl, HttpContext};
use crate::direction::Direction;
use crate::executor::{LentContext, TaskFuture};
use crate::host;
use crate::plugin::{BodyHandler, Chunk, ChunkHandler, HeadersHandler, IntoChunk, Plugin};
use after_headers::AfterHeaders;
use held::{append_at_end, apply_chunk, chunk_task, Held};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

pub(crate) use after_headers::headers_then_body;

/// Converts a streaming handler's return value (called by generated code,
/// spanned at the handler's return type).
#[inline(always)]
pub fn into_chunk<T: IntoChunk>(value: T) -> Chunk {
    value.into_chunk()
}

/// How a direction's body is handled for one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Skip,
    Whole,
    Streaming,
}

/// How a direction's body goes to the plugin, from its handlers and what the
/// plugin decided for the stream: not at all (no handler, `dont_read`, or
/// a binary body the handlers did not opt into), chunk by chunk (a
/// streaming handler, unless the stream asked for the whole body), or whole.
fn decide_mode(has_whole: bool, has_chunk: bool, binary_skip: bool, control: BodyControl) -> Mode {
    if binary_skip || control.dont_read || !(has_whole || has_chunk) {
        Mode::Skip
    } else if has_chunk && !control.buffer {
        Mode::Streaming
    } else {
        Mode::Whole
    }
}

/// Answers a stream whose buffered body went past the plugin's limit: 413
/// for a request, 500 for a response, as the gateway does for its own.
fn reject_over_limit(direction: Direction, size: usize, limit: usize) {
    let (status, details) = match direction {
        Direction::Request => (413, "request_payload_too_large"),
        Direction::Response => (500, "response_payload_too_large"),
    };
    log::warn!(
        "the {} body is over the plugin's buffer limit ({size} > {limit} bytes, \
         set_{}_body_buffer_limit): answered {status}",
        direction.name(),
        direction.name()
    );
    if let Err(err) = host::send_local_response(status, details, &[], &[]) {
        log::error!("cannot answer {status}: {err}");
    }
}

/// Reads the direction's body the host buffers, up to `size` bytes; `None`
/// (logged) if the host refuses.
fn read_buffered(direction: Direction, size: usize) -> Option<Vec<u8>> {
    match host::get_buffer(direction.buffer(), 0, size) {
        Ok(body) => Some(body.unwrap_or_default()),
        Err(err) => {
            log::error!("cannot read the {} body: {err}", direction.name());
            None
        }
    }
}

/// Per direction (request, response): how a stream's body is handled. Made
/// when a body handler first needs it, so plugins without one carry nothing.
#[derive(Default)]
pub(crate) struct Bodies {
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

/// What the headers phase of a direction learns about the body after it,
/// before its handler runs. (Its making and its methods are inlined: for a
/// plugin without body handlers its answers are constants, and its `.wasm`
/// carries none of this.)
#[derive(Clone, Copy)]
pub(crate) struct BodyPlan {
    /// A body handler will read (and may change) a body that follows.
    pub(crate) follows: bool,
    /// The headers wait for the body handler (`hold_headers`).
    hold: bool,
    direction: Direction,
}

impl Bodies {
    /// The stream's body state, made on first use.
    fn of(bodies: &mut Option<Box<Bodies>>) -> &mut Bodies {
        bodies.get_or_insert_with(Box::default)
    }

    /// Before a direction's headers handler: whether a body that a body
    /// handler reads follows (a binary body, by Higress's rules decided
    /// here, does not unless the handler opted in), and whether the headers
    /// wait for it (`hold_headers`, where the gateway allows it: it passes
    /// the body on to the plugin meanwhile).
    #[inline(always)]
    pub(crate) fn plan<P: Plugin>(
        bodies: &mut Option<Box<Bodies>>,
        end_of_stream: bool,
        direction: Direction,
    ) -> BodyPlan {
        let handlers = P::handlers();
        if direction == Direction::Request
            && (handlers.has_body(Direction::Request) || handlers.has_body(Direction::Response))
            && binary::is_websocket()
        {
            Bodies::of(bodies).binary = [true; 2];
        }
        let d = direction.index();
        let follows = handlers.has_body(direction) && !end_of_stream && {
            let bodies = Bodies::of(bodies);
            if !handlers.binary[d] && !bodies.binary[d] {
                bodies.binary[d] = binary::is_binary(direction);
            }
            !bodies.binary[d] || handlers.binary[d]
        };
        let hold = handlers.hold_headers[d] && follows && !hold::hold_refused();
        BodyPlan {
            follows,
            hold,
            direction,
        }
    }

    /// A stream that held its headers (`hold_headers`) but never got a body
    /// callback: the gateway stopped the body with the headers.
    pub(crate) fn check_hold(&self, direction: Direction) {
        let d = direction.index();
        if self.holding[d] && !self.seen_body[d] {
            hold::refuse_hold(direction);
        }
    }

    /// How the direction's body is handled for this stream (decided once,
    /// at its first callback, from what the headers handlers said).
    fn mode_for<P: Plugin>(&mut self, ctx: &mut LentContext, direction: Direction) -> Mode {
        let d = direction.index();
        if let Some(mode) = self.mode[d] {
            return mode;
        }
        let handlers = P::handlers();
        let (whole, chunk) = handlers.body(direction);
        let control = ctx.get().map(|ctx| ctx.body_control[d]).unwrap_or_default();
        let binary_skip = self.binary[d] && !handlers.binary[d];
        let mode = decide_mode(whole.is_some(), chunk.is_some(), binary_skip, control);
        self.mode[d] = Some(mode);
        self.limit[d] = control.limit;
        mode
    }

    /// Whether `size` buffered bytes are past the plugin's limit; if so the
    /// stream is answered (once) and the rest of the body goes through.
    fn over_limit(&mut self, direction: Direction, size: usize) -> bool {
        let d = direction.index();
        match self.limit[d] {
            Some(limit) if size > limit => {
                self.over_limit[d] = true;
                reject_over_limit(direction, size, limit);
                true
            }
            _ => false,
        }
    }

    /// A body callback of a stream that has a config and a body handler for
    /// `direction` (`body_size: None` in the trailers callback, which ends a
    /// message that has trailers: no body chunk then says `end_of_stream`).
    pub(crate) fn body_phase<P: Plugin>(
        &mut self,
        ctx: &mut LentContext,
        config: Rc<P>,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let d = direction.index();
        self.seen_body[d] = true;
        if self.over_limit[d] {
            return Action::Continue;
        }
        if let Some(action) =
            self.while_headers_wait(ctx, &config, body_size, end_of_stream, direction)
        {
            return action;
        }
        if let Some(action) =
            self.while_chunk_handler_waits::<P>(body_size, end_of_stream, direction)
        {
            return action;
        }
        let (whole, chunk) = P::handlers().body(direction);
        match self.mode_for::<P>(ctx, direction) {
            Mode::Skip => Action::Continue,
            Mode::Streaming => match chunk {
                Some(handler) => {
                    self.chunk_phase(ctx, handler, config, body_size, end_of_stream, direction)
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
                if std::mem::replace(&mut self.handled[d], true) {
                    return Action::Continue;
                }
                // In the trailers callback the size is not given: read all
                // there is (the host returns at most what it has).
                let size = body_size.unwrap_or(u32::MAX as usize);
                match (whole, chunk) {
                    (Some(handler), _) => whole_body(ctx, handler, config, size, direction),
                    (None, Some(handler)) => {
                        self.chunk_phase(ctx, handler, config, Some(size), true, direction)
                    }
                    (None, None) => Action::Continue,
                }
            }
        }
    }

    /// An async headers handler still waits (the gateway passed the body on
    /// while the headers were paused): nothing goes on before the body
    /// handler has seen the body. `None` when no headers handler waits.
    fn while_headers_wait<P: Plugin>(
        &mut self,
        ctx: &mut LentContext,
        config: &Rc<P>,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Option<Action> {
        // (Constant guard: only an async headers handler leaves this record.)
        let headers = match direction {
            Direction::Request => P::handlers().request_headers,
            Direction::Response => P::handlers().response_headers,
        };
        if !matches!(headers, Some(HeadersHandler::Async(_))) || ctx.get().is_some() {
            return None;
        }
        let after = self.after_headers[direction.index()].clone()?;
        after.borrow_mut().body_started = true;
        if end_of_stream {
            let body_phase = self.body_continuation(body_size, Rc::clone(config), direction);
            after.borrow_mut().continuation = Some(body_phase);
        }
        // Pause on a body chunk = StopIterationAndBuffer.
        Some(Action::Pause)
    }

    /// An async streaming handler holds the stream: this chunk waits its
    /// turn. `None` when no such handler runs.
    fn while_chunk_handler_waits<P: Plugin>(
        &mut self,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Option<Action> {
        // (The guard is constant: only async streaming handlers hold.)
        let (_, chunk) = P::handlers().body(direction);
        let held = match chunk {
            Some(ChunkHandler::Async(_)) => self.held[direction.index()].clone()?,
            _ => return None,
        };
        let mut held = held.borrow_mut();
        if !held.running {
            return None;
        }
        let size = body_size.unwrap_or(held.buffered());
        held.push(size, end_of_stream);
        drop(held);
        if self.over_limit(direction, size) {
            return Some(Action::Continue);
        }
        Some(Action::Pause)
    }

    /// The body phase of a message that ended while its async headers
    /// handler waited: run by that handler's task when it is done, with the
    /// context it gives back (so the headers handler's decisions count).
    fn body_continuation<P: Plugin>(
        &mut self,
        body_size: Option<usize>,
        config: Rc<P>,
        direction: Direction,
    ) -> Box<dyn FnOnce(HttpContext) -> TaskFuture> {
        let d = direction.index();
        let handlers = P::handlers();
        let (whole, chunk) = handlers.body(direction);
        let binary_skip = self.binary[d] && !handlers.binary[d];
        // No body callback comes after the end.
        self.handled[d] = true;
        self.mode[d] = Some(Mode::Whole);
        Box::new(move |mut ctx: HttpContext| -> TaskFuture {
            let control = ctx.body_control[d];
            let mode = decide_mode(whole.is_some(), chunk.is_some(), binary_skip, control);
            if mode == Mode::Skip {
                return Box::pin(async move { (ctx, Action::Continue) });
            }
            let size = body_size.unwrap_or(u32::MAX as usize);
            let body = read_buffered(direction, size).unwrap_or_default();
            if let Some(limit) = control.limit.filter(|limit| body.len() > *limit) {
                reject_over_limit(direction, body.len(), limit);
                return Box::pin(async move { (ctx, Action::Pause) });
            }
            // The whole body is in: streaming gets it as one last chunk.
            match (whole, chunk) {
                (Some(handler), _) if mode == Mode::Whole => {
                    set_body_len(&mut ctx, direction, body.len());
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
                    apply_chunk(direction, &body, out);
                    (ctx, Action::Continue)
                }),
                (_, Some(ChunkHandler::Async(handler))) => {
                    chunk_task(handler, ctx, config, Rc::default(), direction, body, true)
                }
                _ => Box::pin(async move { (ctx, Action::Continue) }),
            }
        })
    }

    /// Runs the streaming handler on the chunk the host holds now
    /// (`body_size: None`: the stream ended with trailers, the handler gets
    /// an empty last chunk and what it returns is added at the end).
    fn chunk_phase<P: Plugin>(
        &mut self,
        ctx: &mut LentContext,
        handler: ChunkHandler<P>,
        config: Rc<P>,
        body_size: Option<usize>,
        end_of_stream: bool,
        direction: Direction,
    ) -> Action {
        let Some(context) = ctx.get() else {
            log::warn!(
                "a {} body chunk arrived while a handler is still waiting",
                direction.name()
            );
            return Action::Pause;
        };
        if context.has_responded() {
            return Action::Continue;
        }
        let chunk = match body_size {
            Some(size) if size > 0 => match read_buffered(direction, size) {
                Some(chunk) => chunk,
                None => return Action::Continue,
            },
            _ => Vec::new(),
        };
        match handler {
            ChunkHandler::Sync(handler) => {
                let out = handler(context, &config, &chunk, end_of_stream);
                match body_size {
                    Some(_) => apply_chunk(direction, &chunk, out),
                    None => append_at_end(direction, out),
                }
                if context.has_responded() {
                    Action::Pause
                } else {
                    Action::Continue
                }
            }
            ChunkHandler::Async(handler) => {
                let held = Rc::clone(self.held[direction.index()].get_or_insert_with(Rc::default));
                ctx.spawn(
                    |ctx| chunk_task(handler, ctx, config, held, direction, chunk, end_of_stream),
                    Some(direction.stream()),
                )
            }
        }
    }
}

/// Records the length of the body a whole-body handler gets, which
/// `ctx.request_body()` / `ctx.response_body()` read back.
fn set_body_len(ctx: &mut HttpContext, direction: Direction, len: usize) {
    match direction {
        Direction::Request => ctx.request_body_len = len,
        Direction::Response => ctx.response_body_len = len,
    }
}

/// Runs the whole-body handler with the buffered body.
fn whole_body<P: Plugin>(
    ctx: &mut LentContext,
    handler: BodyHandler<P>,
    config: Rc<P>,
    size: usize,
    direction: Direction,
) -> Action {
    let Some(context) = ctx.get() else {
        log::warn!(
            "the {} body arrived while a handler is still waiting",
            direction.name()
        );
        return Action::Pause;
    };
    if context.has_responded() {
        return Action::Continue;
    }
    let Some(body) = read_buffered(direction, size) else {
        return Action::Continue;
    };
    set_body_len(context, direction, body.len());
    match handler {
        BodyHandler::Sync(handler) => handler(context, &config, &body),
        BodyHandler::Async(handler) => {
            ctx.spawn(|ctx| handler(ctx, config, body), Some(direction.stream()))
        }
    }
}

impl BodyPlan {
    /// Removes `content-length` when the body handler will read (and may
    /// change) the body that follows: it then travels chunked.
    #[inline(always)]
    pub(crate) fn drop_content_length(self, ctx: &mut LentContext) {
        if !self.follows {
            return;
        }
        let dont_read = ctx
            .get()
            .is_some_and(|ctx| ctx.body_control[self.direction.index()].dont_read);
        if !dont_read {
            if let Err(err) = host::remove_map_value(self.direction.headers(), "content-length") {
                log::warn!("cannot remove content-length: {err}");
            }
        }
    }

    /// After a sync headers handler: with `hold_headers`, a `Continue`
    /// becomes a pause that holds the headers until the body handler lets
    /// them go (unless the handler chose not to read the body).
    #[inline(always)]
    pub(crate) fn hold(
        self,
        bodies: &mut Option<Box<Bodies>>,
        ctx: &mut LentContext,
        action: Action,
    ) -> Action {
        if !self.hold || action != Action::Continue {
            return action;
        }
        let d = self.direction.index();
        let reads = ctx
            .get()
            .is_some_and(|ctx| !ctx.has_responded() && !ctx.body_control[d].dont_read);
        if !reads {
            return action;
        }
        Bodies::of(bodies).holding[d] = true;
        Action::Pause
    }

    /// An async headers handler starts while its body may arrive (on a
    /// gateway that lets a header pause hold only the headers): the record
    /// its task and the body callbacks share ([`headers_then_body`]).
    #[inline(always)]
    pub(crate) fn await_headers_handler(
        self,
        bodies: &mut Option<Box<Bodies>>,
    ) -> Rc<RefCell<AfterHeaders>> {
        let after = Rc::new(RefCell::new(AfterHeaders {
            hold: self.hold,
            ..AfterHeaders::default()
        }));
        let bodies = Bodies::of(bodies);
        let d = self.direction.index();
        bodies.after_headers[d] = Some(Rc::clone(&after));
        bodies.holding[d] = self.hold;
        after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_become_chunks() {
        assert_eq!(into_chunk(b"x".to_vec()), Chunk::Replace(b"x".to_vec()));
        assert_eq!(into_chunk(String::from("y")), Chunk::Replace(b"y".to_vec()));
        assert_eq!(into_chunk("z"), Chunk::Replace(b"z".to_vec()));
        assert_eq!(into_chunk(&b"w"[..]), Chunk::Replace(b"w".to_vec()));
        assert_eq!(into_chunk(Chunk::Pass), Chunk::Pass);
        assert_eq!(Chunk::drop_chunk(), Chunk::Replace(Vec::new()));
    }

    #[test]
    fn the_mode_follows_the_handlers_and_the_streams_choices() {
        let control = |dont_read, buffer| BodyControl {
            dont_read,
            buffer,
            limit: None,
        };
        // (whole, chunk, binary skip, dont_read, buffer) -> mode
        let cases = [
            ((false, false, false, false, false), Mode::Skip),
            ((true, false, false, false, false), Mode::Whole),
            ((false, true, false, false, false), Mode::Streaming),
            ((true, true, false, false, false), Mode::Streaming),
            ((true, true, false, false, true), Mode::Whole),
            ((false, true, false, false, true), Mode::Whole),
            ((true, true, true, false, false), Mode::Skip),
            ((true, true, false, true, true), Mode::Skip),
        ];
        for ((whole, chunk, binary, dont_read, buffer), mode) in cases {
            let got = decide_mode(whole, chunk, binary, control(dont_read, buffer));
            assert_eq!(got, mode, "{whole} {chunk} {binary} {dont_read} {buffer}");
        }
    }
}
