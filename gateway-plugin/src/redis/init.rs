//! What `RedisClient::init` sends the gateway: the credentials and
//! [`RedisOptions`], kept to send again (a refused init, a `NOAUTH` reply).

use crate::host;

/// What the last `init` asked for.
pub(super) struct InitArgs {
    pub(super) options: Option<RedisOptions>,
    pub(super) username: String,
    pub(super) password: String,
    pub(super) timeout_ms: u32,
}

impl InitArgs {
    /// `proxy_redis_init` for `cluster`; the host's status on failure.
    pub(super) fn send(&self, cluster: &str) -> Result<(), u32> {
        let upstream = match &self.options {
            Some(options) => options.cluster_name(cluster),
            None => cluster.to_string(),
        };
        host::redis_init(&upstream, &self.username, &self.password, self.timeout_ms)
            .map_err(|err| err.status)
    }
}

/// Options of [`RedisClient::init_with`](crate::RedisClient::init_with), as
/// Go's `WithDataBase`, `WithBufferFlushTimeout`,
/// `WithMaxBufferSizeBeforeFlush` and `WithDisableBuffer`.
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
