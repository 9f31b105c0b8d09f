//! [`RedisCall`]: a Redis command as a future, sent when first awaited,
//! answered through the callout tables; sent once more after a `NOAUTH`
//! reply, with the client's init sent again first (as Go's SDK does).

use super::error::RedisError;
use super::init::InitArgs;
use crate::callout::{self, DispatchError, Failure};
use crate::resp::{self, RespValue};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

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
    /// A command to send (`cluster`, RESP `query`), or one that failed
    /// before it could be sent.
    pub(super) fn new(
        command: Result<(String, Vec<u8>), RedisError>,
        convert: fn(RespValue) -> Result<T, RedisError>,
        reinit: Option<Rc<InitArgs>>,
        max_reply: usize,
    ) -> Self {
        let state = match command {
            Ok((cluster, query)) => CallState::Ready { cluster, query },
            Err(err) => CallState::Failed(err),
        };
        RedisCall {
            state,
            convert,
            reinit,
            max_reply,
        }
    }

    /// The command's result from the host's answer.
    pub(super) fn finish(&self, reply: callout::RedisResult) -> Result<T, RedisError> {
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
