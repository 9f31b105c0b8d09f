//! Rewrites a server-sent-events response (an LLM's streamed answer) event
//! by event, as it streams: every `data:` line gets the configured prefix,
//! and each event goes on to the client as soon as it is complete. The
//! number of events is logged at the stream's end and written to the access
//! log (`%FILTER_STATE(wasm.custom_log)%`, as Higress's `ai-statistics` does)
//! — no response header, which has left long before the last event.
//!
//! Configuration: `{"prefix": "text"}`. Responses that are not
//! `text/event-stream` pass untouched and unbuffered.
//!
//! An event may arrive split over several chunks (a TCP read ends anywhere):
//! the unfinished tail is kept in the stream's state and goes on with the
//! chunk that completes it.

use gateway_plugin::prelude::*;

#[plugin(name = "sse-rewrite")]
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SseRewrite {
    /// Put in front of every `data:` line's value.
    #[serde(default)]
    prefix: String,
}

/// One stream's progress through the events.
#[derive(Default)]
struct Events {
    /// The start of an event whose end has not arrived yet.
    partial: Vec<u8>,
    count: u64,
}

#[on_response_headers]
fn only_event_streams(ctx: &mut HttpContext, _config: &SseRewrite) -> Action {
    let sse = ctx
        .response_header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    if !sse {
        ctx.dont_read_response_body();
    }
    Action::Continue
}

#[on_response_body(streaming)]
fn rewrite_events(
    ctx: &mut HttpContext,
    config: &SseRewrite,
    chunk: &[u8],
    end_of_stream: bool,
) -> Vec<u8> {
    let mut events = ctx.take::<Events>().unwrap_or_default();
    events.partial.extend_from_slice(chunk);
    let mut out = Vec::with_capacity(events.partial.len() + 16);
    // Complete events end with a blank line; what follows the last one waits.
    let complete = match find_last(&events.partial, b"\n\n") {
        Some(at) => at + 2,
        None => 0,
    };
    let complete = if end_of_stream {
        events.partial.len()
    } else {
        complete
    };
    for event in events.partial[..complete].split_inclusive(|b| *b == b'\n') {
        if let Some(value) = event.strip_prefix(b"data:") {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(config.prefix.as_bytes());
            out.extend_from_slice(value.strip_prefix(b" ").unwrap_or(value));
        } else {
            if event == b"\n" {
                events.count += 1;
            }
            out.extend_from_slice(event);
        }
    }
    events.partial.drain(..complete);
    if end_of_stream {
        info!("{} events rewritten", events.count);
        ctx.set_user_attribute("sse_events", events.count);
        ctx.write_user_attributes_to_log();
    }
    ctx.set(events);
    out
}

/// Where `needle` last starts in `haystack`.
fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}
