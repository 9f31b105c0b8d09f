//! Go's rebuild options (`#[plugin(rebuild_after_requests = N,
//! rebuild_max_memory_bytes = M)]`): when to ask the gateway for a fresh VM.

use crate::host;
use crate::plugin::Plugin;
use std::cell::Cell;

thread_local! {
    /// Requests since the VM started (or last asked for a rebuild).
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
}

/// Whether the plugin set a rebuild option (constant per plugin, so the
/// check is compiled out of plugins without one).
#[inline(always)]
pub(crate) fn enabled<P: Plugin>() -> bool {
    P::REBUILD_AFTER_REQUESTS > 0 || P::REBUILD_MAX_MEMORY_BYTES > 0
}

/// At request headers, counts the request and reads the VM's memory
/// (property `plugin_vm_memory`, 8 bytes little-endian); past a limit, sets
/// `wasm_need_rebuild` to `true` (Higress then replaces the VM between
/// requests).
pub(crate) fn check<P: Plugin>() {
    let mut rebuild = false;
    if P::REBUILD_AFTER_REQUESTS > 0 {
        let n = REQUESTS.with(|r| r.get() + 1);
        rebuild = n >= P::REBUILD_AFTER_REQUESTS;
        REQUESTS.with(|r| r.set(if rebuild { 0 } else { n }));
    }
    if P::REBUILD_MAX_MEMORY_BYTES > 0 && !rebuild {
        if let Ok(Some(bytes)) = host::get_property(&["plugin_vm_memory"]) {
            if let Ok(bytes) = <[u8; 8]>::try_from(bytes.as_slice()) {
                rebuild = u64::from_le_bytes(bytes) >= P::REBUILD_MAX_MEMORY_BYTES;
            }
        }
    }
    if rebuild {
        log::info!("asking the gateway for a fresh VM (wasm_need_rebuild)");
        let _ = host::set_property(&["wasm_need_rebuild"], b"true");
    }
}
