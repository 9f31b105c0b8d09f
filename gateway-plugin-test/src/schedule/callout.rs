//! What the host answers for the plugin outside its streams: callouts
//! (HTTP and Redis) and ready queues, each answer a call back into the
//! plugin.

use crate::error::Error;
use crate::http;
use crate::machine::Machine;
use crate::redis;
use crate::state::{CalloutAnswer, CalloutKind, Target};

/// Queue `queue` has a message: the first root hears of it.
pub(super) fn queue_ready(machine: &mut Machine, queue: u32) -> Result<(), Error> {
    let state = machine.store.data_mut();
    if let Some(at) = state.queues_ready.iter().position(|q| *q == queue) {
        state.queues_ready.remove(at);
    }
    let root = state.root_id;
    let f = machine.exports.on_queue_ready.clone();
    machine
        .call(
            "proxy_on_queue_ready",
            f,
            root,
            None,
            (root as i32, queue as i32),
        )
        .map(|_| ())
}

/// Answers callout `serial` and calls the plugin back.
pub(super) fn deliver(machine: &mut Machine, serial: u64) -> Result<(), Error> {
    let state = machine.store.data_mut();
    let Some(at) = state.pending.iter().position(|p| p.serial == serial) else {
        return Ok(());
    };
    let pending = state.pending.remove(at);
    let token = pending.token;
    match pending.kind {
        CalloutKind::Http {
            cluster,
            request,
            timeout,
        } => {
            let target = state.setup.clusters.get(&cluster).cloned();
            let answer = match target {
                Some(Target::Address(address)) => http::send(&address, &request, timeout),
                Some(Target::Fn(answer)) => Some(answer(&request)),
                Some(Target::Timeout) | None => None,
            };
            let (headers, body) = match answer {
                Some(response) => {
                    let headers = response.header_map();
                    (headers, response.body)
                }
                None => (Vec::new(), Vec::new()),
            };
            let (count, size) = (headers.len(), body.len());
            let state = machine.store.data_mut();
            state.callout_answer = Some(CalloutAnswer { headers, body });
            let f = machine.exports.on_http_call_response.clone();
            let result = machine.call(
                "proxy_on_http_call_response",
                f,
                pending.context,
                pending.origin,
                (
                    pending.context as i32,
                    token as i32,
                    count as i32,
                    size as i32,
                    0,
                ),
            );
            machine.store.data_mut().callout_answer = None;
            result.map(|_| ())
        }
        CalloutKind::Redis { cluster, query } => {
            let reply = match state.redis.get_mut(&cluster) {
                Some(conn) => redis::call(conn, &query),
                None => None,
            };
            let (status, size) = match &reply {
                Some(reply) => (0, reply.len()),
                None => (1, 0),
            };
            state.redis_reply = reply;
            let f = machine.exports.on_redis_call_response.clone();
            let result = machine.call(
                "proxy_on_redis_call_response",
                f,
                pending.context,
                pending.origin,
                (pending.context as i32, token as i32, status, size as i32),
            );
            machine.store.data_mut().redis_reply = None;
            result.map(|_| ())
        }
    }
}
