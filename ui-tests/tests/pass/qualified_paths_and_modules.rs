// Fully qualified types, an enum config, handlers in other modules, and a
// stream-done handler that returns `Action`.
#[gateway_plugin::plugin(name = "qualified")]
#[derive(gateway_plugin::serde::Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    Allow,
    Deny { status: u32 },
}

mod handlers {
    use super::Mode;

    #[gateway_plugin::on_request_headers]
    pub(crate) fn check(
        ctx: &mut gateway_plugin::HttpContext,
        config: &crate::Mode,
    ) -> gateway_plugin::Action {
        match config {
            Mode::Allow => gateway_plugin::Action::Continue,
            Mode::Deny { status } => ctx.send_response(*status, &[], b"denied"),
        }
    }

    #[gateway_plugin::on_stream_done]
    fn done(_ctx: &mut gateway_plugin::HttpContext, _config: &Mode) -> gateway_plugin::Action {
        gateway_plugin::Action::Continue
    }
}

fn main() {}
