//! Header maps: the request's and response's headers and trailers, and a
//! callout answer's headers (`proxy_get_header_map_*`,
//! `proxy_set_header_map_pairs`, `proxy_add/replace/remove_header_map_value`).
//! Headers a gateway has passed on cannot be changed any more.

use super::{give, read, read_string, status, write_u32, C};
use crate::abi::{decode_pairs, encode_pairs, map, HostResult, Status};
use crate::http::{find, HeaderMap};
use crate::state::State;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_get_header_map_pairs", get_header_map_pairs)?;
    l.func_wrap("env", "proxy_set_header_map_pairs", set_header_map_pairs)?;
    l.func_wrap("env", "proxy_get_header_map_size", get_header_map_size)?;
    l.func_wrap("env", "proxy_get_header_map_value", get_header_map_value)?;
    l.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        replace_header_map_value,
    )?;
    l.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        remove_header_map_value,
    )?;
    l.func_wrap("env", "proxy_add_header_map_value", add_header_map_value)?;
    Ok(())
}

/// The header map `kind` for reading.
fn header_map(state: &mut State, kind: i32) -> HostResult<&mut HeaderMap> {
    if kind == map::HTTP_CALL_RESPONSE_HEADERS {
        return state
            .callout_answer
            .as_mut()
            .map(|a| &mut a.headers)
            .ok_or(Status::NotFound);
    }
    if kind == map::HTTP_CALL_RESPONSE_TRAILERS {
        return Err(Status::NotFound);
    }
    let stream = state.stream().ok_or(Status::BadArgument)?;
    match kind {
        map::REQUEST_HEADERS => Ok(&mut stream.request_headers),
        map::RESPONSE_HEADERS => Ok(&mut stream.response_headers),
        map::REQUEST_TRAILERS => Ok(&mut stream.request_trailers),
        map::RESPONSE_TRAILERS => Ok(&mut stream.response_trailers),
        _ => Err(Status::BadArgument),
    }
}

/// The header map `kind` for changing: headers already passed on cannot be
/// changed any more (a gateway has sent them), which is `BadArgument`.
fn header_map_mut(state: &mut State, kind: i32) -> HostResult<&mut HeaderMap> {
    if let Some(stream) = state.stream() {
        let sent = match kind {
            map::REQUEST_HEADERS => stream.request_headers_sent,
            map::RESPONSE_HEADERS => stream.response_headers_sent,
            _ => false,
        };
        if sent {
            return Err(Status::BadArgument);
        }
    }
    if kind == map::HTTP_CALL_RESPONSE_HEADERS {
        return Err(Status::BadArgument);
    }
    header_map(state, kind)
}

fn get_header_map_pairs(mut c: C<'_>, kind: i32, ptr_out: i32, size_out: i32) -> i32 {
    let bytes = match header_map(c.data_mut(), kind) {
        Ok(pairs) => encode_pairs(pairs),
        Err(status) => return status as i32,
    };
    status(give(&mut c, &bytes, ptr_out, size_out))
}

fn set_header_map_pairs(mut c: C<'_>, kind: i32, ptr: i32, len: i32) -> i32 {
    let pairs = match read(&mut c, ptr, len).map(|b| decode_pairs(&b)) {
        Ok(Some(pairs)) => pairs,
        Ok(None) => return Status::BadArgument as i32,
        Err(status) => return status as i32,
    };
    match header_map_mut(c.data_mut(), kind) {
        Ok(map) => {
            *map = pairs
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .collect();
            Status::Ok as i32
        }
        Err(status) => status as i32,
    }
}

fn get_header_map_size(mut c: C<'_>, kind: i32, out: i32) -> i32 {
    let size = match header_map(c.data_mut(), kind) {
        Ok(pairs) => encode_pairs(pairs).len() as u32,
        Err(status) => return status as i32,
    };
    status(write_u32(&mut c, out, size))
}

fn get_header_map_value(
    mut c: C<'_>,
    kind: i32,
    kptr: i32,
    klen: i32,
    ptr_out: i32,
    size_out: i32,
) -> i32 {
    let key = match read_string(&mut c, kptr, klen) {
        Ok(key) => key,
        Err(status) => return status as i32,
    };
    let value = match header_map(c.data_mut(), kind) {
        Ok(pairs) => match find(pairs, &key) {
            Some(value) => value.to_vec(),
            None => return Status::NotFound as i32,
        },
        Err(status) => return status as i32,
    };
    status(give(&mut c, &value, ptr_out, size_out))
}

fn replace_header_map_value(
    mut c: C<'_>,
    kind: i32,
    kptr: i32,
    klen: i32,
    vptr: i32,
    vlen: i32,
) -> i32 {
    let (key, value) = match (read_string(&mut c, kptr, klen), read(&mut c, vptr, vlen)) {
        (Ok(k), Ok(v)) => (k.to_ascii_lowercase(), v),
        (Err(s), _) | (_, Err(s)) => return s as i32,
    };
    match header_map_mut(c.data_mut(), kind) {
        Ok(map) => {
            match map.iter().position(|(n, _)| n.eq_ignore_ascii_case(&key)) {
                Some(at) => {
                    map[at].1 = value;
                    let mut i = at + 1;
                    while i < map.len() {
                        if map[i].0.eq_ignore_ascii_case(&key) {
                            map.remove(i);
                        } else {
                            i += 1;
                        }
                    }
                }
                None => map.push((key, value)),
            }
            Status::Ok as i32
        }
        Err(status) => status as i32,
    }
}

fn remove_header_map_value(mut c: C<'_>, kind: i32, kptr: i32, klen: i32) -> i32 {
    let key = match read_string(&mut c, kptr, klen) {
        Ok(key) => key,
        Err(status) => return status as i32,
    };
    match header_map_mut(c.data_mut(), kind) {
        Ok(map) => {
            map.retain(|(n, _)| !n.eq_ignore_ascii_case(&key));
            Status::Ok as i32
        }
        Err(status) => status as i32,
    }
}

fn add_header_map_value(
    mut c: C<'_>,
    kind: i32,
    kptr: i32,
    klen: i32,
    vptr: i32,
    vlen: i32,
) -> i32 {
    let (key, value) = match (read_string(&mut c, kptr, klen), read(&mut c, vptr, vlen)) {
        (Ok(k), Ok(v)) => (k.to_ascii_lowercase(), v),
        (Err(s), _) | (_, Err(s)) => return s as i32,
    };
    match header_map_mut(c.data_mut(), kind) {
        Ok(map) => {
            map.push((key, value));
            Status::Ok as i32
        }
        Err(status) => status as i32,
    }
}
