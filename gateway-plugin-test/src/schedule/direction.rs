//! The two messages of a stream, request and response, which the host
//! drives through the same phases: where each keeps its headers, body and
//! trailers, and which of the plugin's callbacks sees them.

use crate::http::HeaderMap;
use crate::machine::Exports;
use crate::state::StreamData;
use wasmtime::TypedFunc;

/// The message a phase works on: the request or the response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Request,
    Response,
}

impl Direction {
    /// Its slot in the host's per-direction flags (`buffering`,
    /// `no_body_buffer`).
    pub(super) fn index(self) -> usize {
        match self {
            Direction::Request => 0,
            Direction::Response => 1,
        }
    }

    pub(super) fn headers(self, data: &StreamData) -> &HeaderMap {
        match self {
            Direction::Request => &data.request_headers,
            Direction::Response => &data.response_headers,
        }
    }

    pub(super) fn body(self, data: &mut StreamData) -> &mut Vec<u8> {
        match self {
            Direction::Request => &mut data.request_body,
            Direction::Response => &mut data.response_body,
        }
    }

    pub(super) fn trailers(self, data: &mut StreamData) -> &mut HeaderMap {
        match self {
            Direction::Request => &mut data.request_trailers,
            Direction::Response => &mut data.response_trailers,
        }
    }
}

/// A headers or body callback of the plugin: its export name and handle.
/// A trailers callback of the plugin: its export name and handle.
pub(super) type TrailersCallback = (&'static str, Option<TypedFunc<(i32, i32), i32>>);

pub(super) type DataCallback = (&'static str, Option<TypedFunc<(i32, i32, i32), i32>>);

impl Exports {
    pub(super) fn on_headers(&self, direction: Direction) -> DataCallback {
        match direction {
            Direction::Request => ("proxy_on_request_headers", self.on_request_headers.clone()),
            Direction::Response => (
                "proxy_on_response_headers",
                self.on_response_headers.clone(),
            ),
        }
    }

    pub(super) fn on_body(&self, direction: Direction) -> DataCallback {
        match direction {
            Direction::Request => ("proxy_on_request_body", self.on_request_body.clone()),
            Direction::Response => ("proxy_on_response_body", self.on_response_body.clone()),
        }
    }

    pub(super) fn on_trailers(&self, direction: Direction) -> TrailersCallback {
        match direction {
            Direction::Request => (
                "proxy_on_request_trailers",
                self.on_request_trailers.clone(),
            ),
            Direction::Response => (
                "proxy_on_response_trailers",
                self.on_response_trailers.clone(),
            ),
        }
    }
}
