//! [`Direction`]: the request or the response of a stream, and the host's
//! name for each one's body buffer, header map and stream.

use crate::host::{BufferType, MapType, StreamType};

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
    /// The direction's index in per-direction arrays (`[request, response]`).
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
