//! `examples/hello-world` in a real Envoy.

use gateway_plugin_e2e::{get, request, EchoBackend, Envoy, EnvoyConfig};

#[test]
fn answers_hello_world_itself() {
    let backend = EchoBackend::start();
    let envoy = Envoy::start(EnvoyConfig::new("hello-world", backend.port()))
        .unwrap_or_else(|e| panic!("{}\n{}", e.reason, e.log));

    let resp = get(&envoy.url("/any/path"));
    let post = request("POST", &envoy.url("/"), &[], b"ignored").unwrap();

    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "hello world");
    assert_eq!(post.text(), "hello world");
    assert_eq!(backend.requests(), 0, "the backend must not be asked");
}

#[test]
fn refuses_a_configuration_it_does_not_take() {
    let backend = EchoBackend::start();
    let result = Envoy::start(
        EnvoyConfig::new("hello-world", backend.port()).configuration(serde_json::json!({"x": 1})),
    );

    let failed = result.err().expect("Envoy must refuse the configuration");
    assert!(
        failed
            .log
            .contains("[hello-world] invalid configuration: this plugin takes no configuration"),
        "log was:\n{}",
        failed.log
    );
}
