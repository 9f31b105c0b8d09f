//! The Redis commands of [`RedisClient`], each a [`RedisCall`] whose reply
//! becomes the command's type (`reply.rs`).

use super::call::RedisCall;
use super::client::RedisClient;
use super::reply::{
    flag, integer, ok, optional_integer, optional_string, optional_strings, pairs, set_if, strings,
};
use crate::resp::RespValue;

impl RedisClient {
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
