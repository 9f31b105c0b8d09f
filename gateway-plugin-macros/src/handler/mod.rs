//! The phase attributes: `#[on_request_headers]`, `#[on_request_body]`,
//! `#[on_response_headers]`, `#[on_response_body]`, `#[on_stream_done]`.
//!
//! Each checks the handler's signature, then implements the phase's trait
//! (`gateway_plugin::__private::OnRequestHeaders`, ...) for the config type
//! named in the signature, pointing it at the function.
//!
//! The body phases take options: `streaming` (the handler gets each chunk
//! as it arrives, `(ctx, config, chunk: &[u8], end_of_stream: bool)`, and
//! returns what goes on in its place), `binary` (binary bodies reach the
//! handler too) and `hold_headers` (the headers wait for the body handler,
//! which may change them, where the gateway allows it).
//!
//! As serde_derive does: the attribute's options are parsed
//! ([`options`]), the signature checked ([`check`]), then the code
//! generated ([`generate`]).

mod check;
mod generate;
mod options;

use crate::errors::{with_item, Errors};
use proc_macro2::{Span, TokenStream};
use syn::ItemFn;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
    StreamDone,
}

impl Phase {
    fn attr(self) -> &'static str {
        match self {
            Phase::RequestHeaders => "on_request_headers",
            Phase::RequestBody => "on_request_body",
            Phase::ResponseHeaders => "on_response_headers",
            Phase::ResponseBody => "on_response_body",
            Phase::StreamDone => "on_stream_done",
        }
    }

    fn trait_name(self, streaming: bool) -> syn::Ident {
        let name = match self {
            Phase::RequestHeaders => "OnRequestHeaders",
            Phase::RequestBody if streaming => "OnRequestBodyStreaming",
            Phase::RequestBody => "OnRequestBody",
            Phase::ResponseHeaders => "OnResponseHeaders",
            Phase::ResponseBody if streaming => "OnResponseBodyStreaming",
            Phase::ResponseBody => "OnResponseBody",
            Phase::StreamDone => "OnStreamDone",
        };
        syn::Ident::new(name, Span::call_site())
    }

    fn has_body(self) -> bool {
        matches!(self, Phase::RequestBody | Phase::ResponseBody)
    }

    /// How many arguments the handler takes: the context, the config, and
    /// the body or the chunk and whether it is the last.
    fn arity(self, streaming: bool) -> usize {
        match (self.has_body(), streaming) {
            (true, true) => 4,
            (true, false) => 3,
            _ => 2,
        }
    }

    fn expected_signature(self, streaming: bool) -> &'static str {
        match self {
            Phase::RequestBody | Phase::ResponseBody if streaming => {
                "(ctx: &mut HttpContext, config: &YourConfig, chunk: &[u8], end_of_stream: bool) -> Vec<u8>"
            }
            Phase::RequestBody | Phase::ResponseBody => {
                "(ctx: &mut HttpContext, config: &YourConfig, body: &[u8]) -> Action"
            }
            Phase::StreamDone => "(ctx: &mut HttpContext, config: &YourConfig)",
            _ => "(ctx: &mut HttpContext, config: &YourConfig) -> Action",
        }
    }
}

/// Checks the handler, then implements the phase's trait for its config
/// type; on any problem, the errors and the function unchanged.
pub(crate) fn expand(phase: Phase, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let (krate, args) = crate::krate::split(args, &mut errors);
    let options = options::parse_options(phase, args, &mut errors);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "`#[{}]` goes on a handler function: `fn handler{}`",
                    phase.attr(),
                    phase.expected_signature(options.streaming)
                ),
            ));
            return with_item(errors.finish().unwrap_err(), item);
        }
    };
    let handler = check::check_signature(phase, options.streaming, &func, &mut errors);
    if let Err(err) = errors.finish() {
        return with_item(err, item);
    }
    let Some(handler) = handler else {
        unreachable!("a signature without a config type is reported as an error")
    };
    generate::phase_impl(phase, &options, &krate, &func, &handler)
}
