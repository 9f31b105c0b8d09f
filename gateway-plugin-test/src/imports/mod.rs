//! The host side of the proxy-wasm ABI 0.2.1 (module `env`), Higress's Redis
//! extension, and the part of WASI preview1 that plugins use: [`linker`]
//! registers every area's host functions (one module each), and the memory
//! helpers here move bytes between the plugin's memory and the host.
//!
//! Every function checks its pointers: a bad one is `InvalidMemoryAccess`,
//! never a host panic. Only `proc_exit` traps, as it must.

use crate::abi::{HostResult, Status};
use crate::state::State;
use wasmtime::{Caller, Extern, Linker, Memory};

mod buffers;
mod headers;
mod http_call;
mod logging;
mod metrics;
mod properties;
mod redis_calls;
mod shared;
mod stream;
mod stubs;
mod wasi;

/// What every host function gets first: the caller, with the host's state.
type C<'a> = Caller<'a, State>;

/// Every import the host provides.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    logging::register(&mut linker)?;
    buffers::register(&mut linker)?;
    headers::register(&mut linker)?;
    properties::register(&mut linker)?;
    stream::register(&mut linker)?;
    http_call::register(&mut linker)?;
    redis_calls::register(&mut linker)?;
    stubs::register(&mut linker)?;
    shared::register(&mut linker)?;
    metrics::register(&mut linker)?;
    wasi::register(&mut linker)?;
    Ok(linker)
}

fn memory(caller: &mut C<'_>) -> HostResult<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(Status::InvalidMemoryAccess),
    }
}

fn read(caller: &mut C<'_>, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let memory = memory(caller)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    memory
        .data(&caller)
        .get(ptr..ptr.checked_add(len).ok_or(Status::InvalidMemoryAccess)?)
        .map(<[u8]>::to_vec)
        .ok_or(Status::InvalidMemoryAccess)
}

fn read_string(caller: &mut C<'_>, ptr: i32, len: i32) -> HostResult<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

fn write(caller: &mut C<'_>, ptr: i32, bytes: &[u8]) -> HostResult {
    let memory = memory(caller)?;
    memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .map_err(|_| Status::InvalidMemoryAccess)
}

fn write_u32(caller: &mut C<'_>, ptr: i32, value: u32) -> HostResult {
    write(caller, ptr, &value.to_le_bytes())
}

/// Copies `bytes` into memory the plugin allocates (its
/// `proxy_on_memory_allocate`, or `malloc`), and writes where and how long.
fn give(caller: &mut C<'_>, bytes: &[u8], ptr_out: i32, size_out: i32) -> HostResult {
    if bytes.is_empty() {
        write_u32(caller, ptr_out, 0)?;
        return write_u32(caller, size_out, 0);
    }
    let alloc = ["proxy_on_memory_allocate", "malloc"]
        .iter()
        .find_map(|name| caller.get_export(name).and_then(Extern::into_func))
        .ok_or(Status::InternalFailure)?;
    let alloc = alloc
        .typed::<i32, i32>(&caller)
        .map_err(|_| Status::InternalFailure)?;
    let ptr = alloc
        .call(&mut *caller, bytes.len() as i32)
        .map_err(|_| Status::InternalFailure)?;
    if ptr == 0 {
        return Err(Status::InternalFailure);
    }
    write(caller, ptr, bytes)?;
    write_u32(caller, ptr_out, ptr as u32)?;
    write_u32(caller, size_out, bytes.len() as u32)
}

/// A host call's result as the status the plugin gets.
fn status(result: HostResult) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(status) => status as i32,
    }
}
