//! The host side of the proxy-wasm ABI 0.2.1 (module `env`), Higress's Redis
//! extension, and the part of WASI preview1 that plugins use.
//!
//! Every function checks its pointers: a bad one is `InvalidMemoryAccess`,
//! never a host panic. Only `proc_exit` traps, as it must.

use crate::abi::{self, buffer, decode_pairs, encode_pairs, map, HostResult, Status};
use crate::http::{find, Response, UpstreamRequest};
use crate::state::{CalloutKind, Metric, Pending, RedisConn, State};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::{Caller, Extern, Linker, Memory};

type C<'a> = Caller<'a, State>;

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

fn status(result: HostResult) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(status) => status as i32,
    }
}

// ---- header maps and buffers --------------------------------------------------------

/// The header map `kind` for reading.
fn header_map(state: &mut State, kind: i32) -> HostResult<&mut Vec<(String, String)>> {
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
fn header_map_mut(state: &mut State, kind: i32) -> HostResult<&mut Vec<(String, String)>> {
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

// ---- properties ------------------------------------------------------------

fn property(state: &mut State, path: &str) -> Option<Vec<u8>> {
    if let Some(value) = state.stream().and_then(|s| s.properties.get(path).cloned()) {
        return Some(value);
    }
    if let Some(value) = state.setup.properties.get(path) {
        return Some(value.clone());
    }
    let root = state.root_id;
    let stream = state.stream();
    let header = |name: &str| {
        stream
            .as_ref()
            .and_then(|s| find(&s.request_headers, name))
            .map(|v| v.as_bytes().to_vec())
    };
    match path {
        "request.path" => header(":path"),
        "request.url_path" => header(":path").map(|p| {
            let end = p.iter().position(|b| *b == b'?').unwrap_or(p.len());
            p[..end].to_vec()
        }),
        "request.host" => header(":authority"),
        "request.method" => header(":method"),
        "request.scheme" => header(":scheme"),
        "request.protocol" => stream.is_some().then(|| b"HTTP/1.1".to_vec()),
        "plugin_root_id" | "plugin_vm_id" => Some(Vec::new()),
        "root_id" => Some(root.to_string().into_bytes()),
        // As upstream Envoy (1.40) at request headers: the plain names are
        // empty, the route's and cluster's names are under `xds.`
        // (`Request::route`/`Request::cluster` set them per request;
        // `Host::higress_properties` answers the plain ones too, as Higress).
        "cluster_name" | "route_name" => Some(Vec::new()),
        "xds.cluster_name" => Some(b"outbound|80||upstream".to_vec()),
        "xds.route_name" => Some(b"default".to_vec()),
        "source.address" => Some(b"127.0.0.1:50000".to_vec()),
        "destination.address" => Some(b"127.0.0.1:10000".to_vec()),
        _ => None,
    }
}

// ---- the linker -------------------------------------------------------------------

/// Every import the host provides.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    env(&mut linker)?;
    wasi(&mut linker)?;
    Ok(linker)
}

fn env(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: i32, ptr: i32, len: i32| {
            status(read_string(&mut c, ptr, len).map(|message| c.data_mut().log(level, &message)))
        },
    )?;
    l.func_wrap("env", "proxy_get_log_level", |mut c: C<'_>, out: i32| {
        let level = c.data().setup.log_level as u32;
        status(write_u32(&mut c, out, level))
    })?;
    l.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, out: i32| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            status(write(&mut c, out, &now.to_le_bytes()))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, ms: i32| {
            c.data_mut().tick_period_ms = ms as u32;
            Status::Ok as i32
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_configuration",
        |mut c: C<'_>, ptr_out: i32, size_out: i32| {
            let config = c.data().plugin_config.clone();
            status(give(&mut c, &config, ptr_out, size_out))
        },
    )?;
    l.func_wrap("env", "proxy_done", |_: C<'_>| Status::Ok as i32)?;
    l.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: C<'_>, context: i32| {
            let state = c.data_mut();
            let context = context as u32;
            if state.roots.contains(&context) || state.streams.contains_key(&context) {
                state.effective = context;
                Status::Ok as i32
            } else {
                Status::BadArgument as i32
            }
        },
    )?;

    // Buffers.
    l.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, max: i32, ptr_out: i32, size_out: i32| {
            let bytes = match buffer_bytes(c.data_mut(), kind) {
                Ok(bytes) => {
                    let start = (start as u32 as usize).min(bytes.len());
                    let end = start.saturating_add(max as u32 as usize).min(bytes.len());
                    bytes[start..end].to_vec()
                }
                Err(status) => return status as i32,
            };
            status(give(&mut c, &bytes, ptr_out, size_out))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C<'_>, kind: i32, len_out: i32, flags_out: i32| {
            let len = match buffer_bytes(c.data_mut(), kind) {
                Ok(bytes) => bytes.len() as u32,
                Err(status) => return status as i32,
            };
            status(write_u32(&mut c, len_out, len).and_then(|()| write_u32(&mut c, flags_out, 0)))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            let data = match read(&mut c, ptr, len) {
                Ok(data) => data,
                Err(status) => return status as i32,
            };
            if matches!(
                kind,
                buffer::HTTP_CALL_RESPONSE_BODY
                    | buffer::PLUGIN_CONFIGURATION
                    | buffer::VM_CONFIGURATION
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
        },
    )?;

    // Header maps.
    l.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, kind: i32, ptr_out: i32, size_out: i32| {
            let bytes = match header_map(c.data_mut(), kind) {
                Ok(pairs) => encode_pairs(pairs),
                Err(status) => return status as i32,
            };
            status(give(&mut c, &bytes, ptr_out, size_out))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C<'_>, kind: i32, ptr: i32, len: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: C<'_>, kind: i32, out: i32| {
            let size = match header_map(c.data_mut(), kind) {
                Ok(pairs) => encode_pairs(pairs).len() as u32,
                Err(status) => return status as i32,
            };
            status(write_u32(&mut c, out, size))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32, ptr_out: i32, size_out: i32| {
            let key = match read_string(&mut c, kptr, klen) {
                Ok(key) => key,
                Err(status) => return status as i32,
            };
            let value = match header_map(c.data_mut(), kind) {
                Ok(pairs) => match find(pairs, &key) {
                    Some(value) => value.as_bytes().to_vec(),
                    None => return Status::NotFound as i32,
                },
                Err(status) => return status as i32,
            };
            status(give(&mut c, &value, ptr_out, size_out))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
            let (key, value) = match (
                read_string(&mut c, kptr, klen),
                read_string(&mut c, vptr, vlen),
            ) {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
            let (key, value) = match (
                read_string(&mut c, kptr, klen),
                read_string(&mut c, vptr, vlen),
            ) {
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
        },
    )?;

    // Properties.
    l.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, pptr: i32, plen: i32, ptr_out: i32, size_out: i32| {
            let path = match read(&mut c, pptr, plen) {
                Ok(path) => abi::property_path(&path),
                Err(status) => return status as i32,
            };
            match property(c.data_mut(), &path) {
                Some(value) => status(give(&mut c, &value, ptr_out, size_out)),
                None => Status::NotFound as i32,
            }
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, pptr: i32, plen: i32, vptr: i32, vlen: i32| {
            let (path, value) = match (read(&mut c, pptr, plen), read(&mut c, vptr, vlen)) {
                (Ok(p), Ok(v)) => (abi::property_path(&p), v),
                (Err(s), _) | (_, Err(s)) => return s as i32,
            };
            match c.data_mut().stream() {
                Some(stream) => {
                    stream.properties.insert(path, value);
                    Status::Ok as i32
                }
                None => Status::BadArgument as i32,
            }
        },
    )?;

    // Flow.
    l.func_wrap("env", "proxy_continue_stream", |mut c: C<'_>, kind: i32| {
        continue_stream(c.data_mut(), kind)
    })?;
    l.func_wrap("env", "proxy_continue_request", |mut c: C<'_>| {
        continue_stream(c.data_mut(), abi::stream::REQUEST)
    })?;
    l.func_wrap("env", "proxy_continue_response", |mut c: C<'_>| {
        continue_stream(c.data_mut(), abi::stream::RESPONSE)
    })?;
    l.func_wrap(
        "env",
        "proxy_close_stream",
        |mut c: C<'_>, _kind: i32| match c.data_mut().stream() {
            Some(stream) => {
                stream.closed = true;
                Status::Ok as i32
            }
            None => Status::BadArgument as i32,
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>,
         code: i32,
         details_ptr: i32,
         details_len: i32,
         body_ptr: i32,
         body_len: i32,
         headers_ptr: i32,
         headers_len: i32,
         _grpc: i32| {
            let body = match read(&mut c, body_ptr, body_len) {
                Ok(body) => body,
                Err(status) => return status as i32,
            };
            let headers = match read(&mut c, headers_ptr, headers_len).map(|b| decode_pairs(&b)) {
                Ok(Some(headers)) => headers,
                Ok(None) => return Status::BadArgument as i32,
                Err(status) => return status as i32,
            };
            let details = match read(&mut c, details_ptr, details_len) {
                Ok(details) => String::from_utf8_lossy(&details).into_owned(),
                Err(status) => return status as i32,
            };
            let Some(stream) = c.data_mut().stream() else {
                return Status::BadArgument as i32;
            };
            stream.response_code_details = Some(details);
            let mut response = Response::new(code as u16).body(body);
            for (name, value) in headers {
                response = response.header(&name, &value);
            }
            if !response.body.is_empty() && find(&response.headers, "content-type").is_none() {
                response = response.header("content-type", "text/plain");
            }
            stream.local_response = Some(response);
            Status::Ok as i32
        },
    )?;

    // HTTP callouts.
    l.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         uri_ptr: i32,
         uri_len: i32,
         headers_ptr: i32,
         headers_len: i32,
         body_ptr: i32,
         body_len: i32,
         _trailers_ptr: i32,
         _trailers_len: i32,
         timeout_ms: i32,
         token_out: i32| {
            let result = (|| {
                let cluster = read_string(&mut c, uri_ptr, uri_len)?;
                let headers = decode_pairs(&read(&mut c, headers_ptr, headers_len)?)
                    .ok_or(Status::BadArgument)?;
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
        },
    )?;

    // Higress's Redis extension.
    l.func_wrap(
        "env",
        "proxy_redis_init",
        |mut c: C<'_>,
         cluster_ptr: i32,
         cluster_len: i32,
         user_ptr: i32,
         user_len: i32,
         password_ptr: i32,
         password_len: i32,
         timeout_ms: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_redis_call",
        |mut c: C<'_>,
         cluster_ptr: i32,
         cluster_len: i32,
         query_ptr: i32,
         query_len: i32,
         token_out: i32| {
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
        },
    )?;

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
    l.func_wrap(
        "env",
        "proxy_grpc_call",
        |_: C<'_>,
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
         _: i32| { Status::Unimplemented as i32 },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_stream",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            Status::Unimplemented as i32
        },
    )?;
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
    l.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, code_out: i32, ptr_out: i32, size_out: i32| {
            status(
                write_u32(&mut c, code_out, 0).and_then(|()| give(&mut c, &[], ptr_out, size_out)),
            )
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| Status::NotFound as i32,
    )?;

    // Shared data and queues.
    l.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, kptr: i32, klen: i32, ptr_out: i32, size_out: i32, cas_out: i32| {
            let key = match read_string(&mut c, kptr, klen) {
                Ok(key) => key,
                Err(status) => return status as i32,
            };
            match c.data().shared_data.get(&key).cloned() {
                Some((value, cas)) => status(
                    give(&mut c, &value, ptr_out, size_out)
                        .and_then(|()| write_u32(&mut c, cas_out, cas)),
                ),
                None => Status::NotFound as i32,
            }
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: C<'_>, nptr: i32, nlen: i32, id_out: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, _vm_ptr: i32, _vm_len: i32, nptr: i32, nlen: i32, id_out: i32| {
            let name = match read_string(&mut c, nptr, nlen) {
                Ok(name) => name,
                Err(status) => return status as i32,
            };
            match c.data().queues.iter().position(|(n, _)| *n == name) {
                Some(id) => status(write_u32(&mut c, id_out, id as u32 + 1)),
                None => Status::NotFound as i32,
            }
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: C<'_>, id: i32, ptr: i32, len: i32| {
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
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: i32, ptr_out: i32, size_out: i32| {
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
        },
    )?;

    // Metrics.
    l.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, nptr: i32, nlen: i32, id_out: i32| {
            let name = match read_string(&mut c, nptr, nlen) {
                Ok(name) => name,
                Err(status) => return status as i32,
            };
            let metrics = &mut c.data_mut().metrics;
            let id = match metrics.iter().position(|m| m.name == name) {
                Some(id) => id,
                None => {
                    metrics.push(Metric {
                        name,
                        kind,
                        value: 0,
                    });
                    metrics.len() - 1
                }
            };
            status(write_u32(&mut c, id_out, id as u32))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_increment_metric",
        // As Envoy: counters go up only, gauges up and down, histograms
        // take records, not increments.
        |mut c: C<'_>, id: i32, offset: i64| match c.data_mut().metrics.get_mut(id as u32 as usize)
        {
            Some(metric) if (metric.kind == 0 && offset >= 0) || metric.kind == 1 => {
                metric.value = metric.value.saturating_add(offset);
                Status::Ok as i32
            }
            Some(_) => Status::BadArgument as i32,
            None => Status::NotFound as i32,
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_record_metric",
        // As Envoy: a counter adds the value, a gauge is set to it, a
        // histogram records it (the last record is kept here).
        |mut c: C<'_>, id: i32, value: i64| match c.data_mut().metrics.get_mut(id as u32 as usize) {
            Some(metric) if metric.kind == 0 => {
                metric.value = metric.value.saturating_add(value);
                Status::Ok as i32
            }
            Some(metric) => {
                metric.value = value;
                Status::Ok as i32
            }
            None => Status::NotFound as i32,
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: C<'_>, id: i32, out: i32| match c
            .data()
            .metrics
            .get(id as u32 as usize)
            .map(|m| m.value)
        {
            Some(value) => status(write(&mut c, out, &value.to_le_bytes())),
            None => Status::NotFound as i32,
        },
    )?;
    Ok(())
}

fn continue_stream(state: &mut State, kind: i32) -> i32 {
    let Some(stream) = state.stream() else {
        return Status::BadArgument as i32;
    };
    match kind {
        abi::stream::REQUEST => stream.continue_request = true,
        abi::stream::RESPONSE => stream.continue_response = true,
        _ => return Status::BadArgument as i32,
    }
    Status::Ok as i32
}

// ---- WASI preview1 -------------------------------------------------------------------

const WASI_SUCCESS: i32 = 0;
const WASI_EBADF: i32 = 8;
const WASI_EINVAL: i32 = 28;
const WASI_ENOSYS: i32 = 52;

fn wasi(l: &mut Linker<State>) -> wasmtime::Result<()> {
    const W: &str = "wasi_snapshot_preview1";
    l.func_wrap(
        W,
        "fd_write",
        |mut c: C<'_>, fd: i32, iovs: i32, count: i32, written_out: i32| {
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
        },
    )?;
    l.func_wrap(W, "fd_read", |_: C<'_>, _: i32, _: i32, _: i32, _: i32| {
        WASI_EBADF
    })?;
    l.func_wrap(W, "fd_close", |_: C<'_>, _: i32| WASI_SUCCESS)?;
    l.func_wrap(W, "fd_seek", |_: C<'_>, _: i32, _: i64, _: i32, _: i32| {
        WASI_EBADF
    })?;
    l.func_wrap(W, "fd_fdstat_get", |mut c: C<'_>, fd: i32, out: i32| {
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
    })?;
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
        l.func_wrap(
            W,
            name,
            |mut c: C<'_>, count_out: i32, size_out: i32| match write_u32(&mut c, count_out, 0)
                .and_then(|()| write_u32(&mut c, size_out, 0))
            {
                Ok(()) => WASI_SUCCESS,
                Err(_) => WASI_EINVAL,
            },
        )?;
    }
    for name in ["environ_get", "args_get"] {
        l.func_wrap(W, name, |_: C<'_>, _: i32, _: i32| WASI_SUCCESS)?;
    }
    l.func_wrap(
        W,
        "clock_time_get",
        |mut c: C<'_>, id: i32, _precision: i64, out: i32| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let _ = id; // realtime and monotonic alike: nanoseconds since the epoch
            match write(&mut c, out, &now.to_le_bytes()) {
                Ok(()) => WASI_SUCCESS,
                Err(_) => WASI_EINVAL,
            }
        },
    )?;
    l.func_wrap(
        W,
        "clock_res_get",
        |mut c: C<'_>, _id: i32, out: i32| match write(&mut c, out, &1u64.to_le_bytes()) {
            Ok(()) => WASI_SUCCESS,
            Err(_) => WASI_EINVAL,
        },
    )?;
    l.func_wrap(W, "random_get", |mut c: C<'_>, ptr: i32, len: i32| {
        let bytes: Vec<u8> = (0..len.max(0)).map(|_| fastrand::u8(..)).collect();
        match write(&mut c, ptr, &bytes) {
            Ok(()) => WASI_SUCCESS,
            Err(_) => WASI_EINVAL,
        }
    })?;
    l.func_wrap(W, "sched_yield", |_: C<'_>| WASI_SUCCESS)?;
    l.func_wrap(
        W,
        "poll_oneoff",
        |_: C<'_>, _: i32, _: i32, _: i32, _: i32| WASI_ENOSYS,
    )?;
    l.func_wrap(
        W,
        "proc_exit",
        |_: C<'_>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::format_err!("the plugin called proc_exit({code})"))
        },
    )?;
    Ok(())
}
