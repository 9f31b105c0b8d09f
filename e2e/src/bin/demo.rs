//! `bash scripts/demo`: builds `examples/my-plugin`, runs it in a real Envoy
//! in front of a real echo backend, sends requests, prints what came back,
//! and stops everything.

use gateway_plugin_e2e::{get, plugin_wasm, EchoBackend, Envoy, EnvoyConfig};
use serde_json::json;

fn main() {
    println!("building examples/my-plugin for wasm32-wasip1 ...");
    let wasm = plugin_wasm("my-plugin");
    println!(
        "  {} ({} bytes)\n",
        wasm.display(),
        std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0)
    );

    let backend = EchoBackend::start();
    println!("echo backend on 127.0.0.1:{}\n", backend.port());

    for configuration in [json!({}), json!({"mockEnable": true})] {
        println!("== Envoy with my-plugin, configuration {configuration}");
        let envoy = match Envoy::start(
            EnvoyConfig::new("my-plugin", backend.port()).configuration(configuration),
        ) {
            Ok(envoy) => envoy,
            Err(failed) => {
                eprintln!("Envoy did not start: {}\n{}", failed.reason, failed.log);
                std::process::exit(1);
            }
        };
        let url = envoy.url("/demo?x=1");
        let resp = get(&url);
        println!("GET {url}\n  -> {} {}\n", resp.status, resp.text());
    }

    println!("== Envoy with my-plugin, configuration {{\"mockEnable\": \"yes\"}} (refused)");
    match Envoy::start(
        EnvoyConfig::new("my-plugin", backend.port()).configuration(json!({"mockEnable": "yes"})),
    ) {
        Ok(_) => println!("  unexpectedly accepted"),
        Err(failed) => {
            for line in failed
                .log
                .lines()
                .filter(|l| l.contains("[my-plugin]") || l.contains("Unable to create"))
            {
                println!("  {line}");
            }
        }
    }
    println!("\ndone: Envoy and the backend are stopped.");
}
