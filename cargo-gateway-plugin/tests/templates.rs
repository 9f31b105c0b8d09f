//! Every template: `new` → `build` → `test` passes. The crates build one
//! after the other into one shared target directory, with the repository's
//! Cargo.lock, so wasmtime and the framework compile once.

mod common;

use common::{assert_ok, new_plugin, run, shared_target, stderr, stdout};
use std::process::Command;
use std::time::Instant;

#[test]
fn every_template_builds_and_its_tests_pass() {
    let started = Instant::now();
    let parent = shared_target().join("templates");
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();

    for template in ["basic", "http-call", "redis", "streaming", "mcp"] {
        let at = Instant::now();
        let name = format!("{template}-plugin");
        let dir = new_plugin(&parent, &name, template);

        // A debug build, as cargo runs us (`gateway-plugin` first).
        let out = run(&dir, &["gateway-plugin", "build"], None);
        assert_ok(&out, &format!("{name}: build"));
        let wasm = shared_target()
            .join("wasm32-wasip1/debug")
            .join(format!("{}.wasm", name.replace('-', "_")));
        assert!(wasm.is_file(), "{}", wasm.display());
        assert!(
            stdout(&out).contains(&wasm.display().to_string()),
            "{}",
            stdout(&out)
        );

        let out = run(&dir, &["test"], None);
        assert_ok(&out, &format!("{name}: test"));
        let output = stdout(&out);
        // The plugin's host tests ran (src/lib.rs has none: "0 passed").
        let passed: usize = output
            .lines()
            .filter_map(|l| l.strip_prefix("test result: ok. "))
            .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert!(passed >= 3, "{output}");
        eprintln!("{template}: {:.1?}", at.elapsed());
    }

    // `--release --opt`: the optimized copy beside cargo's artifact.
    let dir = parent.join("basic-plugin");
    let out = run(&dir, &["build", "--release", "--opt"], None);
    assert_ok(&out, "build --release --opt");
    let release = shared_target().join("wasm32-wasip1/release");
    let opt = release.join("basic_plugin.opt.wasm");
    assert!(
        stdout(&out).contains(&opt.display().to_string()),
        "{}",
        stdout(&out)
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&opt) <= size(&release.join("basic_plugin.wasm")));

    // Run as plain `cargo test`, the test says what to do instead.
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env_remove("GATEWAY_PLUGIN_WASM")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("run these tests with `cargo gateway-plugin test`"),
        "{all}"
    );

    eprintln!("all templates: {:.1?}", started.elapsed());
}
