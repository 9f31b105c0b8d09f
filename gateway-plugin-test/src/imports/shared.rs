//! Shared data (a key-value store with compare-and-swap) and shared queues
//! (`proxy_*_shared_data`, `proxy_*_shared_queue`); an enqueue makes the
//! queue ready for the scheduler's `on_queue_ready`.

use super::{give, read, read_string, status, write_u32, C};
use crate::abi::Status;
use crate::state::State;
use std::collections::VecDeque;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_get_shared_data", get_shared_data)?;
    l.func_wrap("env", "proxy_set_shared_data", set_shared_data)?;
    l.func_wrap("env", "proxy_register_shared_queue", register_shared_queue)?;
    l.func_wrap("env", "proxy_resolve_shared_queue", resolve_shared_queue)?;
    l.func_wrap("env", "proxy_enqueue_shared_queue", enqueue_shared_queue)?;
    l.func_wrap("env", "proxy_dequeue_shared_queue", dequeue_shared_queue)?;
    Ok(())
}

fn get_shared_data(
    mut c: C<'_>,
    kptr: i32,
    klen: i32,
    ptr_out: i32,
    size_out: i32,
    cas_out: i32,
) -> i32 {
    let key = match read_string(&mut c, kptr, klen) {
        Ok(key) => key,
        Err(status) => return status as i32,
    };
    match c.data().shared_data.get(&key).cloned() {
        Some((value, cas)) => status(
            give(&mut c, &value, ptr_out, size_out).and_then(|()| write_u32(&mut c, cas_out, cas)),
        ),
        None => Status::NotFound as i32,
    }
}

fn set_shared_data(mut c: C<'_>, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32) -> i32 {
    let (key, value) = match (read_string(&mut c, kptr, klen), read(&mut c, vptr, vlen)) {
        (Ok(k), Ok(v)) => (k, v),
        (Err(s), _) | (_, Err(s)) => return s as i32,
    };
    let shared = &mut c.data_mut().shared_data;
    let current = shared.get(&key).map(|(_, cas)| *cas).unwrap_or(0);
    if cas != 0 && cas as u32 != current {
        return Status::CasMismatch as i32;
    }
    shared.insert(key, (value, current + 1));
    Status::Ok as i32
}

fn register_shared_queue(mut c: C<'_>, nptr: i32, nlen: i32, id_out: i32) -> i32 {
    let name = match read_string(&mut c, nptr, nlen) {
        Ok(name) => name,
        Err(status) => return status as i32,
    };
    let queues = &mut c.data_mut().queues;
    let id = match queues.iter().position(|(n, _)| *n == name) {
        Some(id) => id,
        None => {
            queues.push((name, VecDeque::new()));
            queues.len() - 1
        }
    };
    status(write_u32(&mut c, id_out, id as u32 + 1))
}

fn resolve_shared_queue(
    mut c: C<'_>,
    _vm_ptr: i32,
    _vm_len: i32,
    nptr: i32,
    nlen: i32,
    id_out: i32,
) -> i32 {
    let name = match read_string(&mut c, nptr, nlen) {
        Ok(name) => name,
        Err(status) => return status as i32,
    };
    match c.data().queues.iter().position(|(n, _)| *n == name) {
        Some(id) => status(write_u32(&mut c, id_out, id as u32 + 1)),
        None => Status::NotFound as i32,
    }
}

fn enqueue_shared_queue(mut c: C<'_>, id: i32, ptr: i32, len: i32) -> i32 {
    let data = match read(&mut c, ptr, len) {
        Ok(data) => data,
        Err(status) => return status as i32,
    };
    let state = c.data_mut();
    match state.queues.get_mut((id as u32 as usize).wrapping_sub(1)) {
        Some((_, queue)) => {
            queue.push_back(data);
            state.queues_ready.push(id as u32);
            Status::Ok as i32
        }
        None => Status::NotFound as i32,
    }
}

fn dequeue_shared_queue(mut c: C<'_>, id: i32, ptr_out: i32, size_out: i32) -> i32 {
    let item = match c
        .data_mut()
        .queues
        .get_mut((id as u32 as usize).wrapping_sub(1))
    {
        Some((_, queue)) => queue.pop_front(),
        None => return Status::NotFound as i32,
    };
    match item {
        Some(data) => status(give(&mut c, &data, ptr_out, size_out)),
        None => Status::Empty as i32,
    }
}
