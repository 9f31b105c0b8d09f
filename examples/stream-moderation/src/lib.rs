//! Moderates a streamed response (an LLM's answer) while it streams: the
//! text is held back until `everyBytes` of it have arrived (or the stream
//! ends), then sent to a moderation service; what the service passes goes
//! on to the client, and the first window it flags is replaced by a final
//! event (`finalEvent`), after which nothing more of the stream goes on.
//! Nothing unchecked reaches the client.
//!
//! The handler is an `async fn` that awaits the service in the middle of
//! the stream: the chunks that arrive meanwhile are held by the framework
//! and handed to it in order once the answer is in.
//!
//! Configuration:
//!
//! ```json
//! {"serviceName": "moderation", "servicePort": 8080, "path": "/moderate",
//!  "everyBytes": 1024, "finalEvent": "data: [moderated]\n\n"}
//! ```
//!
//! The service gets `POST path` with the text as the body and answers 200
//! with `{"flagged": true|false}`. A failed call or any other answer counts
//! as flagged (fail closed), and the log says why.

use gateway_plugin::prelude::*;
use gateway_plugin::serde_json::{self, Value};

#[plugin(name = "stream-moderation")]
pub struct Moderation {
    service: HttpClient,
    path: String,
    every_bytes: usize,
    final_event: String,
}

#[parse_config]
fn parse(json: &Value) -> Result<Moderation, String> {
    let text = |key: &str| json.get(key).and_then(Value::as_str);
    let service_name = text("serviceName").unwrap_or_default();
    if service_name.is_empty() {
        return Err("serviceName: missing".into());
    }
    let port = json
        .get("servicePort")
        .and_then(Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port > 0)
        .ok_or("servicePort: expected a port number")?;
    let every_bytes = match json.get("everyBytes") {
        None => 1024,
        Some(n) => n
            .as_u64()
            .filter(|n| *n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or("everyBytes: expected a positive number")?,
    };
    Ok(Moderation {
        service: HttpClient::new(StaticIpCluster {
            service_name: service_name.to_string(),
            port,
            ..Default::default()
        }),
        path: text("path").unwrap_or("/moderate").to_string(),
        every_bytes,
        final_event: text("finalEvent")
            .unwrap_or("data: [moderated]\n\n")
            .to_string(),
    })
}

/// One stream's moderation state.
#[derive(Default)]
struct Window {
    /// Text held back until it is checked.
    unchecked: Vec<u8>,
    /// A window was flagged: the stream is cut.
    cut: bool,
    checks: u32,
}

#[on_response_body(streaming)]
async fn moderate(
    ctx: &mut HttpContext,
    config: &Moderation,
    chunk: &[u8],
    end_of_stream: bool,
) -> Chunk {
    let mut window = ctx.take::<Window>().unwrap_or_default();
    if window.cut {
        ctx.set(window);
        return Chunk::drop_chunk();
    }
    window.unchecked.extend_from_slice(chunk);
    if window.unchecked.len() < config.every_bytes && !end_of_stream {
        ctx.set(window);
        return Chunk::drop_chunk(); // held back until checked
    }
    let text = std::mem::take(&mut window.unchecked);
    window.checks += 1;
    let verdict = config
        .service
        .post(&config.path, &[("content-type", "text/plain")], &text)
        .await;
    let flagged = match verdict {
        Ok(resp) if resp.status() == 200 => {
            match serde_json::from_slice::<Value>(resp.body())
                .ok()
                .and_then(|v| v.get("flagged").and_then(Value::as_bool))
            {
                Some(flagged) => flagged,
                None => {
                    warn!("moderation answer without a `flagged` boolean: cutting the stream");
                    true
                }
            }
        }
        Ok(resp) => {
            warn!("moderation answered {}: cutting the stream", resp.status());
            true
        }
        Err(err) => {
            warn!("moderation call failed ({err}): cutting the stream");
            true
        }
    };
    let out = if flagged {
        info!("window {} flagged: stream cut", window.checks);
        window.cut = true;
        Chunk::Replace(config.final_event.clone().into_bytes())
    } else {
        Chunk::Replace(text)
    };
    ctx.set(window);
    out
}
