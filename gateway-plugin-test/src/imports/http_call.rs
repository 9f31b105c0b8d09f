//! HTTP callouts (`proxy_http_call`): checked and queued here; the
//! scheduler answers them (a real server, a closure, or a timeout).

use super::{read, read_string, status, write_u32, C};
use crate::abi::{decode_pairs, Status};
use crate::http::{find, UpstreamRequest};
use crate::state::{CalloutKind, Pending, State};
use std::time::Duration;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_http_call", http_call)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the ABI's
fn http_call(
    mut c: C<'_>,
    uri_ptr: i32,
    uri_len: i32,
    headers_ptr: i32,
    headers_len: i32,
    body_ptr: i32,
    body_len: i32,
    _trailers_ptr: i32,
    _trailers_len: i32,
    timeout_ms: i32,
    token_out: i32,
) -> i32 {
    let result = (|| {
        let cluster = read_string(&mut c, uri_ptr, uri_len)?;
        let headers =
            decode_pairs(&read(&mut c, headers_ptr, headers_len)?).ok_or(Status::BadArgument)?;
        let body = read(&mut c, body_ptr, body_len)?;
        let state = c.data_mut();
        if !state.setup.clusters.contains_key(&cluster) {
            state.log(
                3,
                &format!("host: http call to unknown cluster {cluster:?} refused"),
            );
            return Err(Status::BadArgument);
        }
        let has = |name: &str| find(&headers, name).is_some_and(|v| !v.is_empty());
        if !(has(":method") && has(":path") && has(":authority")) {
            return Err(Status::BadArgument);
        }
        let token = state.next_token;
        state.next_token += 1;
        let request = UpstreamRequest::from_header_map(&headers, body);
        let serial = state.next_serial();
        state.pending.push(Pending {
            serial,
            token,
            context: state.effective,
            origin: state.attributed,
            kind: CalloutKind::Http {
                cluster,
                request,
                timeout: Duration::from_millis(timeout_ms as u32 as u64),
            },
        });
        write_u32(&mut c, token_out, token)
    })();
    status(result)
}
