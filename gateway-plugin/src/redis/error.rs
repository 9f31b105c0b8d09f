//! [`RedisError`]: why a Redis command failed.

use crate::resp::RespError;
use std::fmt;

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
    /// [`max_reply_size`](crate::RedisClient::max_reply_size); it was not read.
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
