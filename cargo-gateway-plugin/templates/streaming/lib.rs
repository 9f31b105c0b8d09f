//! {{name}}: rewrites the response body as it streams: every `from` becomes
//! `to`, chunk by chunk, without waiting for the whole body (an LLM's
//! streamed answer, a large download). Only text responses (`text/*`,
//! JSON, event streams) are read; others pass untouched and unbuffered.
//!
//! Configuration: `{"from": "internal.example.com", "to": "example.com"}`.
//!
//! A match may be split over two chunks (a TCP read ends anywhere): the last
//! `from.len() - 1` bytes of a chunk wait for the next one, so the client
//! gets each chunk's bytes a little later but never a half-rewritten word.

use gateway_plugin::prelude::*;

#[plugin(name = "{{name}}")]
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// What to replace (nothing is replaced when empty).
    #[serde(default)]
    from: String,
    /// What it becomes.
    #[serde(default)]
    to: String,
}

/// The bytes held back from the previous chunk: the start of a possible match.
#[derive(Default)]
struct Tail(Vec<u8>);

#[on_response_headers]
fn only_text(ctx: &mut HttpContext, config: &Rewrite) -> Action {
    let text = ctx.response_header("content-type").is_some_and(|t| {
        t.starts_with("text/") || t.contains("json") || t.contains("event-stream")
    });
    if !text || config.from.is_empty() {
        ctx.dont_read_response_body();
    }
    Action::Continue
}

#[on_response_body(streaming)]
fn rewrite(ctx: &mut HttpContext, config: &Rewrite, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
    let from = config.from.as_bytes();
    if from.is_empty() {
        return chunk.to_vec();
    }
    let mut data = ctx.take::<Tail>().unwrap_or_default().0;
    data.extend_from_slice(chunk);
    let mut out = Vec::with_capacity(data.len());
    let mut at = 0;
    while let Some(found) = find(&data[at..], from) {
        out.extend_from_slice(&data[at..at + found]);
        out.extend_from_slice(config.to.as_bytes());
        at += found + from.len();
    }
    // Hold back what could be the start of a match completed by the next chunk.
    let keep = if end_of_stream {
        0
    } else {
        (from.len() - 1).min(data.len() - at)
    };
    out.extend_from_slice(&data[at..data.len() - keep]);
    ctx.set(Tail(data[data.len() - keep..].to_vec()));
    out
}

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
