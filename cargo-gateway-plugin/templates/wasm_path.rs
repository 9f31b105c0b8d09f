/// The compiled plugin: `cargo gateway-plugin test` builds it for
/// wasm32-wasip1 and sets `GATEWAY_PLUGIN_WASM` to its path.
fn plugin_wasm() -> String {
    std::env::var("GATEWAY_PLUGIN_WASM").unwrap_or_else(|_| {
        panic!(
            "GATEWAY_PLUGIN_WASM is not set: run these tests with `cargo gateway-plugin test`, \
             which builds the plugin for wasm32-wasip1 first and points GATEWAY_PLUGIN_WASM at the .wasm"
        )
    })
}
