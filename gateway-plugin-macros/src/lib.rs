//! Procedural macros of `gateway-plugin`. Use them through that crate
//! (`use gateway_plugin::prelude::*;`): the code they generate calls into
//! `gateway_plugin::__private`.
//!
//! Every macro parses its input into typed pieces, collects every problem as
//! a spanned `syn::Error`, and on error emits the errors *and* the user's item
//! unchanged, so one mistake gives one message and the IDE still sees the item.

mod errors;
mod handler;
mod krate;
mod parse_config;
mod plugin;
mod tick;

use proc_macro::TokenStream;

/// See `gateway_plugin::plugin`.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    plugin::expand(args.into(), item.into()).into()
}

/// See `gateway_plugin::on_request_headers`.
#[proc_macro_attribute]
pub fn on_request_headers(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::RequestHeaders, args.into(), item.into()).into()
}

/// See `gateway_plugin::on_request_body`.
#[proc_macro_attribute]
pub fn on_request_body(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::RequestBody, args.into(), item.into()).into()
}

/// See `gateway_plugin::on_response_headers`.
#[proc_macro_attribute]
pub fn on_response_headers(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::ResponseHeaders, args.into(), item.into()).into()
}

/// See `gateway_plugin::on_response_body`.
#[proc_macro_attribute]
pub fn on_response_body(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::ResponseBody, args.into(), item.into()).into()
}

/// See `gateway_plugin::on_stream_done`.
#[proc_macro_attribute]
pub fn on_stream_done(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(handler::Phase::StreamDone, args.into(), item.into()).into()
}

/// See `gateway_plugin::parse_config`.
#[proc_macro_attribute]
pub fn parse_config(args: TokenStream, item: TokenStream) -> TokenStream {
    parse_config::expand(parse_config::Kind::Config, args.into(), item.into()).into()
}

/// See `gateway_plugin::on_tick`.
#[proc_macro_attribute]
pub fn on_tick(args: TokenStream, item: TokenStream) -> TokenStream {
    tick::expand(args.into(), item.into()).into()
}

/// See `gateway_plugin::parse_rule_config`.
#[proc_macro_attribute]
pub fn parse_rule_config(args: TokenStream, item: TokenStream) -> TokenStream {
    parse_config::expand(parse_config::Kind::RuleConfig, args.into(), item.into()).into()
}
