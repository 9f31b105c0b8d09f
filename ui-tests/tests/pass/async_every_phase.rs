use gateway_plugin::prelude::*;
use std::time::Duration;

#[plugin(name = "async-every-phase")]
pub struct Config {
    client: HttpClient,
}

#[parse_config]
fn parse(_json: &serde_json::Value) -> Result<Config, String> {
    Ok(Config {
        client: HttpClient::new(K8sCluster {
            service_name: "auth".into(),
            namespace: "default".into(),
            port: 8080,
            ..Default::default()
        }),
    })
}

// `future` (futures-lite's) and `serde_json` come with the prelude.
#[on_request_headers]
async fn request_headers(ctx: &mut HttpContext, config: &Config) -> Action {
    let (a, b) = future::zip(config.client.get("/a"), config.client.get("/b")).await;
    match (a, b) {
        (Ok(a), Ok(b)) if a.status() == 200 && b.status() == 200 => Action::Continue,
        _ => ctx.send_response(403, &[], b"denied"),
    }
}

#[on_request_body]
async fn request_body(ctx: &mut HttpContext, config: &Config, body: &[u8]) -> Action {
    let call = config
        .client
        .post("/check", &[("content-type", "application/json")], body)
        .timeout(Duration::from_secs(1));
    if let Ok(resp) = call.await {
        ctx.replace_request_body(resp.body());
    }
    Action::Continue
}

#[on_response_headers]
async fn response_headers(ctx: &mut HttpContext, config: &Config) -> Action {
    // A local that lives across `.await`, borrowed by the callout.
    let path = format!("/audit{}", ctx.path());
    let _ = config.client.get(&path).header("x-a", "b").await;
    Action::Continue
}

#[on_response_body]
async fn response_body(_ctx: &mut HttpContext, config: &Config, body: &[u8]) -> Action {
    let _ = config.client.put("/copy", &[], body).await;
    Action::Continue
}

#[on_stream_done]
async fn done(_ctx: &mut HttpContext, config: &Config) {
    let _ = config.client.delete("/session", &[], b"").await;
}

fn main() {}
