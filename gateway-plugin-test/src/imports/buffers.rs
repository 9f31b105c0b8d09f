//! Buffers: the request and response bodies, the callout answer's body, the
//! plugin and VM configuration, a Redis reply (`proxy_get_buffer_bytes`,
//! `proxy_get_buffer_status`, `proxy_set_buffer_bytes`).

use super::{give, read, status, write_u32, C};
use crate::abi::{buffer, HostResult, Status};
use crate::state::State;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_get_buffer_bytes", get_buffer_bytes)?;
    l.func_wrap("env", "proxy_get_buffer_status", get_buffer_status)?;
    l.func_wrap("env", "proxy_set_buffer_bytes", set_buffer_bytes)?;
    Ok(())
}

fn buffer_bytes(state: &mut State, kind: i32) -> HostResult<&mut Vec<u8>> {
    match kind {
        buffer::HTTP_CALL_RESPONSE_BODY => state
            .callout_answer
            .as_mut()
            .map(|a| &mut a.body)
            .ok_or(Status::NotFound),
        buffer::PLUGIN_CONFIGURATION => Ok(&mut state.plugin_config),
        buffer::VM_CONFIGURATION => Ok(&mut state.vm_config),
        buffer::REDIS_CALL_RESPONSE => state.redis_reply.as_mut().ok_or(Status::NotFound),
        buffer::HTTP_REQUEST_BODY => {
            Ok(&mut state.stream().ok_or(Status::BadArgument)?.request_body)
        }
        buffer::HTTP_RESPONSE_BODY => {
            Ok(&mut state.stream().ok_or(Status::BadArgument)?.response_body)
        }
        _ => Err(Status::BadArgument),
    }
}

fn get_buffer_bytes(
    mut c: C<'_>,
    kind: i32,
    start: i32,
    max: i32,
    ptr_out: i32,
    size_out: i32,
) -> i32 {
    let bytes = match buffer_bytes(c.data_mut(), kind) {
        Ok(bytes) => {
            let start = (start as u32 as usize).min(bytes.len());
            let end = start.saturating_add(max as u32 as usize).min(bytes.len());
            bytes[start..end].to_vec()
        }
        Err(status) => return status as i32,
    };
    status(give(&mut c, &bytes, ptr_out, size_out))
}

fn get_buffer_status(mut c: C<'_>, kind: i32, len_out: i32, flags_out: i32) -> i32 {
    let len = match buffer_bytes(c.data_mut(), kind) {
        Ok(bytes) => bytes.len() as u32,
        Err(status) => return status as i32,
    };
    status(write_u32(&mut c, len_out, len).and_then(|()| write_u32(&mut c, flags_out, 0)))
}

fn set_buffer_bytes(mut c: C<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32) -> i32 {
    let data = match read(&mut c, ptr, len) {
        Ok(data) => data,
        Err(status) => return status as i32,
    };
    if matches!(
        kind,
        buffer::HTTP_CALL_RESPONSE_BODY | buffer::PLUGIN_CONFIGURATION | buffer::VM_CONFIGURATION
    ) {
        return Status::BadArgument as i32;
    }
    let direction = match kind {
        buffer::HTTP_REQUEST_BODY => Some(0),
        buffer::HTTP_RESPONSE_BODY => Some(1),
        _ => None,
    };
    if let (Some(d), Some(stream)) = (direction, c.data_mut().stream()) {
        if stream.no_body_buffer[d] {
            return Status::BadArgument as i32;
        }
    }
    match buffer_bytes(c.data_mut(), kind) {
        // As Envoy's body buffers: replace from the start (drain
        // `size` bytes, then prepend), or append at or past the end;
        // a write in the middle is refused.
        Ok(bytes) => {
            let (start, size) = (start as u32 as usize, size as u32 as usize);
            if start == 0 {
                bytes.splice(..size.min(bytes.len()), data);
            } else if start >= bytes.len() {
                bytes.extend(data);
            } else {
                return Status::BadArgument as i32;
            }
            Status::Ok as i32
        }
        Err(status) => status as i32,
    }
}
