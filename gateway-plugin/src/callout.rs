//! Callouts (HTTP calls and Higress's Redis calls): dispatched on behalf of
//! a root context, recorded by token, answered raw. The tables and the
//! waking only: the host calls are `host/imports.rs`'s, and the answers
//! come in through `host/exports.rs`.
//!
//! Every callout is made on behalf of a *root* context, both for the host
//! and for the `proxy-wasm` SDK's own token table: the SDK records an HTTP
//! callout against the context it last dispatched, which is stale after a
//! callback it does not dispatch (Higress's Redis answer) and dies with its
//! stream. Recorded against a root, every answer reaches the root's
//! `on_http_call_response` (`host/exports.rs`), and the tables here, not the SDK's, say
//! which task it wakes. A stream that ends drops its task; the task's
//! callout futures forget their tokens on drop, and a late answer finds no
//! entry and is ignored.
//!
//! One VM may hold several roots: Envoy (and Higress on every configuration
//! push) runs each filter configuration that shares a `vm_config` as a root
//! context of its own, created and deleted while the others' streams live.
//! So a callout is made on behalf of its task's root while it lives (else
//! another live one). A root that goes away takes its callouts with it (the
//! host cancels them): their tasks are woken with an error instead of
//! waiting forever.
//!
//! HTTP and Redis tokens come from separate host counters on some hosts
//! (Higress), so they live in separate tables. The answer is read in the
//! host's callback (the host frees it after) and stored raw;
//! `http_client.rs` and `redis.rs` make their values and errors from it.

use crate::executor;
use crate::host::{self, BufferType, HostError, MapType};
use hashbrown::hash_map::Entry;
use hashbrown::HashMap;
use std::cell::{Cell, RefCell};
use std::hash::{BuildHasherDefault, Hasher};
use std::task::Waker;

/// The host status given to a callout whose root was deleted while it
/// waited (`InternalFailure` in the proxy-wasm ABI).
pub(crate) const STATUS_ROOT_DELETED: u32 = 10;

/// Why a callout has no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The host answered with nothing (timeout, reset), or with an error
    /// status (a Redis call's, or [`STATUS_ROOT_DELETED`]).
    Status(u32),
    /// The HTTP answer had no headers: no response.
    NoResponse,
    /// The body or reply is larger than the call's limit (not read).
    TooLarge { size: usize, limit: usize },
    /// Reading the answer from the host failed.
    Read(HostError),
}

/// An HTTP callout's answer, raw: the headers and trailers in the host's
/// pairs encoding.
pub(crate) struct HttpAnswer {
    pub headers: Vec<u8>,
    pub body: Vec<u8>,
    /// Empty if there were none.
    pub trailers: Vec<u8>,
}

pub(crate) type HttpResult = Result<HttpAnswer, Failure>;
pub(crate) type RedisResult = Result<Vec<u8>, Failure>;

/// A host token, HTTP or Redis (the type says which table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Token(u32);

struct Callout<T> {
    /// The root the callout was made on behalf of (the host cancels it when
    /// that root is deleted).
    root: u32,
    waker: Waker,
    answer: Option<T>,
    /// The largest body or reply read.
    limit: usize,
}

/// Tokens are small counters: a multiply spreads them over the table, with
/// no SipHash (and no 128-bit arithmetic, slow in Wasm).
#[derive(Default)]
struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u32(u32::from(*byte));
        }
    }
    fn write_u32(&mut self, token: u32) {
        let h = (self.0 ^ u64::from(token)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

type Table<T> = RefCell<HashMap<u32, Callout<T>, BuildHasherDefault<TokenHasher>>>;

struct Callouts {
    /// The root whose SDK-dispatched callback is running, if any: the SDK
    /// holds its table of roots then, so it cannot be pointed elsewhere.
    sdk_root: Cell<Option<u32>>,
    http: Table<HttpResult>,
    redis: Table<RedisResult>,
}

thread_local! {
    // `const`: no lazy-initialisation check on every access.
    static CALLOUTS: Callouts = const {
        Callouts {
            sdk_root: Cell::new(None),
            http: RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())),
            redis: RefCell::new(HashMap::with_hasher(BuildHasherDefault::new())),
        }
    };
}

fn with<R>(f: impl FnOnce(&Callouts) -> R) -> R {
    CALLOUTS.with(f)
}

// ---- roots ---------------------------------------------------------------------

/// A root context was deleted. The host cancels the callouts made on its
/// behalf: their tasks get an error and run at the next callback (not here:
/// the SDK holds its tables while it deletes a context).
pub(crate) fn remove_root(context_id: u32) {
    executor::remove_root(context_id);
    let wake = with(|c| {
        let mut wake = Vec::new();
        fail_root(&c.http, context_id, &mut wake, "HTTP");
        fail_root(&c.redis, context_id, &mut wake, "Redis");
        wake
    });
    // Woken outside the borrows: a waker pushes onto the ready list.
    for waker in wake {
        waker.wake();
    }
}

fn fail_root<T>(table: &Table<Result<T, Failure>>, root: u32, wake: &mut Vec<Waker>, kind: &str) {
    for (token, callout) in table.borrow_mut().iter_mut() {
        if callout.root != root || callout.answer.is_some() {
            continue;
        }
        callout.answer = Some(Err(Failure::Status(STATUS_ROOT_DELETED)));
        log::debug!("{kind} callout {token} cancelled: its plugin configuration was removed");
        wake.push(callout.waker.clone());
    }
}

/// Runs `f` as a callback of root `root` dispatched by the SDK (the SDK's
/// record of the current context is that root already).
pub(crate) fn in_root_callback<R>(root: u32, f: impl FnOnce() -> R) -> R {
    let outer = with(|c| c.sdk_root.replace(Some(root)));
    let result = f();
    with(|c| c.sdk_root.set(outer));
    result
}

// ---- dispatch ------------------------------------------------------------------

/// Why a callout did not start.
pub(crate) enum DispatchError {
    NotInHandler,
    /// The host's status.
    Refused(u32),
}

/// Makes the host call that starts a callout (`start` returns its token or
/// the host's status) for the current task, on behalf of its stream's root.
/// Returns the token and the root.
fn dispatch(start: impl FnOnce() -> Result<u32, u32>) -> Result<(u32, u32), DispatchError> {
    let Some(task) = executor::current() else {
        return Err(DispatchError::NotInHandler);
    };
    let root = match with(|c| c.sdk_root.get()) {
        // Inside a root's SDK-dispatched callback the SDK's record is that
        // root and its root table is borrowed: dispatch as that root.
        Some(root) => root,
        None => {
            let Some(root) = executor::live_root(task.root) else {
                log::warn!("no plugin configuration is left in this VM to make a callout for");
                return Err(DispatchError::Refused(STATUS_ROOT_DELETED));
            };
            // SAFETY: a live root id the SDK knows, outside any root
            // callback (its root table is free); no borrow of ours is held
            // across it.
            unsafe { host::point_sdk_at_root(root) };
            root
        }
    };
    let switch = root != task.context;
    if switch {
        let _ = host::set_effective_context(root);
    }
    let result = start();
    if switch {
        let _ = host::set_effective_context(task.context);
    }
    let token = result.map_err(DispatchError::Refused)?;
    Ok((token, root))
}

fn record<T>(table: &Table<T>, token: u32, root: u32, limit: usize, waker: &Waker) {
    let callout = Callout {
        root,
        waker: waker.clone(),
        answer: None,
        limit,
    };
    // A token the host reuses while we still hold it would be a host bug;
    // the old entry is dropped outside the borrow.
    let old = table.borrow_mut().insert(token, callout);
    drop(old);
}

/// Dispatches an HTTP callout for the current task, on behalf of its root.
pub(crate) fn dispatch_http(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout: std::time::Duration,
    max_body: usize,
    waker: &Waker,
) -> Result<Token, DispatchError> {
    let (token, root) = dispatch(|| host::dispatch_http_call(cluster, headers, body, timeout))?;
    with(|c| record(&c.http, token, root, max_body, waker));
    Ok(Token(token))
}

/// Dispatches a Redis command (RESP bytes) for the current task.
pub(crate) fn dispatch_redis(
    cluster: &str,
    query: &[u8],
    max_reply: usize,
    waker: &Waker,
) -> Result<Token, DispatchError> {
    let (token, root) = dispatch(|| host::dispatch_redis_call(cluster, query))?;
    with(|c| record(&c.redis, token, root, max_reply, waker));
    Ok(Token(token))
}

// ---- answers -------------------------------------------------------------------

fn take<T>(table: &Table<T>, token: Token, waker: &Waker) -> Option<T> {
    let mut table = table.borrow_mut();
    // One probe: the entry is usually taken (the task was woken for it).
    match table.entry(token.0) {
        Entry::Occupied(mut entry) => match entry.get_mut().answer.take() {
            Some(answer) => {
                entry.remove();
                Some(answer)
            }
            None => {
                let callout = entry.get_mut();
                if !callout.waker.will_wake(waker) {
                    callout.waker = waker.clone();
                }
                None
            }
        },
        Entry::Vacant(_) => None,
    }
}

/// The answer to HTTP callout `token` if it came; else remembers the waker.
pub(crate) fn take_http(token: Token, waker: &Waker) -> Option<HttpResult> {
    with(|c| take(&c.http, token, waker))
}

/// The answer to Redis call `token` if it came; else remembers the waker.
pub(crate) fn take_redis(token: Token, waker: &Waker) -> Option<RedisResult> {
    with(|c| take(&c.redis, token, waker))
}

/// An HTTP callout future was dropped: forget its token.
pub(crate) fn forget_http(token: Token) {
    let callout = with(|c| c.http.borrow_mut().remove(&token.0));
    drop(callout);
}

/// A Redis call future was dropped: forget its token.
pub(crate) fn forget_redis(token: Token) {
    let callout = with(|c| c.redis.borrow_mut().remove(&token.0));
    drop(callout);
}

/// Stores an answer, wakes its task and runs what is ready, in the callback
/// of context `caller` (which ends right after).
fn answered<T>(
    table: impl Fn(&Callouts) -> &Table<T>,
    caller: u32,
    token: u32,
    read: impl FnOnce(usize) -> T,
) {
    // Read with the table borrowed: reading calls only the host (and the
    // allocator), never back into these tables.
    let waker = with(|c| {
        let mut table = table(c).borrow_mut();
        let callout = table.get_mut(&token)?;
        callout.answer = Some(read(callout.limit));
        Some(callout.waker.clone())
    });
    match waker {
        Some(waker) => waker.wake(),
        None => {
            log::debug!("ignoring the answer to callout {token}: its stream has ended");
            return;
        }
    }
    executor::run_ready(caller, false);
}

/// The host's answer to an HTTP callout, in the callback of context `caller`:
/// read now (the host frees it after this callback).
pub(crate) fn on_http_call_response(
    caller: u32,
    token: u32,
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
) {
    answered(
        |c| &c.http,
        caller,
        token,
        |max_body| read_http(num_headers, body_size, num_trailers, max_body),
    );
}

fn read_http(
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
    max_body: usize,
) -> HttpResult {
    if num_headers == 0 {
        return Err(Failure::NoResponse);
    }
    if body_size > max_body {
        // Not read at all: a huge body must not grow the VM's memory.
        return Err(Failure::TooLarge {
            size: body_size,
            limit: max_body,
        });
    }
    let headers = host::get_map_bytes(MapType::HttpCallResponseHeaders).map_err(Failure::Read)?;
    let body = match body_size {
        0 => Vec::new(),
        size => host::get_buffer(BufferType::HttpCallResponseBody, 0, size)
            .map_err(Failure::Read)?
            .unwrap_or_default(),
    };
    let trailers = match num_trailers {
        0 => Vec::new(),
        _ => host::get_map_bytes(MapType::HttpCallResponseTrailers).unwrap_or_default(),
    };
    Ok(HttpAnswer {
        headers,
        body,
        trailers,
    })
}

/// The host's answer to a Redis call (Higress's extension): `status` 0 and
/// the reply in the Redis buffer, or the host's error status.
pub(crate) fn on_redis_call_response(caller: u32, token: u32, status: u32, response_size: usize) {
    answered(
        |c| &c.redis,
        caller,
        token,
        |max_reply| match status {
            // Not read at all: a huge reply must not grow the VM's memory.
            0 if response_size > max_reply => Err(Failure::TooLarge {
                size: response_size,
                limit: max_reply,
            }),
            0 => host::get_redis_reply(response_size).map_err(Failure::Read),
            status => Err(Failure::Status(status)),
        },
    );
}

/// Live tasks and callouts, for leak checks: `(tasks, callouts)`.
pub fn live_counts() -> (usize, usize) {
    let callouts = with(|c| c.http.borrow().len() + c.redis.borrow().len());
    (executor::waiting_tasks(), callouts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicUsize);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn flag() -> (Arc<Flag>, Waker) {
        let flag = Arc::new(Flag(Default::default()));
        (Arc::clone(&flag), Waker::from(flag))
    }

    fn woken(flag: &Flag) -> usize {
        flag.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn forgetting_a_token_and_late_answers_are_harmless() {
        let (_, w) = flag();
        with(|c| record(&c.http, 9, 1, 10, &w));
        assert_eq!(live_counts(), (0, 1));
        assert!(take_http(Token(9), &w).is_none());
        forget_http(Token(9));
        assert_eq!(live_counts(), (0, 0));
        // A late answer for the forgotten token: ignored, no host call.
        on_http_call_response(1, 9, 3, 10, 0);
        assert_eq!(live_counts(), (0, 0));
    }

    #[test]
    fn http_and_redis_tokens_do_not_collide() {
        let (_, w) = flag();
        with(|c| record(&c.http, 5, 1, 10, &w));
        with(|c| record(&c.redis, 5, 1, 10, &w));
        assert_eq!(live_counts(), (0, 2));
        forget_http(Token(5));
        assert!(take_redis(Token(5), &w).is_none());
        forget_redis(Token(5));
        assert_eq!(live_counts(), (0, 0));
    }

    #[test]
    fn a_deleted_root_fails_only_its_own_callouts() {
        use executor::{add_root, live_root, root_count};
        add_root(1);
        add_root(2);
        assert_eq!(live_root(1), Some(1));
        let (f1, w1) = flag();
        let (f2, w2) = flag();
        let (f3, w3) = flag();
        with(|c| record(&c.http, 1, 1, 10, &w1));
        with(|c| record(&c.redis, 2, 2, 10, &w2));
        with(|c| record(&c.http, 3, 2, 10, &w3));
        remove_root(2);
        assert_eq!(root_count(), 1);
        // A task whose root is gone makes its callouts as a live one.
        assert_eq!(live_root(2), Some(1));
        assert_eq!((woken(&f1), woken(&f2), woken(&f3)), (0, 1, 1));
        assert!(take_http(Token(1), &w1).is_none());
        assert!(matches!(
            take_redis(Token(2), &w2),
            Some(Err(Failure::Status(STATUS_ROOT_DELETED)))
        ));
        assert!(matches!(
            take_http(Token(3), &w3),
            Some(Err(Failure::Status(STATUS_ROOT_DELETED)))
        ));
        forget_http(Token(1));
        remove_root(1);
        assert_eq!(live_root(1), None);
        assert_eq!(live_counts(), (0, 0));
    }

    #[test]
    fn token_hashes_spread() {
        use std::hash::BuildHasher;
        let hasher = BuildHasherDefault::<TokenHasher>::default();
        let mut tops: Vec<u64> = (1..=64u32).map(|t| hasher.hash_one(t) >> 57).collect();
        tops.sort();
        tops.dedup();
        // 64 sequential tokens land on many of the 128 control values.
        assert!(tops.len() > 30, "{}", tops.len());
    }
}
