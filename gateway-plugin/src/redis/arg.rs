//! What a Redis command's argument can be: text, bytes or a number, each
//! sent as the bytes Redis receives, as the redis crate's `ToRedisArgs`
//! does (a number as its decimal text, bytes byte for byte); and a command
//! built from such arguments one by one.

use super::call::RedisCall;
use super::client::RedisClient;
use super::error::RedisError;
use crate::resp::RespValue;
use std::borrow::Cow;
use std::future::IntoFuture;

/// A value a Redis command takes as an argument: `&str`, `String`, bytes
/// (`&[u8]`, `Vec<u8>`, `b"..."`) or a number.
///
/// ```no_run
/// # use gateway_plugin::prelude::*;
/// # async fn f(ctx: &mut HttpContext, redis: &RedisClient) -> Result<(), RedisError> {
/// let user = "alice".to_string();
/// redis.set(&user, 42).await?; // a number, no `to_string()`
/// if let Some(token) = ctx.request_header_bytes("x-token") {
///     redis.set("token", token).await?; // bytes as the client sent them
/// }
/// let n = redis.cmd("INCRBY").arg(&user).arg(5).await?;
/// # Ok(()) }
/// ```
pub trait RedisArg {
    /// The bytes Redis receives.
    fn redis_arg(&self) -> Cow<'_, [u8]>;
}

impl RedisArg for str {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl RedisArg for String {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl RedisArg for [u8] {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> RedisArg for [u8; N] {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl RedisArg for Vec<u8> {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl RedisArg for Cow<'_, str> {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl RedisArg for Cow<'_, [u8]> {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<T: RedisArg + ?Sized> RedisArg for &T {
    fn redis_arg(&self) -> Cow<'_, [u8]> {
        (**self).redis_arg()
    }
}

macro_rules! decimal {
    ($($number:ty),*) => {$(
        impl RedisArg for $number {
            fn redis_arg(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }
        }
    )*};
}

// Floats as Rust prints them (`1.5`, `inf`, `-inf`), which Redis reads.
decimal!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

/// Any command, built argument by argument (the redis crate's `cmd`):
/// `.await` it for the reply. See [`RedisClient::cmd`].
#[must_use = "a command is sent when awaited"]
pub struct RedisCommand<'a> {
    client: &'a RedisClient,
    args: Vec<Vec<u8>>,
}

impl RedisClient {
    /// A command of any arguments, e.g. a script with numbers:
    /// `redis.cmd("EVAL").arg(SCRIPT).arg(1).arg(key).arg(limit).await`;
    /// an error reply is `Err(RedisError::Reply)`. For text only,
    /// [`command`](Self::command) takes a slice.
    pub fn cmd(&self, name: &str) -> RedisCommand<'_> {
        RedisCommand {
            client: self,
            args: vec![name.as_bytes().to_vec()],
        }
    }
}

impl RedisCommand<'_> {
    /// One more argument.
    pub fn arg(mut self, arg: impl RedisArg) -> Self {
        self.args.push(arg.redis_arg().into_owned());
        self
    }

    /// Several more arguments, in order.
    pub fn args<A: RedisArg>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| arg.redis_arg().into_owned()));
        self
    }
}

impl IntoFuture for RedisCommand<'_> {
    type Output = Result<RespValue, RedisError>;
    type IntoFuture = RedisCall<RespValue>;

    fn into_future(self) -> RedisCall<RespValue> {
        self.client.call(&self.args, Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_its_bytes() {
        fn bytes(arg: impl RedisArg) -> Vec<u8> {
            arg.redis_arg().into_owned()
        }
        assert_eq!(bytes("k"), b"k");
        assert_eq!(bytes(String::from("k")), b"k");
        let owned = String::from("k");
        assert_eq!(bytes(&owned), b"k", "a reference");
        assert_eq!(bytes(b"\xff\x00"), b"\xff\x00");
        assert_eq!(bytes(&b"\xff"[..]), b"\xff");
        assert_eq!(bytes(vec![0x80u8]), b"\x80");
        assert_eq!(bytes(Cow::Borrowed("c")), b"c");
        assert_eq!(bytes(-42i64), b"-42");
        assert_eq!(bytes(u64::MAX), b"18446744073709551615");
        assert_eq!(bytes(7usize), b"7");
        assert_eq!(bytes(1.5f64), b"1.5");
        assert_eq!(bytes(f64::NEG_INFINITY), b"-inf");
    }
}
