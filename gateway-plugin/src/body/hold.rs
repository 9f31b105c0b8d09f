//! `hold_headers`: whether this VM's gateway lets a plugin hold a
//! direction's headers until its body handler has run.

use crate::direction::Direction;

thread_local! {
    /// The gateway was seen not to pass a body on while headers were held.
    static HOLD_REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this VM saw that its gateway does not let headers be held.
pub(crate) fn hold_refused() -> bool {
    HOLD_REFUSED.with(|r| r.get())
}

/// A stream held its headers for the body handler (`hold_headers`) and its
/// body never reached the plugin: the gateway turned the header pause into
/// a full stop. Says so once, and holds no more headers in this VM.
pub(crate) fn refuse_hold(direction: Direction) {
    if HOLD_REFUSED.with(|r| r.replace(true)) {
        return;
    }
    log::error!(
        "hold_headers: the gateway did not pass the {} body on to the plugin while its \
         headers were held, so it does not let a plugin hold headers for the body handler \
         (upstream Envoy: set `allow_on_headers_stop_iteration: true` in the Wasm filter's \
         `config`, Envoy 1.35 or later; Higress allows it). From now on this VM lets headers \
         go before the body handler runs, and the header changes it makes are refused",
        direction.name()
    );
}
