//! `RedisClient`: async Redis commands over Higress's Redis extension.
//!
//! Matched against Higress's sources, byte for byte on the wire:
//! - `higress-group/proxy-wasm-go-sdk`, `proxywasm/internal/abi_hostcalls.go`:
//!   the imports `proxy_redis_init(cluster, username, password, timeout_ms)`
//!   and `proxy_redis_call(cluster, query, *token)`;
//! - same repository, `proxywasm/internal/abi_callback_l7.go`: the export
//!   `proxy_on_redis_call_response(plugin_context_id, token, status,
//!   response_size)`, a status other than 0 meaning no reply;
//! - same repository, `proxywasm/internal/abi_enums.go`: the reply is read
//!   from buffer type 9 (`BufferTypeRedisCallResponse`);
//! - `alibaba/higress`, `plugins/wasm-go/pkg/wrapper/redis_wrapper.go`:
//!   the command goes out as
//!   a RESP array of bulk strings, the cluster name is the `HttpClient` one
//!   (`cluster_wrapper.go`), `Init` is made in `parseConfig`, `SetNX` is
//!   `SET k v NX`. Higress's `Init` appends options to the cluster name
//!   (`?db=..&buffer_flush_timeout=3&max_buffer_size_before_flush=1024`);
//!   ours sends the bare name, which the gateway reads with the same
//!   defaults.
//!
//! Commands are `async`: each is a callout like an HTTP one, answered in the
//! executor, so a handler can await Redis, then HTTP, then Redis again.

use crate::callout::{self, DispatchError, Failure};
use crate::cluster::Cluster;
use crate::host;
use crate::resp::{self, RespError, RespValue};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// A Redis client for one cluster, made in `#[parse_config]` and kept in the
/// configuration.
///
/// ```no_run
/// use gateway_plugin::prelude::*;
///
/// #[plugin(name = "counter")]
/// pub struct Config {
///     redis: RedisClient,
/// }
///
/// #[parse_config]
/// fn parse(_json: &serde_json::Value) -> Result<Config, String> {
///     let redis = RedisClient::new(DnsCluster {
///         service_name: "redis".into(),
///         domain: "redis.example.com".into(),
///         port: 6379,
///     });
///     redis.init("", "", 1000).map_err(|e| e.to_string())?;
///     Ok(Config { redis })
/// }
///
/// #[on_request_headers]
/// async fn count(ctx: &mut HttpContext, config: &Config) -> Action {
///     match config.redis.incr("hits").await {
///         Ok(hits) => ctx.add_request_header("x-hits", &hits.to_string()),
///         Err(err) => log::warn!("redis: {err}"),
///     }
///     Action::Continue
/// }
/// ```
///
/// `Clone` is cheap; a clone shares the init's settings (for its retries)
/// and starts with the original's init state.
///
/// With a per-request cluster ([`RouteCluster`](crate::cluster::RouteCluster)),
/// the cluster is read at each command, and the gateway's connection to a
/// cluster is opened (with `init`'s credentials and options) before the
/// first command to it: `init` at configure time only records them, since
/// no route is known then.
#[derive(Clone)]
pub struct RedisClient {
    target: Target,
    /// The largest reply read (see [`max_reply_size`](Self::max_reply_size)).
    max_reply: usize,
    /// The clusters the gateway accepted `init` for.
    initialised: RefCell<Vec<Rc<str>>>,
    /// What the last `init` asked for, to retry it before the next command
    /// when the gateway refused it, and once on a `NOAUTH` reply (as Go's
    /// SDK does).
    init_args: RefCell<Option<Rc<InitArgs>>>,
}

/// Where commands go.
#[derive(Clone)]
enum Target {
    /// A name computed once, at construction.
    Fixed(Rc<str>),
    /// A cluster whose name depends on the request, read per command.
    PerRequest(Rc<dyn Cluster>),
}

impl Target {
    fn name(&self) -> Rc<str> {
        match self {
            Target::Fixed(name) => name.clone(),
            Target::PerRequest(cluster) => Rc::from(cluster.cluster_name()),
        }
    }
}

struct InitArgs {
    options: Option<RedisOptions>,
    username: String,
    password: String,
    timeout_ms: u32,
}

impl InitArgs {
    /// `proxy_redis_init` for `cluster`; the host's status on failure.
    fn send(&self, cluster: &str) -> Result<(), u32> {
        let upstream = match &self.options {
            Some(options) => options.cluster_name(cluster),
            None => cluster.to_string(),
        };
        host::redis_init(&upstream, &self.username, &self.password, self.timeout_ms)
            .map_err(|err| err.status)
    }
}

/// Options of [`RedisClient::init_with`], as Go's `WithDataBase`,
/// `WithBufferFlushTimeout`, `WithMaxBufferSizeBeforeFlush` and
/// `WithDisableBuffer`.
///
/// ```
/// use gateway_plugin::RedisOptions;
/// let options = RedisOptions::default().database(2);
/// assert_eq!(
///     options.cluster_name("outbound|6379||redis.static"),
///     "outbound|6379||redis.static?db=2&buffer_flush_timeout=3&max_buffer_size_before_flush=1024"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    database: u32,
    buffer_flush_timeout_ms: u32,
    max_buffer_size_before_flush: u32,
}

impl Default for RedisOptions {
    /// Database 0, the gateway's command buffer flushed after 3 ms or 1024 bytes.
    fn default() -> Self {
        RedisOptions {
            database: 0,
            buffer_flush_timeout_ms: 3,
            max_buffer_size_before_flush: 1024,
        }
    }
}

impl RedisOptions {
    /// The Redis database (`SELECT n`) of the gateway's connections.
    pub fn database(mut self, database: u32) -> Self {
        self.database = database;
        self
    }

    /// How long the gateway buffers commands before sending them.
    pub fn buffer_flush_timeout_ms(mut self, ms: u32) -> Self {
        self.buffer_flush_timeout_ms = ms;
        self
    }

    /// How many bytes of commands the gateway buffers before sending them.
    pub fn max_buffer_size_before_flush(mut self, bytes: u32) -> Self {
        self.max_buffer_size_before_flush = bytes;
        self
    }

    /// Commands go out at once (no buffering).
    pub fn disable_buffer(self) -> Self {
        self.buffer_flush_timeout_ms(0)
            .max_buffer_size_before_flush(0)
    }

    /// The cluster name with the options, as Higress's gateway takes them
    /// at init.
    pub fn cluster_name(&self, cluster: &str) -> String {
        format!(
            "{cluster}?db={}&buffer_flush_timeout={}&max_buffer_size_before_flush={}",
            self.database, self.buffer_flush_timeout_ms, self.max_buffer_size_before_flush
        )
    }
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("cluster", &self.cluster_name())
            .field("initialised", &self.initialised.borrow())
            .finish()
    }
}

/// Why a Redis command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisError {
    /// `init` was not called for this client. (When it was, and the
    /// gateway refused it, a command is [`Dispatch`](Self::Dispatch) with
    /// the refusal's status.)
    NotInitialised {
        /// The client's cluster.
        cluster: String,
    },
    /// The gateway refused `init` or the command (an unknown cluster, say);
    /// `status` is the host's (2, `BadArgument`, for an unknown cluster).
    Dispatch {
        /// The cluster called.
        cluster: String,
        /// The host's status.
        status: u32,
    },
    /// No reply: a timeout or a connection error (the host's status).
    Connection {
        /// The status the host's callback gave.
        status: u32,
    },
    /// Redis answered with an error reply (`-ERR ...`), given here.
    Reply(String),
    /// The reply is not of the type the command returns.
    UnexpectedReply {
        /// What the command returns.
        expected: &'static str,
        /// The reply, as text.
        got: String,
    },
    /// The reply is not valid RESP.
    BadReply(RespError),
    /// The reply is larger than the client's
    /// [`max_reply_size`](RedisClient::max_reply_size); it was not read.
    ReplyTooLarge {
        /// The reply's size in bytes.
        size: usize,
        /// The client's limit.
        limit: usize,
    },
    /// The command was awaited outside a handler (at configure time, say):
    /// there is no stream for the answer to resume.
    NotInHandler,
}

impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisError::NotInitialised { cluster } => write!(
                f,
                "the Redis client for {cluster} is not initialised: call `init` in #[parse_config]"
            ),
            RedisError::Dispatch { cluster, status } => {
                write!(
                    f,
                    "the gateway refused the Redis call to {cluster} (status {status})"
                )
            }
            RedisError::Connection { status } => {
                write!(
                    f,
                    "no Redis reply: timeout or connection error (status {status})"
                )
            }
            RedisError::Reply(text) => write!(f, "Redis error: {text}"),
            RedisError::UnexpectedReply { expected, got } => {
                write!(f, "unexpected Redis reply: expected {expected}, got {got}")
            }
            RedisError::BadReply(err) => write!(f, "unreadable Redis reply: {err}"),
            RedisError::ReplyTooLarge { size, limit } => write!(
                f,
                "Redis reply of {size} bytes is over the limit of {limit} (RedisClient::max_reply_size)"
            ),
            RedisError::NotInHandler => write!(
                f,
                "Redis commands can only be awaited inside a phase handler, not at configure time"
            ),
        }
    }
}

impl std::error::Error for RedisError {}

impl RedisClient {
    /// A client for `cluster`, named as for [`HttpClient`](crate::HttpClient).
    pub fn new(cluster: impl Cluster + 'static) -> Self {
        ON_REPLY.with(|handler| handler.set(Some(callout::on_redis_call_response)));
        let target = if cluster.per_request() {
            Target::PerRequest(Rc::new(cluster))
        } else {
            Target::Fixed(Rc::from(cluster.cluster_name()))
        };
        RedisClient {
            target,
            max_reply: DEFAULT_MAX_REPLY,
            initialised: RefCell::new(Vec::new()),
            init_args: RefCell::new(None),
        }
    }

    /// Sets the largest reply read (default 16 MiB, as `HttpClient`'s
    /// bodies); a larger one is [`RedisError::ReplyTooLarge`], not read.
    pub fn max_reply_size(mut self, bytes: usize) -> Self {
        self.max_reply = bytes;
        self
    }

    /// The Envoy cluster the commands go to; empty for a per-request
    /// cluster ([`RouteCluster`](crate::cluster::RouteCluster)), whose name
    /// is read at each command (errors name it).
    pub fn cluster_name(&self) -> &str {
        match &self.target {
            Target::Fixed(name) => name,
            Target::PerRequest(_) => "",
        }
    }

    /// Opens the gateway's connection to Redis (empty `username` and
    /// `password` for none). Call it in `#[parse_config]`, as Higress's SDK
    /// does; commands before a successful `init` are
    /// [`RedisError::NotInitialised`].
    ///
    /// A refused init is an error here, and is also tried again before the
    /// next command (as Go's SDK does), so a plugin may choose to go on
    /// without Redis for now (`let _ = redis.init(..)`) and use it once the
    /// gateway accepts it. `init` may be called again, from `#[parse_config]`
    /// or a handler; the last call's settings are the ones retried.
    ///
    /// With a per-request cluster, nothing is sent here: the settings are
    /// recorded and sent before the first command to each cluster.
    pub fn init(&self, username: &str, password: &str, timeout_ms: u32) -> Result<(), RedisError> {
        self.init_as(None, username, password, timeout_ms)
    }

    /// [`init`](Self::init) with options (database, command buffering), sent
    /// as Higress's Go SDK sends them: `cluster?db=..&buffer_flush_timeout=..`.
    pub fn init_with(
        &self,
        username: &str,
        password: &str,
        timeout_ms: u32,
        options: RedisOptions,
    ) -> Result<(), RedisError> {
        self.init_as(Some(options), username, password, timeout_ms)
    }

    fn init_as(
        &self,
        options: Option<RedisOptions>,
        username: &str,
        password: &str,
        timeout_ms: u32,
    ) -> Result<(), RedisError> {
        *self.init_args.borrow_mut() = Some(Rc::new(InitArgs {
            options,
            username: username.to_string(),
            password: password.to_string(),
            timeout_ms,
        }));
        self.initialised.borrow_mut().clear();
        match &self.target {
            Target::Fixed(name) => self.retry_init(name),
            Target::PerRequest(_) => Ok(()),
        }
    }

    /// Sends the remembered init for `cluster` to the gateway.
    fn retry_init(&self, cluster: &Rc<str>) -> Result<(), RedisError> {
        let args = self.init_args.borrow();
        let Some(args) = args.as_ref() else {
            return Err(RedisError::NotInitialised {
                cluster: cluster.to_string(),
            });
        };
        match args.send(cluster) {
            Ok(()) => {
                self.initialised.borrow_mut().push(cluster.clone());
                Ok(())
            }
            Err(status) => Err(RedisError::Dispatch {
                cluster: cluster.to_string(),
                status,
            }),
        }
    }

    fn call<T>(
        &self,
        args: &[&str],
        convert: fn(RespValue) -> Result<T, RedisError>,
    ) -> RedisCall<T> {
        let cluster = self.target.name();
        let ready = self.initialised.borrow().contains(&cluster);
        // Not `init`ed yet for this cluster: `NotInitialised` if `init` was
        // never called, the gateway's refusal (`Dispatch`) if it was.
        let state = match ready {
            true => Ok(()),
            false => self.retry_init(&cluster),
        };
        let state = match state {
            Ok(()) => CallState::Ready {
                cluster: cluster.to_string(),
                query: resp::encode_command(args),
            },
            Err(err) => CallState::Failed(err),
        };
        let reinit = self.init_args.borrow().clone();
        RedisCall {
            state,
            convert,
            reinit,
            max_reply: self.max_reply,
        }
    }

    /// Any command, e.g. `client.command(&["SET", "k", "v", "EX", "10"])`;
    /// an error reply is `Err(RedisError::Reply)`.
    pub fn command(&self, args: &[&str]) -> RedisCall<RespValue> {
        self.call(args, Ok)
    }

    /// `GET key`: `None` if the key does not exist.
    pub fn get(&self, key: &str) -> RedisCall<Option<String>> {
        self.call(&["GET", key], optional_string)
    }

    /// `SET key value`.
    pub fn set(&self, key: &str, value: &str) -> RedisCall<()> {
        self.call(&["SET", key, value], ok)
    }

    /// `SET key value EX seconds`.
    pub fn set_ex(&self, key: &str, value: &str, seconds: u64) -> RedisCall<()> {
        self.call(&["SET", key, value, "EX", &seconds.to_string()], ok)
    }

    /// `SET key value NX` (as Higress's `SetNX`): `true` if the key was
    /// set, `false` if it existed.
    pub fn set_nx(&self, key: &str, value: &str) -> RedisCall<bool> {
        self.call(&["SET", key, value, "NX"], set_if)
    }

    /// `SET key value NX EX seconds` (Higress's `SetNX` with a TTL): `true`
    /// if the key was set, `false` if it existed.
    pub fn set_nx_ex(&self, key: &str, value: &str, seconds: u64) -> RedisCall<bool> {
        self.call(
            &["SET", key, value, "NX", "EX", &seconds.to_string()],
            set_if,
        )
    }

    /// `MGET key...`: each value or `None`.
    pub fn mget(&self, keys: &[&str]) -> RedisCall<Vec<Option<String>>> {
        let mut args = vec!["MGET"];
        args.extend_from_slice(keys);
        self.call(&args, optional_strings)
    }

    /// `MSET key value ...`.
    pub fn mset(&self, pairs: &[(&str, &str)]) -> RedisCall<()> {
        let mut args = vec!["MSET"];
        for (k, v) in pairs {
            args.push(k);
            args.push(v);
        }
        self.call(&args, ok)
    }

    /// `DECRBY key by`: the new value.
    pub fn decr_by(&self, key: &str, by: i64) -> RedisCall<i64> {
        self.call(&["DECRBY", key, &by.to_string()], integer)
    }

    /// `PERSIST key`: `true` if a timeout was removed.
    pub fn persist(&self, key: &str) -> RedisCall<bool> {
        self.call(&["PERSIST", key], flag)
    }

    /// `RPUSH key value`: the list's new length.
    pub fn rpush(&self, key: &str, value: &str) -> RedisCall<i64> {
        self.call(&["RPUSH", key, value], integer)
    }

    /// `LPOP key`: `None` if the list is empty.
    pub fn lpop(&self, key: &str) -> RedisCall<Option<String>> {
        self.call(&["LPOP", key], optional_string)
    }

    /// `LINDEX key index`.
    pub fn lindex(&self, key: &str, index: i64) -> RedisCall<Option<String>> {
        self.call(&["LINDEX", key, &index.to_string()], optional_string)
    }

    /// `LRANGE key start stop`.
    pub fn lrange(&self, key: &str, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(
            &["LRANGE", key, &start.to_string(), &stop.to_string()],
            strings,
        )
    }

    /// `LREM key count value`: how many were removed.
    pub fn lrem(&self, key: &str, count: i64, value: &str) -> RedisCall<i64> {
        self.call(&["LREM", key, &count.to_string(), value], integer)
    }

    /// `HEXISTS key field`.
    pub fn hexists(&self, key: &str, field: &str) -> RedisCall<bool> {
        self.call(&["HEXISTS", key, field], flag)
    }

    /// `HDEL key field`: how many fields were removed.
    pub fn hdel(&self, key: &str, field: &str) -> RedisCall<i64> {
        self.call(&["HDEL", key, field], integer)
    }

    /// `HLEN key`.
    pub fn hlen(&self, key: &str) -> RedisCall<i64> {
        self.call(&["HLEN", key], integer)
    }

    /// `HMGET key field...`: each value or `None`.
    pub fn hmget(&self, key: &str, fields: &[&str]) -> RedisCall<Vec<Option<String>>> {
        let mut args = vec!["HMGET", key];
        args.extend_from_slice(fields);
        self.call(&args, optional_strings)
    }

    /// `HKEYS key`.
    pub fn hkeys(&self, key: &str) -> RedisCall<Vec<String>> {
        self.call(&["HKEYS", key], strings)
    }

    /// `HVALS key`.
    pub fn hvals(&self, key: &str) -> RedisCall<Vec<String>> {
        self.call(&["HVALS", key], strings)
    }

    /// `SCARD key`.
    pub fn scard(&self, key: &str) -> RedisCall<i64> {
        self.call(&["SCARD", key], integer)
    }

    /// `SREM key member`: 1 if removed.
    pub fn srem(&self, key: &str, member: &str) -> RedisCall<i64> {
        self.call(&["SREM", key, member], integer)
    }

    /// `SISMEMBER key member`.
    pub fn sismember(&self, key: &str, member: &str) -> RedisCall<bool> {
        self.call(&["SISMEMBER", key, member], flag)
    }

    /// `ZCARD key`.
    pub fn zcard(&self, key: &str) -> RedisCall<i64> {
        self.call(&["ZCARD", key], integer)
    }

    /// `ZSCORE key member`: `None` if not a member.
    pub fn zscore(&self, key: &str, member: &str) -> RedisCall<Option<String>> {
        self.call(&["ZSCORE", key, member], optional_string)
    }

    /// `ZINCRBY key by member`: the new score.
    pub fn zincr_by(&self, key: &str, by: f64, member: &str) -> RedisCall<Option<String>> {
        self.call(&["ZINCRBY", key, &by.to_string(), member], optional_string)
    }

    /// `ZRANK key member`: `None` if not a member.
    pub fn zrank(&self, key: &str, member: &str) -> RedisCall<Option<i64>> {
        self.call(&["ZRANK", key, member], optional_integer)
    }

    /// `ZREM key member`: 1 if removed.
    pub fn zrem(&self, key: &str, member: &str) -> RedisCall<i64> {
        self.call(&["ZREM", key, member], integer)
    }

    /// `LINSERT key BEFORE pivot value`: the list's new length (-1: no pivot).
    pub fn linsert_before(&self, key: &str, pivot: &str, value: &str) -> RedisCall<i64> {
        self.call(&["LINSERT", key, "BEFORE", pivot, value], integer)
    }

    /// `LINSERT key AFTER pivot value`: the list's new length (-1: no pivot).
    pub fn linsert_after(&self, key: &str, pivot: &str, value: &str) -> RedisCall<i64> {
        self.call(&["LINSERT", key, "AFTER", pivot, value], integer)
    }

    /// `HINCRBYFLOAT key field by`: the new value, as Redis writes it.
    pub fn hincr_by_float(&self, key: &str, field: &str, by: f64) -> RedisCall<Option<String>> {
        self.call(
            &["HINCRBYFLOAT", key, field, &by.to_string()],
            optional_string,
        )
    }

    /// `HMSET key field value ...`.
    pub fn hmset(&self, key: &str, pairs: &[(&str, &str)]) -> RedisCall<()> {
        let mut args = vec!["HMSET", key];
        for (field, value) in pairs {
            args.push(field);
            args.push(value);
        }
        self.call(&args, ok)
    }

    fn set_op(&self, command: &'static str, keys: &[&str]) -> RedisCall<Vec<String>> {
        let mut args = vec![command];
        args.extend_from_slice(keys);
        self.call(&args, strings)
    }

    fn set_op_store(&self, command: &'static str, dest: &str, keys: &[&str]) -> RedisCall<i64> {
        let mut args = vec![command, dest];
        args.extend_from_slice(keys);
        self.call(&args, integer)
    }

    /// `SDIFF key...`.
    pub fn sdiff(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SDIFF", keys)
    }

    /// `SDIFFSTORE destination key...`: the size of the stored set.
    pub fn sdiff_store(&self, destination: &str, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SDIFFSTORE", destination, keys)
    }

    /// `SINTER key...`.
    pub fn sinter(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SINTER", keys)
    }

    /// `SINTERSTORE destination key...`: the size of the stored set.
    pub fn sinter_store(&self, destination: &str, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SINTERSTORE", destination, keys)
    }

    /// `SUNION key...`.
    pub fn sunion(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SUNION", keys)
    }

    /// `SUNIONSTORE destination key...`: the size of the stored set.
    pub fn sunion_store(&self, destination: &str, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SUNIONSTORE", destination, keys)
    }

    /// `ZCOUNT key min max` (`min`/`max` as Redis takes them: `-inf`, `(5`, ...).
    pub fn zcount(&self, key: &str, min: &str, max: &str) -> RedisCall<i64> {
        self.call(&["ZCOUNT", key, min, max], integer)
    }

    /// `ZREVRANK key member`: `None` if not a member.
    pub fn zrevrank(&self, key: &str, member: &str) -> RedisCall<Option<i64>> {
        self.call(&["ZREVRANK", key, member], optional_integer)
    }

    /// `ZREVRANGE key start stop`.
    pub fn zrevrange(&self, key: &str, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(
            &["ZREVRANGE", key, &start.to_string(), &stop.to_string()],
            strings,
        )
    }

    /// `INCR key`: the new value.
    pub fn incr(&self, key: &str) -> RedisCall<i64> {
        self.call(&["INCR", key], integer)
    }

    /// `INCRBY key by`: the new value.
    pub fn incr_by(&self, key: &str, by: i64) -> RedisCall<i64> {
        self.call(&["INCRBY", key, &by.to_string()], integer)
    }

    /// `DECR key`: the new value.
    pub fn decr(&self, key: &str) -> RedisCall<i64> {
        self.call(&["DECR", key], integer)
    }

    /// `EXPIRE key seconds`: `true` if the key exists (and now expires).
    pub fn expire(&self, key: &str, seconds: u64) -> RedisCall<bool> {
        self.call(&["EXPIRE", key, &seconds.to_string()], flag)
    }

    /// `DEL key`: how many keys were removed.
    pub fn del(&self, key: &str) -> RedisCall<i64> {
        self.call(&["DEL", key], integer)
    }

    /// `EXISTS key`: 1 if it exists, else 0.
    pub fn exists(&self, key: &str) -> RedisCall<i64> {
        self.call(&["EXISTS", key], integer)
    }

    /// `HGET key field`.
    pub fn hget(&self, key: &str, field: &str) -> RedisCall<Option<String>> {
        self.call(&["HGET", key, field], optional_string)
    }

    /// `HSET key field value`: how many fields were added.
    pub fn hset(&self, key: &str, field: &str, value: &str) -> RedisCall<i64> {
        self.call(&["HSET", key, field, value], integer)
    }

    /// `HINCRBY key field by`: the new value.
    pub fn hincr_by(&self, key: &str, field: &str, by: i64) -> RedisCall<i64> {
        self.call(&["HINCRBY", key, field, &by.to_string()], integer)
    }

    /// `HGETALL key`: field-value pairs, in Redis's order.
    pub fn hgetall(&self, key: &str) -> RedisCall<Vec<(String, String)>> {
        self.call(&["HGETALL", key], pairs)
    }

    /// `LPUSH key value`: the list's new length.
    pub fn lpush(&self, key: &str, value: &str) -> RedisCall<i64> {
        self.call(&["LPUSH", key, value], integer)
    }

    /// `RPOP key`: `None` if the list is empty.
    pub fn rpop(&self, key: &str) -> RedisCall<Option<String>> {
        self.call(&["RPOP", key], optional_string)
    }

    /// `LLEN key`.
    pub fn llen(&self, key: &str) -> RedisCall<i64> {
        self.call(&["LLEN", key], integer)
    }

    /// `SADD key member`: 1 if added, 0 if already there.
    pub fn sadd(&self, key: &str, member: &str) -> RedisCall<i64> {
        self.call(&["SADD", key, member], integer)
    }

    /// `SMEMBERS key`.
    pub fn smembers(&self, key: &str) -> RedisCall<Vec<String>> {
        self.call(&["SMEMBERS", key], strings)
    }

    /// `ZADD key score member`: 1 if added.
    pub fn zadd(&self, key: &str, score: f64, member: &str) -> RedisCall<i64> {
        self.call(&["ZADD", key, &score.to_string(), member], integer)
    }

    /// `ZRANGE key start stop`.
    pub fn zrange(&self, key: &str, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(
            &["ZRANGE", key, &start.to_string(), &stop.to_string()],
            strings,
        )
    }

    /// `PUBLISH channel message`: how many subscribers got it.
    pub fn publish(&self, channel: &str, message: &str) -> RedisCall<i64> {
        self.call(&["PUBLISH", channel, message], integer)
    }

    /// `EVAL script numkeys keys... args...`: the script's reply.
    pub fn eval(&self, script: &str, keys: &[&str], args: &[&str]) -> RedisCall<RespValue> {
        let count = keys.len().to_string();
        let mut all = vec!["EVAL", script, count.as_str()];
        all.extend_from_slice(keys);
        all.extend_from_slice(args);
        self.call(&all, Ok)
    }
}

// ---- reply conversions ------------------------------------------------------------

/// The most of an unexpected reply an error (and its log line) shows.
const SHOWN_REPLY_BYTES: usize = 128;

fn unexpected<T>(expected: &'static str, got: RespValue) -> Result<T, RedisError> {
    // A reply can be megabytes: show its start and its size, never all.
    let mut text = got.to_string();
    if text.len() > SHOWN_REPLY_BYTES {
        let mut end = SHOWN_REPLY_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let total = text.len();
        text.truncate(end);
        text.push_str(&format!("... ({total} bytes)"));
    }
    Err(RedisError::UnexpectedReply {
        expected,
        got: text,
    })
}

fn optional_integer(value: RespValue) -> Result<Option<i64>, RedisError> {
    match value {
        RespValue::Nil => Ok(None),
        RespValue::Integer(i) => Ok(Some(i)),
        other => unexpected("an integer or nil", other),
    }
}

fn optional_strings(value: RespValue) -> Result<Vec<Option<String>>, RedisError> {
    match value {
        RespValue::Array(items) => items
            .into_iter()
            .map(|item| match item {
                RespValue::Nil => Ok(None),
                item => match item.as_string() {
                    Some(s) => Ok(Some(s)),
                    None => unexpected("an array of strings or nils", item),
                },
            })
            .collect(),
        other => unexpected("an array", other),
    }
}

fn ok(value: RespValue) -> Result<(), RedisError> {
    match value {
        RespValue::Simple(_) => Ok(()),
        other => unexpected("OK", other),
    }
}

fn integer(value: RespValue) -> Result<i64, RedisError> {
    match value {
        RespValue::Integer(i) => Ok(i),
        other => unexpected("an integer", other),
    }
}

fn flag(value: RespValue) -> Result<bool, RedisError> {
    integer(value).map(|i| i != 0)
}

fn set_if(value: RespValue) -> Result<bool, RedisError> {
    match value {
        RespValue::Simple(_) => Ok(true),
        RespValue::Nil => Ok(false),
        other => unexpected("OK or nil", other),
    }
}

fn optional_string(value: RespValue) -> Result<Option<String>, RedisError> {
    match value {
        RespValue::Nil => Ok(None),
        RespValue::Bulk(_) | RespValue::Simple(_) => Ok(value.as_string()),
        other => unexpected("a string or nil", other),
    }
}

fn strings(value: RespValue) -> Result<Vec<String>, RedisError> {
    match value {
        RespValue::Array(items) => items
            .into_iter()
            .map(|item| match item.as_string() {
                Some(s) => Ok(s),
                None => unexpected("an array of strings", item),
            })
            .collect(),
        RespValue::Nil => Ok(Vec::new()),
        other => unexpected("an array", other),
    }
}

fn pairs(value: RespValue) -> Result<Vec<(String, String)>, RedisError> {
    let flat = strings(value)?;
    if flat.len() % 2 != 0 {
        return Err(RedisError::UnexpectedReply {
            expected: "field-value pairs",
            got: format!("{} strings", flat.len()),
        });
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(field), Some(value)) = (items.next(), items.next()) {
        out.push((field, value));
    }
    Ok(out)
}

// ---- the future -------------------------------------------------------------------------

enum CallState {
    Ready {
        cluster: String,
        query: Vec<u8>,
    },
    /// Sent; `retry` keeps the command for one re-send after a `NOAUTH`.
    Waiting {
        id: callout::Token,
        retry: Option<(String, Vec<u8>)>,
    },
    Failed(RedisError),
    Done,
}

/// A Redis command, sent when first awaited.
#[must_use = "a Redis command is sent only when awaited"]
pub struct RedisCall<T> {
    state: CallState,
    convert: fn(RespValue) -> Result<T, RedisError>,
    /// The client's init, for Go's single re-init and retry on `NOAUTH`.
    reinit: Option<Rc<InitArgs>>,
    max_reply: usize,
}

impl<T> RedisCall<T> {
    fn finish(&self, reply: callout::RedisResult) -> Result<T, RedisError> {
        let bytes = reply.map_err(|failure| match failure {
            Failure::Status(status) => RedisError::Connection { status },
            Failure::Read(err) => RedisError::Connection { status: err.status },
            Failure::TooLarge { size, limit } => RedisError::ReplyTooLarge { size, limit },
            // Only HTTP answers lack headers.
            Failure::NoResponse => RedisError::Connection {
                status: callout::STATUS_ROOT_DELETED,
            },
        })?;
        match resp::decode(&bytes).map_err(RedisError::BadReply)? {
            RespValue::Error(text) => Err(RedisError::Reply(text)),
            value => (self.convert)(value),
        }
    }
}

impl<T> Future for RedisCall<T> {
    type Output = Result<T, RedisError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::mem::replace(&mut self.state, CallState::Done) {
            CallState::Ready { cluster, query } => {
                let keep = self.reinit.is_some();
                self.send(cluster, query, keep, cx)
            }
            CallState::Waiting { id, retry } => match callout::take_redis(id, cx.waker()) {
                Some(Ok(reply)) if reply.starts_with(b"-NOAUTH") => {
                    match (retry, self.reinit.clone()) {
                        (Some((cluster, query)), Some(reinit)) => {
                            log::warn!("Redis answered NOAUTH: initialising again, retrying once");
                            if let Err(status) = reinit.send(&cluster) {
                                log::warn!("Redis init failed again (status {status})");
                            }
                            self.send(cluster, query, false, cx)
                        }
                        _ => Poll::Ready(self.finish(Ok(reply))),
                    }
                }
                Some(reply) => Poll::Ready(self.finish(reply)),
                None => {
                    self.state = CallState::Waiting { id, retry };
                    Poll::Pending
                }
            },
            CallState::Failed(err) => Poll::Ready(Err(err)),
            CallState::Done => Poll::Pending,
        }
    }
}

impl<T> RedisCall<T> {
    /// Dispatches the command; keeps it for one retry if `keep`.
    fn send(
        &mut self,
        cluster: String,
        query: Vec<u8>,
        keep: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, RedisError>> {
        match callout::dispatch_redis(&cluster, &query, self.max_reply, cx.waker()) {
            Ok(id) => {
                let retry = keep.then_some((cluster, query));
                self.state = CallState::Waiting { id, retry };
                Poll::Pending
            }
            Err(DispatchError::NotInHandler) => Poll::Ready(Err(RedisError::NotInHandler)),
            Err(DispatchError::Refused(status)) => {
                Poll::Ready(Err(RedisError::Dispatch { cluster, status }))
            }
        }
    }
}

impl<T> Drop for RedisCall<T> {
    fn drop(&mut self) {
        if let CallState::Waiting { id, .. } = &self.state {
            callout::forget_redis(*id);
        }
    }
}

type ReplyHandler = fn(u32, u32, u32, usize);

/// The default largest Redis reply read: 16 MiB.
const DEFAULT_MAX_REPLY: usize = 16 << 20;

thread_local! {
    // Set by the first `RedisClient`: the export below then reaches the
    // executor. Plugins without Redis never set it, so the answer path is
    // not linked into their `.wasm`.
    static ON_REPLY: Cell<Option<ReplyHandler>> = const { Cell::new(None) };
}

/// Higress calls this with the reply to a Redis command.
// Exported to the host by its symbol name, not reachable as a Rust path.
#[allow(unreachable_pub)]
#[no_mangle]
pub extern "C" fn proxy_on_redis_call_response(
    plugin_context_id: u32,
    token: u32,
    status: u32,
    response_size: usize,
) {
    if let Some(handler) = ON_REPLY.with(Cell::get) {
        handler(plugin_context_id, token, status, response_size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_std_errors_and_clients_clone() {
        fn std_error<E: std::error::Error + Send + Sync + 'static>() {}
        std_error::<RedisError>();
        std_error::<RespError>();
        std_error::<crate::HttpCallError>();
        std_error::<crate::ConfigError>();
        std_error::<crate::MetricError>();
        let client = RedisClient::new(crate::cluster::StaticIpCluster {
            service_name: "redis".into(),
            port: 6379,
            ..Default::default()
        })
        .max_reply_size(10);
        let clone = client.clone();
        assert_eq!(clone.cluster_name(), client.cluster_name());
        assert_eq!(clone.max_reply, 10);
    }

    #[test]
    fn a_huge_unexpected_reply_is_shown_bounded() {
        let Err(RedisError::UnexpectedReply { got, .. }) =
            integer(RespValue::Bulk(vec![b'x'; 1 << 20]))
        else {
            panic!("an unexpected-reply error");
        };
        assert!(got.len() < 200, "{} bytes", got.len());
        assert!(got.ends_with(" bytes)"), "{got}");
        assert_eq!(
            optional_strings(RespValue::Array(vec![
                RespValue::Nil,
                RespValue::Bulk(b"v".to_vec())
            ])),
            Ok(vec![None, Some("v".into())])
        );
        assert_eq!(optional_integer(RespValue::Nil), Ok(None));
    }

    #[test]
    fn replies_convert_to_the_commands_types() {
        assert_eq!(integer(RespValue::Integer(3)), Ok(3));
        assert!(matches!(
            integer(RespValue::Nil),
            Err(RedisError::UnexpectedReply { .. })
        ));
        assert_eq!(optional_string(RespValue::Nil), Ok(None));
        assert_eq!(
            optional_string(RespValue::Bulk(b"v".to_vec())),
            Ok(Some("v".into()))
        );
        assert_eq!(flag(RespValue::Integer(0)), Ok(false));
        assert_eq!(set_if(RespValue::Simple("OK".into())), Ok(true));
        assert_eq!(set_if(RespValue::Nil), Ok(false));
        assert_eq!(
            pairs(RespValue::Array(vec![
                RespValue::Bulk(b"f".to_vec()),
                RespValue::Bulk(b"v".to_vec())
            ])),
            Ok(vec![("f".into(), "v".into())])
        );
        assert!(pairs(RespValue::Array(vec![RespValue::Bulk(b"f".to_vec())])).is_err());
    }

    #[test]
    fn error_replies_and_missing_replies_are_errors() {
        let client = RedisClient {
            target: Target::Fixed("c".into()),
            max_reply: DEFAULT_MAX_REPLY,
            initialised: RefCell::new(vec!["c".into()]),
            init_args: RefCell::new(None),
        };
        let call = client.incr("k");
        assert_eq!(
            call.finish(Ok(b"-ERR nope\r\n".to_vec())),
            Err(RedisError::Reply("ERR nope".into()))
        );
        assert_eq!(
            call.finish(Err(Failure::Status(1))),
            Err(RedisError::Connection { status: 1 })
        );
        assert_eq!(call.finish(Ok(b":7\r\n".to_vec())), Ok(7));
        assert!(matches!(
            call.finish(Ok(b":7".to_vec())),
            Err(RedisError::BadReply(_))
        ));
    }

    #[test]
    fn commands_before_init_fail_without_a_host_call() {
        let client = RedisClient::new(crate::cluster::StaticIpCluster {
            service_name: "redis".into(),
            port: 6379,
            ..Default::default()
        });
        assert_eq!(client.cluster_name(), "outbound|6379||redis.static");
        let result = futures_lite::future::block_on(client.get("k"));
        assert_eq!(
            result,
            Err(RedisError::NotInitialised {
                cluster: "outbound|6379||redis.static".into()
            })
        );
    }
}
