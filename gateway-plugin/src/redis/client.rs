//! [`RedisClient`]: a client for one cluster, its `init`, and how a command
//! becomes a [`RedisCall`].

use super::call::RedisCall;
use super::error::RedisError;
use super::init::{InitArgs, RedisOptions};
use crate::cluster::Cluster;
use crate::host;
use crate::resp::{self, RespValue};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

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

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClient")
            .field("cluster", &self.cluster_name())
            .field("initialised", &self.initialised.borrow())
            .finish()
    }
}

impl RedisClient {
    /// A client for `cluster`, named as for [`HttpClient`](crate::HttpClient).
    pub fn new(cluster: impl Cluster + 'static) -> Self {
        host::exports::accept_redis_answers();
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

    /// A command for the client's cluster (`init`ed first if it was not).
    pub(super) fn call<T, A: AsRef<[u8]>>(
        &self,
        args: &[A],
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
        let command = state.map(|()| (cluster.to_string(), resp::encode_command(args)));
        let reinit = self.init_args.borrow().clone();
        RedisCall::new(command, convert, reinit, self.max_reply)
    }
}

/// The default largest Redis reply read: 16 MiB.
const DEFAULT_MAX_REPLY: usize = 16 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callout::Failure;
    use crate::resp::RespError;

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
