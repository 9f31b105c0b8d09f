//! The part of WASI preview1 (`wasi_snapshot_preview1`) that plugins use:
//! stdout and stderr become log lines, clocks and random bytes work, and
//! there are no files, arguments or environment. `proc_exit` traps.

use super::{read, write, write_u32, C};
use crate::state::State;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::Linker;

const WASI_SUCCESS: i32 = 0;
const WASI_EBADF: i32 = 8;
const WASI_EINVAL: i32 = 28;
const WASI_ENOSYS: i32 = 52;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    const W: &str = "wasi_snapshot_preview1";
    l.func_wrap(W, "fd_write", fd_write)?;
    l.func_wrap(W, "fd_read", |_: C<'_>, _: i32, _: i32, _: i32, _: i32| {
        WASI_EBADF
    })?;
    l.func_wrap(W, "fd_close", |_: C<'_>, _: i32| WASI_SUCCESS)?;
    l.func_wrap(W, "fd_seek", |_: C<'_>, _: i32, _: i64, _: i32, _: i32| {
        WASI_EBADF
    })?;
    l.func_wrap(W, "fd_fdstat_get", fd_fdstat_get)?;
    l.func_wrap(W, "fd_fdstat_set_flags", |_: C<'_>, _: i32, _: i32| {
        WASI_ENOSYS
    })?;
    l.func_wrap(W, "fd_prestat_get", |_: C<'_>, _: i32, _: i32| WASI_EBADF)?;
    l.func_wrap(
        W,
        "fd_prestat_dir_name",
        |_: C<'_>, _: i32, _: i32, _: i32| WASI_EBADF,
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        l.func_wrap(W, name, sizes_get)?;
    }
    for name in ["environ_get", "args_get"] {
        l.func_wrap(W, name, |_: C<'_>, _: i32, _: i32| WASI_SUCCESS)?;
    }
    l.func_wrap(W, "clock_time_get", clock_time_get)?;
    l.func_wrap(W, "clock_res_get", clock_res_get)?;
    l.func_wrap(W, "random_get", random_get)?;
    l.func_wrap(W, "sched_yield", |_: C<'_>| WASI_SUCCESS)?;
    l.func_wrap(
        W,
        "poll_oneoff",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32| WASI_ENOSYS,
    )?;
    l.func_wrap(W, "proc_exit", proc_exit)?;
    Ok(())
}

/// Lines written to stdout (info) and stderr (warn) become log lines.
fn fd_write(mut c: C<'_>, fd: i32, iovs: i32, count: i32, written_out: i32) -> i32 {
    let result = (|| {
        let mut data = Vec::new();
        for i in 0..count {
            let iov = read(&mut c, iovs.wrapping_add(i * 8), 8)?;
            let ptr = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
            let len = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
            data.extend(read(&mut c, ptr, len)?);
        }
        let written = data.len() as u32;
        if fd == 1 || fd == 2 {
            let state = c.data_mut();
            state.stdio.extend(data);
            while let Some(at) = state.stdio.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = state.stdio.drain(..=at).collect();
                let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                let level = if fd == 2 { 4 } else { 2 };
                state.log(level, &format!("stdio: {text}"));
            }
        }
        write_u32(&mut c, written_out, written)
    })();
    match result {
        Ok(()) if fd == 1 || fd == 2 => WASI_SUCCESS,
        Ok(()) => WASI_EBADF,
        Err(_) => WASI_EINVAL,
    }
}

fn fd_fdstat_get(mut c: C<'_>, fd: i32, out: i32) -> i32 {
    if !(0..=2).contains(&fd) {
        return WASI_EBADF;
    }
    // filetype character device, no flags, all rights.
    let mut stat = [0u8; 24];
    stat[0] = 2;
    stat[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    stat[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    if write(&mut c, out, &stat).is_ok() {
        WASI_SUCCESS
    } else {
        WASI_EINVAL
    }
}

/// `environ_sizes_get` and `args_sizes_get`: none.
fn sizes_get(mut c: C<'_>, count_out: i32, size_out: i32) -> i32 {
    match write_u32(&mut c, count_out, 0).and_then(|()| write_u32(&mut c, size_out, 0)) {
        Ok(()) => WASI_SUCCESS,
        Err(_) => WASI_EINVAL,
    }
}

fn clock_time_get(mut c: C<'_>, id: i32, _precision: i64, out: i32) -> i32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let _ = id; // realtime and monotonic alike: nanoseconds since the epoch
    match write(&mut c, out, &now.to_le_bytes()) {
        Ok(()) => WASI_SUCCESS,
        Err(_) => WASI_EINVAL,
    }
}

fn clock_res_get(mut c: C<'_>, _id: i32, out: i32) -> i32 {
    match write(&mut c, out, &1u64.to_le_bytes()) {
        Ok(()) => WASI_SUCCESS,
        Err(_) => WASI_EINVAL,
    }
}

fn random_get(mut c: C<'_>, ptr: i32, len: i32) -> i32 {
    let bytes: Vec<u8> = (0..len.max(0)).map(|_| fastrand::u8(..)).collect();
    match write(&mut c, ptr, &bytes) {
        Ok(()) => WASI_SUCCESS,
        Err(_) => WASI_EINVAL,
    }
}

fn proc_exit(_: C<'_>, code: i32) -> wasmtime::Result<()> {
    Err(wasmtime::format_err!("the plugin called proc_exit({code})"))
}
