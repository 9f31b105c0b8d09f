//! `#[on_tick]` handlers (`fixtures/ticks`) on the test host: three
//! periods on one timer, in the right ratio, and an async tick's callout.

use gateway_plugin_e2e::plugin_wasm;
use gateway_plugin_test::{Host, Response};

#[test]
fn periods_share_the_timer_and_an_async_tick_calls_out() {
    let vm = Host::load(plugin_wasm("ticks"))
        .unwrap()
        .cluster_fn("outbound|8080||token.static", |req| {
            assert_eq!(req.path(), "/refresh");
            Response::new(200)
        })
        .configure(serde_json::Value::Null)
        .unwrap();
    // The greatest common divisor of 100, 300 and 200 ms.
    assert_eq!(vm.tick_period_ms(), 100);
    for _ in 0..6 {
        vm.tick().unwrap();
    }
    // Each on the first tick, then every period: 600 ms of ticks.
    assert_eq!(vm.metric("ticks_fast"), Some(6));
    assert_eq!(vm.metric("ticks_slow"), Some(2));
    assert_eq!(vm.metric("ticks_refreshed"), Some(3), "{:?}", vm.logs());
}

#[test]
fn a_failing_tick_callout_is_an_error_value_not_a_trap() {
    let vm = Host::load(plugin_wasm("ticks"))
        .unwrap()
        .cluster_timeout("outbound|8080||token.static")
        .configure(serde_json::Value::Null)
        .unwrap();
    vm.tick().unwrap();
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.contains("[ticks] refresh failed")),
        "{:?}",
        vm.logs()
    );
    assert_eq!(vm.metric("ticks_refreshed"), Some(0));
}
