//! Higress's Redis extension on the plugin's side (`proxy_redis_init`,
//! `proxy_redis_call`): clusters initialised and calls queued here; the
//! scheduler answers them through `crate::redis` (the RESP client).

use super::{read, read_string, status, write_u32, C};
use crate::abi::Status;
use crate::state::{CalloutKind, Pending, RedisConn, State};
use std::time::Duration;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_redis_init", redis_init)?;
    l.func_wrap("env", "proxy_redis_call", redis_call)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the ABI's
fn redis_init(
    mut c: C<'_>,
    cluster_ptr: i32,
    cluster_len: i32,
    user_ptr: i32,
    user_len: i32,
    password_ptr: i32,
    password_len: i32,
    timeout_ms: i32,
) -> i32 {
    let result = (|| {
        // Higress passes options after the name:
        // `outbound|6379||redis.static?db=2&buffer_flush_timeout=3`.
        let full = read_string(&mut c, cluster_ptr, cluster_len)?;
        c.data_mut().redis_inits.push(full.clone());
        let (cluster, options) = full.split_once('?').unwrap_or((&full, ""));
        let cluster = cluster.to_string();
        let database = options
            .split('&')
            .find_map(|kv| kv.strip_prefix("db="))
            .and_then(|db| db.parse().ok())
            .unwrap_or(0);
        let username = read_string(&mut c, user_ptr, user_len)?;
        let password = read_string(&mut c, password_ptr, password_len)?;
        let state = c.data_mut();
        let Some(address) = state.setup.redis.get(&cluster).cloned() else {
            state.log(
                3,
                &format!("host: redis init for unknown cluster {cluster:?} refused"),
            );
            return Err(Status::BadArgument);
        };
        state.redis.insert(
            cluster,
            RedisConn {
                address,
                username,
                password,
                timeout: Duration::from_millis((timeout_ms as u32).max(1) as u64),
                database,
                stream: None,
            },
        );
        Ok(())
    })();
    status(result)
}

fn redis_call(
    mut c: C<'_>,
    cluster_ptr: i32,
    cluster_len: i32,
    query_ptr: i32,
    query_len: i32,
    token_out: i32,
) -> i32 {
    let result = (|| {
        let cluster = read_string(&mut c, cluster_ptr, cluster_len)?;
        let query = read(&mut c, query_ptr, query_len)?;
        let state = c.data_mut();
        if !state.redis.contains_key(&cluster) {
            return Err(Status::BadArgument);
        }
        // Numbered apart from HTTP tokens, as Higress's gateway does.
        let token = state.next_redis_token;
        state.next_redis_token += 1;
        let serial = state.next_serial();
        state.pending.push(Pending {
            serial,
            token,
            context: state.effective,
            origin: state.attributed,
            kind: CalloutKind::Redis { cluster, query },
        });
        write_u32(&mut c, token_out, token)
    })();
    status(result)
}
