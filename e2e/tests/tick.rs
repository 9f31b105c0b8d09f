//! `#[on_tick]` in a real Envoy (`fixtures/ticks`): the root's timer
//! at the periods' gcd (100 ms), the 100 ms and 300 ms handlers in a 3:1
//! ratio, and the async handler's callout (made during Envoy's `on_tick`
//! callback, on behalf of the root) answered by a real token service. The
//! counts are read from Envoy's `/stats`.
//!
//! Envoy runs the plugin in two VMs even with one worker (the main
//! thread's and the worker's), each root with its own timer, and the
//! counters add up both: each root runs the slow handler on its first tick,
//! so per root `fast` is between `3 × slow - 2` and `3 × slow`.

use gateway_plugin_e2e::{EchoBackend, Envoy, EnvoyConfig, TokenMode, TokenService};
use std::time::{Duration, Instant};

#[test]
fn ticks_run_in_ratio_and_an_async_tick_calls_out() {
    let backend = EchoBackend::start();
    let tokens = TokenService::start(TokenMode::Issue);
    let envoy = Envoy::start(
        EnvoyConfig::new("ticks", backend.port())
            .cluster("outbound|8080||token.static", tokens.port()),
    )
    .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    // Poll until the slow handler has run 5 times (about 1.2 s of ticks).
    let stat = |name: &str| envoy.stat(&format!("wasmcustom.{name}")).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stat("ticks_slow") < 5 {
        assert!(
            Instant::now() < deadline,
            "ticks did not run:\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Two roots (see above), and the fast counter is read a moment after
    // the slow one (a few more runs).
    let (slow, fast, refreshed) = (
        stat("ticks_slow"),
        stat("ticks_fast"),
        stat("ticks_refreshed"),
    );
    assert!(
        (3 * slow - 4..=3 * slow + 6).contains(&fast),
        "fast {fast} vs slow {slow}"
    );
    assert!(refreshed >= 3, "async tick callouts answered: {refreshed}");
    assert!(tokens.requests() >= refreshed);
    assert!(!envoy.log().contains("panicked"), "{}", envoy.log());
}
