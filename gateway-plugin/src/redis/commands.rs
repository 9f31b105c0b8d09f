//! The Redis commands of [`RedisClient`], each a [`RedisCall`] whose reply
//! becomes the command's type (`reply.rs`).

use super::arg::RedisArg;
use super::call::RedisCall;
use super::client::RedisClient;
use super::reply::{
    flag, integer, ok, optional_integer, optional_string, optional_strings, pairs, set_if, strings,
};
use crate::resp::RespValue;

/// A command's arguments, each as the bytes Redis receives.
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        &[$(RedisArg::redis_arg(&$arg)),*]
    };
}

impl RedisClient {
    /// Any command, e.g. `client.command(&["SET", "k", "v", "EX", "10"])`;
    /// an error reply is `Err(RedisError::Reply)`.
    pub fn command(&self, args: &[&str]) -> RedisCall<RespValue> {
        self.call(args, Ok)
    }

    /// `GET key`: `None` if the key does not exist.
    pub fn get(&self, key: impl RedisArg) -> RedisCall<Option<String>> {
        self.call(args!["GET", key], optional_string)
    }

    /// `SET key value`.
    pub fn set(&self, key: impl RedisArg, value: impl RedisArg) -> RedisCall<()> {
        self.call(args!["SET", key, value], ok)
    }

    /// `SET key value EX seconds`.
    pub fn set_ex(&self, key: impl RedisArg, value: impl RedisArg, seconds: u64) -> RedisCall<()> {
        self.call(args!["SET", key, value, "EX", seconds], ok)
    }

    /// `SET key value NX` (as Higress's `SetNX`): `true` if the key was
    /// set, `false` if it existed.
    pub fn set_nx(&self, key: impl RedisArg, value: impl RedisArg) -> RedisCall<bool> {
        self.call(args!["SET", key, value, "NX"], set_if)
    }

    /// `SET key value NX EX seconds` (Higress's `SetNX` with a TTL): `true`
    /// if the key was set, `false` if it existed.
    pub fn set_nx_ex(
        &self,
        key: impl RedisArg,
        value: impl RedisArg,
        seconds: u64,
    ) -> RedisCall<bool> {
        self.call(args!["SET", key, value, "NX", "EX", seconds], set_if)
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
    pub fn decr_by(&self, key: impl RedisArg, by: i64) -> RedisCall<i64> {
        self.call(args!["DECRBY", key, by], integer)
    }

    /// `PERSIST key`: `true` if a timeout was removed.
    pub fn persist(&self, key: impl RedisArg) -> RedisCall<bool> {
        self.call(args!["PERSIST", key], flag)
    }

    /// `RPUSH key value`: the list's new length.
    pub fn rpush(&self, key: impl RedisArg, value: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["RPUSH", key, value], integer)
    }

    /// `LPOP key`: `None` if the list is empty.
    pub fn lpop(&self, key: impl RedisArg) -> RedisCall<Option<String>> {
        self.call(args!["LPOP", key], optional_string)
    }

    /// `LINDEX key index`.
    pub fn lindex(&self, key: impl RedisArg, index: i64) -> RedisCall<Option<String>> {
        self.call(args!["LINDEX", key, index], optional_string)
    }

    /// `LRANGE key start stop`.
    pub fn lrange(&self, key: impl RedisArg, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(args!["LRANGE", key, start, stop], strings)
    }

    /// `LREM key count value`: how many were removed.
    pub fn lrem(&self, key: impl RedisArg, count: i64, value: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["LREM", key, count, value], integer)
    }

    /// `HEXISTS key field`.
    pub fn hexists(&self, key: impl RedisArg, field: impl RedisArg) -> RedisCall<bool> {
        self.call(args!["HEXISTS", key, field], flag)
    }

    /// `HDEL key field`: how many fields were removed.
    pub fn hdel(&self, key: impl RedisArg, field: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["HDEL", key, field], integer)
    }

    /// `HLEN key`.
    pub fn hlen(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["HLEN", key], integer)
    }

    /// `HMGET key field...`: each value or `None`.
    pub fn hmget(&self, key: impl RedisArg, fields: &[&str]) -> RedisCall<Vec<Option<String>>> {
        let mut args = vec![b"HMGET".redis_arg(), key.redis_arg()];
        args.extend(fields.iter().map(|field| field.redis_arg()));
        self.call(&args, optional_strings)
    }

    /// `HKEYS key`.
    pub fn hkeys(&self, key: impl RedisArg) -> RedisCall<Vec<String>> {
        self.call(args!["HKEYS", key], strings)
    }

    /// `HVALS key`.
    pub fn hvals(&self, key: impl RedisArg) -> RedisCall<Vec<String>> {
        self.call(args!["HVALS", key], strings)
    }

    /// `SCARD key`.
    pub fn scard(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["SCARD", key], integer)
    }

    /// `SREM key member`: 1 if removed.
    pub fn srem(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["SREM", key, member], integer)
    }

    /// `SISMEMBER key member`.
    pub fn sismember(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<bool> {
        self.call(args!["SISMEMBER", key, member], flag)
    }

    /// `ZCARD key`.
    pub fn zcard(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["ZCARD", key], integer)
    }

    /// `ZSCORE key member`: `None` if not a member.
    pub fn zscore(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<Option<String>> {
        self.call(args!["ZSCORE", key, member], optional_string)
    }

    /// `ZINCRBY key by member`: the new score.
    pub fn zincr_by(
        &self,
        key: impl RedisArg,
        by: f64,
        member: impl RedisArg,
    ) -> RedisCall<Option<String>> {
        self.call(args!["ZINCRBY", key, by, member], optional_string)
    }

    /// `ZRANK key member`: `None` if not a member.
    pub fn zrank(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<Option<i64>> {
        self.call(args!["ZRANK", key, member], optional_integer)
    }

    /// `ZREM key member`: 1 if removed.
    pub fn zrem(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["ZREM", key, member], integer)
    }

    /// `LINSERT key BEFORE pivot value`: the list's new length (-1: no pivot).
    pub fn linsert_before(
        &self,
        key: impl RedisArg,
        pivot: impl RedisArg,
        value: impl RedisArg,
    ) -> RedisCall<i64> {
        self.call(args!["LINSERT", key, "BEFORE", pivot, value], integer)
    }

    /// `LINSERT key AFTER pivot value`: the list's new length (-1: no pivot).
    pub fn linsert_after(
        &self,
        key: impl RedisArg,
        pivot: impl RedisArg,
        value: impl RedisArg,
    ) -> RedisCall<i64> {
        self.call(args!["LINSERT", key, "AFTER", pivot, value], integer)
    }

    /// `HINCRBYFLOAT key field by`: the new value, as Redis writes it.
    pub fn hincr_by_float(
        &self,
        key: impl RedisArg,
        field: impl RedisArg,
        by: f64,
    ) -> RedisCall<Option<String>> {
        self.call(args!["HINCRBYFLOAT", key, field, by], optional_string)
    }

    /// `HMSET key field value ...`.
    pub fn hmset(&self, key: impl RedisArg, pairs: &[(&str, &str)]) -> RedisCall<()> {
        let mut args = vec![b"HMSET".redis_arg(), key.redis_arg()];
        for (field, value) in pairs {
            args.push(field.redis_arg());
            args.push(value.redis_arg());
        }
        self.call(&args, ok)
    }

    fn set_op(&self, command: &'static str, keys: &[&str]) -> RedisCall<Vec<String>> {
        let mut args = vec![command];
        args.extend_from_slice(keys);
        self.call(&args, strings)
    }

    fn set_op_store(
        &self,
        command: &'static str,
        dest: impl RedisArg,
        keys: &[&str],
    ) -> RedisCall<i64> {
        let mut args = vec![command.redis_arg(), dest.redis_arg()];
        args.extend(keys.iter().map(|key| key.redis_arg()));
        self.call(&args, integer)
    }

    /// `SDIFF key...`.
    pub fn sdiff(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SDIFF", keys)
    }

    /// `SDIFFSTORE destination key...`: the size of the stored set.
    pub fn sdiff_store(&self, destination: impl RedisArg, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SDIFFSTORE", destination, keys)
    }

    /// `SINTER key...`.
    pub fn sinter(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SINTER", keys)
    }

    /// `SINTERSTORE destination key...`: the size of the stored set.
    pub fn sinter_store(&self, destination: impl RedisArg, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SINTERSTORE", destination, keys)
    }

    /// `SUNION key...`.
    pub fn sunion(&self, keys: &[&str]) -> RedisCall<Vec<String>> {
        self.set_op("SUNION", keys)
    }

    /// `SUNIONSTORE destination key...`: the size of the stored set.
    pub fn sunion_store(&self, destination: impl RedisArg, keys: &[&str]) -> RedisCall<i64> {
        self.set_op_store("SUNIONSTORE", destination, keys)
    }

    /// `ZCOUNT key min max` (`min`/`max` as Redis takes them: `-inf`, `(5`, ...).
    pub fn zcount(
        &self,
        key: impl RedisArg,
        min: impl RedisArg,
        max: impl RedisArg,
    ) -> RedisCall<i64> {
        self.call(args!["ZCOUNT", key, min, max], integer)
    }

    /// `ZREVRANK key member`: `None` if not a member.
    pub fn zrevrank(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<Option<i64>> {
        self.call(args!["ZREVRANK", key, member], optional_integer)
    }

    /// `ZREVRANGE key start stop`.
    pub fn zrevrange(&self, key: impl RedisArg, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(args!["ZREVRANGE", key, start, stop], strings)
    }

    /// `INCR key`: the new value.
    pub fn incr(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["INCR", key], integer)
    }

    /// `INCRBY key by`: the new value.
    pub fn incr_by(&self, key: impl RedisArg, by: i64) -> RedisCall<i64> {
        self.call(args!["INCRBY", key, by], integer)
    }

    /// `DECR key`: the new value.
    pub fn decr(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["DECR", key], integer)
    }

    /// `EXPIRE key seconds`: `true` if the key exists (and now expires).
    pub fn expire(&self, key: impl RedisArg, seconds: u64) -> RedisCall<bool> {
        self.call(args!["EXPIRE", key, seconds], flag)
    }

    /// `DEL key`: how many keys were removed.
    pub fn del(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["DEL", key], integer)
    }

    /// `EXISTS key`: 1 if it exists, else 0.
    pub fn exists(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["EXISTS", key], integer)
    }

    /// `HGET key field`.
    pub fn hget(&self, key: impl RedisArg, field: impl RedisArg) -> RedisCall<Option<String>> {
        self.call(args!["HGET", key, field], optional_string)
    }

    /// `HSET key field value`: how many fields were added.
    pub fn hset(
        &self,
        key: impl RedisArg,
        field: impl RedisArg,
        value: impl RedisArg,
    ) -> RedisCall<i64> {
        self.call(args!["HSET", key, field, value], integer)
    }

    /// `HINCRBY key field by`: the new value.
    pub fn hincr_by(&self, key: impl RedisArg, field: impl RedisArg, by: i64) -> RedisCall<i64> {
        self.call(args!["HINCRBY", key, field, by], integer)
    }

    /// `HGETALL key`: field-value pairs, in Redis's order.
    pub fn hgetall(&self, key: impl RedisArg) -> RedisCall<Vec<(String, String)>> {
        self.call(args!["HGETALL", key], pairs)
    }

    /// `LPUSH key value`: the list's new length.
    pub fn lpush(&self, key: impl RedisArg, value: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["LPUSH", key, value], integer)
    }

    /// `RPOP key`: `None` if the list is empty.
    pub fn rpop(&self, key: impl RedisArg) -> RedisCall<Option<String>> {
        self.call(args!["RPOP", key], optional_string)
    }

    /// `LLEN key`.
    pub fn llen(&self, key: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["LLEN", key], integer)
    }

    /// `SADD key member`: 1 if added, 0 if already there.
    pub fn sadd(&self, key: impl RedisArg, member: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["SADD", key, member], integer)
    }

    /// `SMEMBERS key`.
    pub fn smembers(&self, key: impl RedisArg) -> RedisCall<Vec<String>> {
        self.call(args!["SMEMBERS", key], strings)
    }

    /// `ZADD key score member`: 1 if added.
    pub fn zadd(&self, key: impl RedisArg, score: f64, member: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["ZADD", key, score, member], integer)
    }

    /// `ZRANGE key start stop`.
    pub fn zrange(&self, key: impl RedisArg, start: i64, stop: i64) -> RedisCall<Vec<String>> {
        self.call(args!["ZRANGE", key, start, stop], strings)
    }

    /// `PUBLISH channel message`: how many subscribers got it.
    pub fn publish(&self, channel: impl RedisArg, message: impl RedisArg) -> RedisCall<i64> {
        self.call(args!["PUBLISH", channel, message], integer)
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
