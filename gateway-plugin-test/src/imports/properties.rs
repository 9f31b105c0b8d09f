//! Properties (`proxy_get_property`, `proxy_set_property`): what the stream
//! set, what the test configured, and the attributes Envoy (or Higress)
//! answers from the request.

use super::{give, read, status, C};
use crate::abi::{self, Status};
use crate::http::find;
use crate::state::State;
use wasmtime::Linker;

pub(super) fn register(l: &mut Linker<State>) -> wasmtime::Result<()> {
    l.func_wrap("env", "proxy_get_property", get_property)?;
    l.func_wrap("env", "proxy_set_property", set_property)?;
    Ok(())
}

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
            .map(<[u8]>::to_vec)
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

fn get_property(mut c: C<'_>, pptr: i32, plen: i32, ptr_out: i32, size_out: i32) -> i32 {
    let path = match read(&mut c, pptr, plen) {
        Ok(path) => abi::property_path(&path),
        Err(status) => return status as i32,
    };
    match property(c.data_mut(), &path) {
        Some(value) => status(give(&mut c, &value, ptr_out, size_out)),
        None => Status::NotFound as i32,
    }
}

fn set_property(mut c: C<'_>, pptr: i32, plen: i32, vptr: i32, vlen: i32) -> i32 {
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
}
