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

use crate::context::HttpContext;
use crate::executor::TaskFuture;
use crate::host::{self, BufferType, MapType, StreamType};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

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

/// Converts a streaming handler's return value (called by generated code,
/// spanned at the handler's return type).
#[inline(always)]
pub fn into_chunk<T: IntoChunk>(value: T) -> Chunk {
    value.into_chunk()
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
impl<C> Clone for ChunkHandler<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for ChunkHandler<C> {}

/// Request or response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

impl Direction {
    pub(crate) fn buffer(self) -> BufferType {
        match self {
            Direction::Request => BufferType::HttpRequestBody,
            Direction::Response => BufferType::HttpResponseBody,
        }
    }
    pub(crate) fn headers(self) -> MapType {
        match self {
            Direction::Request => MapType::HttpRequestHeaders,
            Direction::Response => MapType::HttpResponseHeaders,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
    pub(crate) fn index(self) -> usize {
        self as usize
    }
    pub(crate) fn stream(self) -> StreamType {
        match self {
            Direction::Request => StreamType::HttpRequest,
            Direction::Response => StreamType::HttpResponse,
        }
    }
}

/// What a plugin decided for one direction of one stream
/// (`ctx.dont_read_*_body()`, `ctx.buffer_*_body()`, limits).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyControl {
    pub(crate) dont_read: bool,
    pub(crate) buffer: bool,
    pub(crate) limit: Option<usize>,
}

/// How a direction's body is handled for one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Skip,
    Whole,
    Streaming,
}

/// How a direction's body goes to the plugin, from its handlers and what the
/// plugin decided for the stream: not at all (no handler, `dont_read`, or
/// a binary body the handlers did not opt into), chunk by chunk (a
/// streaming handler, unless the stream asked for the whole body), or whole.
pub(crate) fn decide_mode(
    has_whole: bool,
    has_chunk: bool,
    binary_skip: bool,
    control: BodyControl,
) -> Mode {
    if binary_skip || control.dont_read || !(has_whole || has_chunk) {
        Mode::Skip
    } else if has_chunk && !control.buffer {
        Mode::Streaming
    } else {
        Mode::Whole
    }
}

/// Whether a body is binary by Higress's rules: its `content-type` contains
/// `octet-stream` or `grpc`, or it has a `content-encoding`.
pub(crate) fn is_binary(direction: Direction) -> bool {
    let header = |name| {
        host::get_map_value(direction.headers(), name)
            .ok()
            .flatten()
    };
    if header("content-encoding").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    header("content-type").is_some_and(|v| {
        contains_ignore_case(v.as_bytes(), b"octet-stream")
            || contains_ignore_case(v.as_bytes(), b"grpc")
    })
}

/// Whether `haystack` contains `needle`, ASCII case-insensitively. (A plain
/// window scan: header values are short, and `str::contains`'s searcher
/// costs every plugin with a body handler kilobytes of code.)
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Whether the request upgrades to a WebSocket (`connection: upgrade` and
/// `upgrade: websocket`): then neither body is read.
pub(crate) fn is_websocket() -> bool {
    let header = |name| {
        host::get_map_value(MapType::HttpRequestHeaders, name)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    header("upgrade").eq_ignore_ascii_case("websocket")
        && header("connection")
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Answers a stream whose buffered body went past the plugin's limit: 413
/// for a request, 500 for a response, as the gateway does for its own.
pub(crate) fn reject_over_limit(direction: Direction, size: usize, limit: usize) {
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

/// Adds a streaming handler's answer to a body's end that came with the
/// trailers (its chunk was empty). Possible only where the host still
/// buffers the body (chunks held for an awaiting handler); a body whose
/// chunks all went on has nothing left to add to (Envoy: `BadArgument`).
pub(crate) fn append_at_end(direction: Direction, out: Chunk) {
    let Chunk::Replace(out) = out else { return };
    if out.is_empty() {
        return;
    }
    if let Err(err) = host::set_buffer(direction.buffer(), 0, 0, &out) {
        log::warn!(
            "{} bytes returned at the end of a {} body that ends with trailers are dropped: \
             its chunks have all gone on, and the gateway has no body left to add them to ({err})",
            out.len(),
            direction.name()
        );
    }
}

/// Reads `len` bytes of the direction's buffered body from `start`.
fn read_body(direction: Direction, start: usize, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    match host::get_buffer(direction.buffer(), start, len) {
        Ok(bytes) => bytes.unwrap_or_default(),
        Err(err) => {
            log::error!("cannot read the {} body: {err}", direction.name());
            Vec::new()
        }
    }
}

/// Sends `chunk`'s replacement on: the first `chunk.len()` bytes of the
/// host's buffer become `out` (nothing is written when the handler passed
/// the chunk on).
pub(crate) fn apply_chunk(direction: Direction, chunk: &[u8], out: Chunk) {
    let Chunk::Replace(out) = out else { return };
    if out == chunk {
        return;
    }
    if let Err(err) = host::set_buffer(direction.buffer(), 0, chunk.len(), &out) {
        log::warn!("cannot replace a {} body chunk: {err}", direction.name());
    }
}

/// The chunks of one direction that an async streaming handler holds: the
/// host buffers them (the stream returns `Pause`), this says where each
/// starts and what the handler made of those it has seen.
///
/// Bytes in the host's buffer: `[handled: consumed][current][queued...]`.
/// Nothing is written to the host until the task ends, because the host
/// can only replace a buffer's start (Envoy refuses writes in the middle):
/// then the first `consumed` bytes become `output`, in one call.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// An async handler's task runs (it owns the context).
    pub(crate) running: bool,
    /// Bytes of the host's buffer the handler has seen.
    consumed: usize,
    /// Bytes of the host's buffer known to this record.
    buffered: usize,
    /// What goes on in place of the first `consumed` bytes; `None` while
    /// every chunk was passed on unchanged.
    output: Option<Vec<u8>>,
    /// Chunks that arrived while the handler ran: length, end of stream.
    queue: VecDeque<(usize, bool)>,
}

impl Held {
    /// Bytes of the host's buffer known to this record.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// A chunk arrived while the task runs: the host's buffer now holds
    /// `body_size` bytes.
    pub(crate) fn push(&mut self, body_size: usize, end_of_stream: bool) {
        let len = body_size.saturating_sub(self.buffered);
        self.buffered = self.buffered.max(body_size);
        self.queue.push_back((len, end_of_stream));
    }

    /// The handler returned `out` for `chunk` (the bytes at `consumed`).
    fn record(&mut self, direction: Direction, chunk: &[u8], out: Chunk) {
        match out {
            Chunk::Replace(bytes) if bytes != chunk => {
                let output = self
                    .output
                    .get_or_insert_with(|| read_body(direction, 0, self.consumed));
                output.extend_from_slice(&bytes);
            }
            _ => {
                if let Some(output) = &mut self.output {
                    output.extend_from_slice(chunk);
                }
            }
        }
        self.consumed += chunk.len();
    }

    /// The next held chunk, read from the host.
    fn next(&mut self, direction: Direction) -> Option<(Vec<u8>, bool)> {
        let (len, end_of_stream) = self.queue.pop_front()?;
        Some((read_body(direction, self.consumed, len), end_of_stream))
    }

    /// The task ends: the handled bytes are replaced by what the handler
    /// made of them, and the record is reset for the next hold.
    fn finish(&mut self, direction: Direction) {
        if let Some(output) = self.output.take() {
            if self.consumed == 0 {
                // Only the empty last call at the trailers.
                append_at_end(direction, Chunk::Replace(output));
            } else if let Err(err) = host::set_buffer(direction.buffer(), 0, self.consumed, &output)
            {
                log::warn!("cannot replace the {} body chunks: {err}", direction.name());
            }
        }
        *self = Held::default();
    }
}

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

thread_local! {
    /// The gateway was seen not to pass a body on while headers were held.
    static HOLD_REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this VM saw that its gateway does not let headers be held.
pub(crate) fn hold_refused() -> bool {
    HOLD_REFUSED.with(|r| r.get())
}

/// A stream held its headers for the body handler (`hold_headers`) and its
/// body never reached the plugin: the gateway turned the header pause into
/// a full stop. Says so once, and holds no more headers in this VM.
pub(crate) fn refuse_hold(direction: Direction) {
    if HOLD_REFUSED.with(|r| r.replace(true)) {
        return;
    }
    log::error!(
        "hold_headers: the gateway did not pass the {} body on to the plugin while its \
         headers were held, so it does not let a plugin hold headers for the body handler \
         (upstream Envoy: set `allow_on_headers_stop_iteration: true` in the Wasm filter's \
         `config`, Envoy 1.35 or later; Higress allows it). From now on this VM lets headers \
         go before the body handler runs, and the header changes it makes are refused",
        direction.name()
    );
}

/// The task of an async streaming handler: handles `first` (the host's
/// buffer from its start), then every chunk held meanwhile, in order; then
/// writes the result and gives the context back (the executor resumes the
/// stream if the task waited).
pub(crate) fn chunk_task<C: 'static>(
    handler: AsyncChunkFn<C>,
    mut ctx: HttpContext,
    config: Rc<C>,
    held: Rc<RefCell<Held>>,
    direction: Direction,
    first: Vec<u8>,
    end_of_stream: bool,
) -> TaskFuture {
    {
        let mut held = held.borrow_mut();
        held.running = true;
        held.buffered = first.len();
    }
    Box::pin(async move {
        let mut chunk = first;
        let mut end = end_of_stream;
        loop {
            let out = handler(&mut ctx, &config, &chunk, end).await;
            held.borrow_mut().record(direction, &chunk, out);
            if ctx.has_responded() {
                break;
            }
            let next = held.borrow_mut().next(direction);
            match next {
                Some((bytes, end_of_stream)) => {
                    chunk = bytes;
                    end = end_of_stream;
                }
                None => break,
            }
        }
        held.borrow_mut().finish(direction);
        (ctx, Action::Continue)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_markers_match_case_insensitively_anywhere() {
        assert!(contains_ignore_case(
            b"application/octet-stream",
            b"octet-stream"
        ));
        assert!(contains_ignore_case(b"Application/GRPC+proto", b"grpc"));
        assert!(!contains_ignore_case(b"text/event-stream", b"octet-stream"));
        assert!(!contains_ignore_case(b"", b"grpc"));
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

    #[test]
    fn held_chunks_are_measured_by_what_the_buffer_grew() {
        let mut held = Held {
            buffered: 5,
            ..Held::default()
        };
        held.push(12, false);
        held.push(12, false); // an empty chunk
        held.push(20, true);
        assert_eq!(held.queue, [(7, false), (0, false), (8, true)]);
        assert_eq!(held.buffered(), 20);
        // A host that reports less than before never makes a length negative.
        held.push(3, true);
        assert_eq!(held.queue.back(), Some(&(0, true)));
    }

    #[test]
    fn chunks_passed_on_unchanged_are_not_copied() {
        let mut held = Held::default();
        held.record(Direction::Response, b"abc", Chunk::Pass);
        held.record(Direction::Response, b"def", Chunk::Replace(b"def".to_vec()));
        assert_eq!(held.consumed, 6);
        assert_eq!(held.output, None, "nothing to write back");
    }

    #[test]
    fn return_values_become_chunks() {
        assert_eq!(into_chunk(b"x".to_vec()), Chunk::Replace(b"x".to_vec()));
        assert_eq!(into_chunk(String::from("y")), Chunk::Replace(b"y".to_vec()));
        assert_eq!(into_chunk("z"), Chunk::Replace(b"z".to_vec()));
        assert_eq!(into_chunk(&b"w"[..]), Chunk::Replace(b"w".to_vec()));
        assert_eq!(into_chunk(Chunk::Pass), Chunk::Pass);
        assert_eq!(Chunk::drop_chunk(), Chunk::Replace(Vec::new()));
    }
}
