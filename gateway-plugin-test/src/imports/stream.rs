//! The stream's flow: resuming a paused stream (`proxy_continue_stream` and
//! the older `proxy_continue_request`/`_response`), closing it, and the
//! plugin's local response (`proxy_send_local_response`).

use super::{read, C};
use crate::abi::{self, decode_pairs, Status};
use crate::http::Response;
use crate::state::State;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_continue_stream", |mut c: C<'_>, kind: i32| {
        continue_stream(c.data_mut(), kind)
    })?;
    l.func_wrap("env", "proxy_continue_request", |mut c: C<'_>| {
        continue_stream(c.data_mut(), abi::stream::REQUEST)
    })?;
    l.func_wrap("env", "proxy_continue_response", |mut c: C<'_>| {
        continue_stream(c.data_mut(), abi::stream::RESPONSE)
    })?;
    l.func_wrap("env", "proxy_close_stream", close_stream)?;
    l.func_wrap("env", "proxy_send_local_response", send_local_response)?;
    Ok(())
}

fn continue_stream(state: &mut State, kind: i32) -> i32 {
    let Some(stream) = state.stream() else {
        return Status::BadArgument as i32;
    };
    match kind {
        abi::stream::REQUEST => stream.continue_request = true,
        abi::stream::RESPONSE => stream.continue_response = true,
        _ => return Status::BadArgument as i32,
    }
    Status::Ok as i32
}

fn close_stream(mut c: C<'_>, _kind: i32) -> i32 {
    match c.data_mut().stream() {
        Some(stream) => {
            stream.closed = true;
            Status::Ok as i32
        }
        None => Status::BadArgument as i32,
    }
}

#[allow(clippy::too_many_arguments)] // the ABI's
fn send_local_response(
    mut c: C<'_>,
    code: i32,
    details_ptr: i32,
    details_len: i32,
    body_ptr: i32,
    body_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    _grpc: i32,
) -> i32 {
    let body = match read(&mut c, body_ptr, body_len) {
        Ok(body) => body,
        Err(status) => return status as i32,
    };
    let headers = match read(&mut c, headers_ptr, headers_len).map(|b| decode_pairs(&b)) {
        Ok(Some(headers)) => headers,
        Ok(None) => return Status::BadArgument as i32,
        Err(status) => return status as i32,
    };
    let details = match read(&mut c, details_ptr, details_len) {
        Ok(details) => String::from_utf8_lossy(&details).into_owned(),
        Err(status) => return status as i32,
    };
    let Some(stream) = c.data_mut().stream() else {
        return Status::BadArgument as i32;
    };
    stream.response_code_details = Some(details);
    let mut response = Response::new(code as u16).body(body);
    for (name, value) in headers {
        response = response.header_bytes(&name, &value);
    }
    if !response.body.is_empty() && response.headers.get("content-type").is_none() {
        response = response.header("content-type", "text/plain");
    }
    stream.local_response = Some(response);
    Status::Ok as i32
}
