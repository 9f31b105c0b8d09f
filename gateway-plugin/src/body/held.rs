//! Streaming bodies: writing a handler's answer for a chunk back to the
//! host, and [`Held`], the chunks an async streaming handler holds while it
//! waits, handed to it in order by its task ([`chunk_task`]).

use crate::context::HttpContext;
use crate::direction::Direction;
use crate::executor::TaskFuture;
use crate::host;
use crate::plugin::{AsyncChunkFn, Chunk};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

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
}
