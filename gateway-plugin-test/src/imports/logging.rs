//! The plugin and its VM: logging and the log level, the clock, the tick
//! period, the plugin configuration, `proxy_done` and
//! `proxy_set_effective_context`.

use super::{give, read_string, status, write, write_u32, C};
use crate::abi::Status;
use crate::state::State;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_log", log)?;
    l.func_wrap("env", "proxy_get_log_level", get_log_level)?;
    l.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        get_current_time_nanoseconds,
    )?;
    l.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        set_tick_period_milliseconds,
    )?;
    l.func_wrap("env", "proxy_get_configuration", get_configuration)?;
    l.func_wrap("env", "proxy_done", done)?;
    l.func_wrap("env", "proxy_set_effective_context", set_effective_context)?;
    Ok(())
}

fn log(mut c: C<'_>, level: i32, ptr: i32, len: i32) -> i32 {
    status(read_string(&mut c, ptr, len).map(|message| c.data_mut().log(level, &message)))
}

fn get_log_level(mut c: C<'_>, out: i32) -> i32 {
    let level = c.data().setup.log_level as u32;
    status(write_u32(&mut c, out, level))
}

fn get_current_time_nanoseconds(mut c: C<'_>, out: i32) -> i32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    status(write(&mut c, out, &now.to_le_bytes()))
}

fn set_tick_period_milliseconds(mut c: C<'_>, ms: i32) -> i32 {
    c.data_mut().tick_period_ms = ms as u32;
    Status::Ok as i32
}

fn get_configuration(mut c: C<'_>, ptr_out: i32, size_out: i32) -> i32 {
    let config = c.data().plugin_config.clone();
    status(give(&mut c, &config, ptr_out, size_out))
}

fn done(_: C<'_>) -> i32 {
    Status::Ok as i32
}

fn set_effective_context(mut c: C<'_>, context: i32) -> i32 {
    let state = c.data_mut();
    let context = context as u32;
    if state.roots.contains(&context) || state.streams.contains_key(&context) {
        state.effective = context;
        Status::Ok as i32
    } else {
        Status::BadArgument as i32
    }
}
