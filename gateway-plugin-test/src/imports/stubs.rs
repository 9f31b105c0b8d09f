//! Imports this host has nothing behind, present so plugins that import
//! them load: gRPC, foreign functions, Higress's filter-chain injection and
//! upstream hosts (`Unimplemented` or `NotFound`), and `proxy_get_status`
//! (always 0, no message).

use super::{give, status, write_u32, C};
use crate::abi::Status;
use crate::state::State;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    // Higress's other extensions: present so Go plugins built on Higress's
    // SDK load; this host has no filter chain or upstream hosts to offer.
    l.func_wrap(
        "env",
        "proxy_inject_encoded_data_to_filter_chain",
        |_: C<'_>, _: i32, _: i32, _: i32| Status::Unimplemented as i32,
    )?;
    l.func_wrap(
        "env",
        "proxy_get_upstream_hosts",
        |_: C<'_>, _: i32, _: i32| Status::Unimplemented as i32,
    )?;
    l.func_wrap(
        "env",
        "proxy_set_upstream_override_host",
        |_: C<'_>, _: i32, _: i32| Status::Unimplemented as i32,
    )?;

    // gRPC: not for HTTP filters here; present so plugins that import it load.
    l.func_wrap("env", "proxy_grpc_call", grpc_call)?;
    l.func_wrap("env", "proxy_grpc_stream", grpc_stream)?;
    l.func_wrap(
        "env",
        "proxy_grpc_send",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32| Status::Unimplemented as i32,
    )?;
    l.func_wrap("env", "proxy_grpc_cancel", |_: C<'_>, _: i32| {
        Status::Unimplemented as i32
    })?;
    l.func_wrap("env", "proxy_grpc_close", |_: C<'_>, _: i32| {
        Status::Unimplemented as i32
    })?;
    l.func_wrap("env", "proxy_get_status", get_status)?;
    l.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| Status::NotFound as i32,
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the ABI's
fn grpc_call(
    _: C<'_>,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
) -> i32 {
    Status::Unimplemented as i32
}

#[allow(clippy::too_many_arguments)] // the ABI's
fn grpc_stream(
    _: C<'_>,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
) -> i32 {
    Status::Unimplemented as i32
}

fn get_status(mut c: C<'_>, code_out: i32, ptr_out: i32, size_out: i32) -> i32 {
    status(write_u32(&mut c, code_out, 0).and_then(|()| give(&mut c, &[], ptr_out, size_out)))
}
