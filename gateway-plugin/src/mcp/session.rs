//! Protocol versions and sessions.
//!
//! A session is nothing but its id: `Mcp-Session-Id` names the version the
//! session negotiated, a random nonce and a check over both and the server's
//! name, so any Envoy worker (each has its own Wasm VM, and they share no
//! memory) recognises an id another one issued, and refuses one that no
//! server of this name issued (a typo, an id of another server) with 404.
//! The check is an integrity check (FNV-1a), not a credential: who may call the
//! server is the gateway's business (key-auth, jwt-auth plugins before it).
//! Nothing is remembered, so `DELETE` cannot revoke an id; the client that
//! deleted its session starts a new one with `initialize`.

use std::hash::BuildHasher;

/// The protocol versions this server speaks, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The newest supported version: the answer to a client that asks for one
/// this server does not speak.
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];

/// The version a request without `MCP-Protocol-Version` and without a
/// session is taken to speak (the spec's rule for such requests).
pub(crate) const ASSUMED_VERSION: &str = "2025-03-26";

/// The supported version named `version`, if it is one.
pub(crate) fn supported(version: &str) -> Option<&'static str> {
    SUPPORTED_VERSIONS.iter().copied().find(|v| *v == version)
}

/// The version answered to a client that asks for `requested`: that one
/// when supported, else the newest (the spec's negotiation).
pub(crate) fn negotiate(requested: Option<&str>) -> &'static str {
    requested.and_then(supported).unwrap_or(LATEST_VERSION)
}

/// Whether JSON-RPC batches are allowed: 2025-03-26 and before (2025-06-18
/// removed them).
pub(crate) fn allows_batches(version: &str) -> bool {
    version <= "2025-03-26"
}

/// Whether results may carry `structuredContent` and tools `outputSchema`
/// (added in 2025-06-18).
pub(crate) fn has_structured_content(version: &str) -> bool {
    version >= "2025-06-18"
}

const PREFIX: &str = "gp1";

/// A fresh session id for `version`, issued by server `server`.
pub(crate) fn issue(server: &str, version: &'static str) -> String {
    let nonce = format!("{:016x}{:016x}", random_u64(), random_u64());
    let check = check(server, version, &nonce);
    format!("{PREFIX}.{version}.{nonce}.{check:016x}")
}

/// The version of a session id this server (by name) issued; `None` for
/// any other string.
pub(crate) fn verify(server: &str, id: &str) -> Option<&'static str> {
    let mut parts = id.split('.');
    let (prefix, version, nonce, mac) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != PREFIX || parts.next().is_some() || nonce.len() != 32 {
        return None;
    }
    let version = supported(version)?;
    let mac = u64::from_str_radix(mac, 16).ok()?;
    (mac == check(server, version, nonce)).then_some(version)
}

fn check(server: &str, version: &str, nonce: &str) -> u64 {
    // FNV-1a, the same in every worker's VM. Any fixed hash is forgeable by
    // who knows it (a keyed one would need a key every worker shares): it
    // tells a typo or another server's id, it does not authenticate.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [PREFIX, server, version, nonce] {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// 64 random bits: std's `RandomState` takes its keys from the host's
/// random source (WASI `random_get`), so a hash of nothing under a fresh one
/// is random, with no dependency for it.
fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_answers_a_supported_version_or_the_newest() {
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("1999-01-01")), LATEST_VERSION);
        assert_eq!(negotiate(Some("2026-07-28")), LATEST_VERSION);
        assert_eq!(negotiate(None), LATEST_VERSION);
    }

    #[test]
    fn issued_ids_verify_and_others_do_not() {
        let id = issue("weather", "2025-06-18");
        assert_eq!(verify("weather", &id), Some("2025-06-18"));
        assert_ne!(issue("weather", "2025-06-18"), id, "ids are random");
        assert_eq!(verify("other", &id), None);
        let mut forged = id.clone();
        forged.replace_range(20..21, if &id[20..21] == "0" { "1" } else { "0" });
        assert_eq!(verify("weather", &forged), None);
        let downgraded = id.replace("2025-06-18", "2024-11-05");
        assert_eq!(verify("weather", &downgraded), None);
        for junk in ["", "gp1", "gp1...", "x.y.z.w", &format!("{id}.x")] {
            assert_eq!(verify("weather", junk), None, "{junk}");
        }
    }

    #[test]
    fn batches_and_structured_content_by_version() {
        assert!(allows_batches("2024-11-05") && allows_batches("2025-03-26"));
        assert!(!allows_batches("2025-06-18") && !allows_batches("2025-11-25"));
        assert!(!has_structured_content("2025-03-26"));
        assert!(has_structured_content("2025-06-18"));
    }
}
