//! `RedisClient` end to end on the test host, against a real `redis-server`
//! (started on a free loopback port, stopped after): the seed's rate-limit
//! example, Redis going away, interleaved increments, and Redis → HTTP →
//! Redis in one handler (the proxy-wasm SDK's stale-context trap: its
//! dispatcher records a callout against the context it last dispatched).

use gateway_plugin_e2e::{plugin_wasm, RedisServer};
use gateway_plugin_test::{Host, Request, Response, Vm};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

const REDIS_CLUSTER: &str = "outbound|6379||redis.static";

fn ratelimit(redis: &RedisServer, qpm: u32) -> Vm {
    Host::load(plugin_wasm("redis-ratelimit"))
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, &redis.address())
        .configure(json!({
            "serviceName": "redis.static",
            "servicePort": 6379,
            "timeout": 500,
            "qpm": qpm,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits out the last seconds of a minute, so a test's requests share one.
fn not_at_a_minutes_end() {
    let second = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if second >= 55 {
        std::thread::sleep(std::time::Duration::from_secs(61 - second));
    }
}

#[test]
fn ratelimit_lets_qpm_requests_through_then_answers_429() {
    let redis = RedisServer::start();
    let vm = ratelimit(&redis, 3);
    not_at_a_minutes_end();

    let mut stamps = Vec::new();
    for left in ["2", "1", "0"] {
        let resp = vm.request(Request::get("/")).unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.upstream_request().is_some());
        assert_eq!(resp.header("CallTimeLeft"), Some(left));
        stamps.push(resp.header("timeStamp").expect("timeStamp").to_string());
    }
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.text(), "Too many requests\n");
    assert_eq!(resp.header("CallTimeLeft"), Some("0"));
    assert_eq!(resp.header("timeStamp"), Some(stamps[0].as_str()));
    assert!(resp.upstream_request().is_none());

    // One key for the minute, counted in Redis, expiring.
    let stamp = &stamps[0];
    assert!(stamps.iter().all(|s| s == stamp), "{stamps:?}");
    let minute: u64 = stamp.parse().unwrap();
    assert_eq!(minute % 60, 0);
    assert_eq!(redis.command(&["GET", stamp]).as_deref(), Some("4"));
    let ttl: i64 = redis
        .command(&["TTL", stamp])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((1..=60).contains(&ttl), "TTL {ttl}");
}

#[test]
fn ratelimit_answers_430_when_redis_goes_away_and_does_not_hang() {
    let mut redis = RedisServer::start();
    let vm = ratelimit(&redis, 100);
    assert_eq!(vm.request(Request::get("/")).unwrap().status(), 200);

    redis.stop();
    let started = std::time::Instant::now();
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 430);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.starts_with("error [redis-ratelimit] call redis error: no Redis reply")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn interleaved_increments_of_a_shared_key_all_count() {
    let redis = RedisServer::start();
    let vm = ratelimit(&redis, 1_000);
    not_at_a_minutes_end();

    let responses = vm
        .requests((0..100).map(|_| Request::get("/")).collect())
        .unwrap();

    assert!(responses.iter().all(|r| r.status() == 200));
    let stamp = responses[0].header("timeStamp").unwrap().to_string();
    assert_eq!(redis.command(&["GET", &stamp]).as_deref(), Some("100"));
    // Every count from 1 to 100 was seen exactly once.
    let mut left: Vec<i64> = responses
        .iter()
        .map(|r| r.header("CallTimeLeft").unwrap().parse().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, (900..1000).collect::<Vec<i64>>());
}

#[test]
fn redis_then_http_then_redis_in_one_handler_across_interleaved_streams() {
    let redis = RedisServer::start();
    let vm = Host::load(plugin_wasm("redis-chain"))
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, &redis.address())
        .cluster_fn("outbound|8080||token.static", |req| {
            let who = req.header("authorization").unwrap_or("anonymous");
            Response::new(200).header("x-token", &format!("token-for-{who}"))
        })
        .configure(serde_json::Value::Null)
        .unwrap_or_else(|e| panic!("{e}"));

    let requests = (0..100)
        .map(|i| Request::get("/").header("authorization", &format!("user-{i}")))
        .collect();
    let responses = vm.requests(requests).unwrap();

    for (i, resp) in responses.iter().enumerate() {
        assert_eq!(resp.status(), 200, "stream {i}: {}", resp.text());
        let upstream = resp.upstream_request().unwrap();
        let token = format!("token-for-user-{i}");
        assert_eq!(upstream.header("x-count"), Some("1"), "stream {i}");
        assert_eq!(
            upstream.header("x-token"),
            Some(token.as_str()),
            "stream {i}"
        );
        assert_eq!(
            upstream.header("x-stored"),
            Some(token.as_str()),
            "stream {i}"
        );
        assert_eq!(
            redis.command(&["GET", &format!("token:user-{i}")]),
            Some(token)
        );
    }
}

#[test]
fn a_command_before_init_or_to_an_unknown_cluster_is_an_error_value() {
    // No redis_cluster on the host: init is refused at configure time.
    let err = Host::load(plugin_wasm("redis-ratelimit"))
        .unwrap()
        .configure(json!({"serviceName": "redis.static", "servicePort": 6379, "qpm": 1}))
        .err()
        .expect("refused");
    assert!(
        err.logs().iter().any(
            |l| l.contains("the gateway refused the Redis call to outbound|6379||redis.static")
        ),
        "{err}"
    );
}

#[test]
fn a_command_sent_at_configure_time_is_a_clear_error() {
    let redis = RedisServer::start();
    let err = Host::load(plugin_wasm("redis-chain"))
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, &redis.address())
        .configure(json!({"commandAtConfigure": true}))
        .err()
        .expect("refused");
    let line = "error [redis-chain] invalid configuration: Redis commands can only be awaited inside a phase handler, not at configure time";
    assert!(err.logs().iter().any(|l| l == line), "{err}");
}

fn chain(redis: &RedisServer, config: serde_json::Value) -> Vm {
    Host::load(plugin_wasm("redis-chain"))
        .unwrap()
        .redis_cluster(REDIS_CLUSTER, &redis.address())
        .cluster_fn("outbound|8080||token.static", |_| {
            Response::new(200).header("x-token", "t")
        })
        .configure(config)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_database_option_reaches_the_gateway_as_go_sends_it() {
    let redis = RedisServer::start();
    let vm = chain(&redis, json!({"database": 3}));
    assert_eq!(
        vm.redis_inits(),
        vec![format!(
            "{REDIS_CLUSTER}?db=3&buffer_flush_timeout=3&max_buffer_size_before_flush=1024"
        )]
    );
    let resp = vm
        .request(Request::get("/").header("authorization", "alice"))
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    // The count landed in database 3, not 0.
    assert_eq!(
        redis.command_in(3, &["GET", "count:alice"]).as_deref(),
        Some("1")
    );
    assert_eq!(
        redis.command(&["GET", "count:alice"]).as_deref(),
        Some("$-1")
    );
    // Without options: the bare cluster name, as before.
    let vm = chain(&redis, json!({}));
    assert_eq!(vm.redis_inits(), vec![REDIS_CLUSTER.to_string()]);
}

#[test]
fn set_nx_with_a_ttl_takes_a_lock_once() {
    let redis = RedisServer::start();
    let vm = chain(&redis, json!({}));
    let lock = || {
        vm.request(Request::get("/lock").header("authorization", "bob"))
            .unwrap()
            .text()
    };
    assert_eq!(lock(), "locked: true");
    assert_eq!(lock(), "locked: false");
    let ttl: i64 = redis
        .command(&["TTL", "lock:bob"])
        .and_then(|t| t.trim_start_matches(':').parse().ok())
        .unwrap();
    assert!((1..=60).contains(&ttl), "TTL {ttl}");
}

#[test]
fn ratelimit_treats_an_impossible_count_as_a_redis_failure() {
    let redis = RedisServer::start();
    let vm = ratelimit(&redis, 10);
    not_at_a_minutes_end();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let key = (now - now % 60).to_string();
    // A hostile (or broken) Redis: the count is far below zero.
    assert_eq!(
        redis
            .command(&["SET", &key, &i64::MIN.to_string()])
            .as_deref(),
        Some("+OK")
    );
    let resp = vm.request(Request::get("/")).unwrap();
    assert_eq!(resp.status(), 430, "{}", resp.text());
    assert!(resp.upstream_request().is_none());
}

#[test]
fn noauth_makes_one_re_init_and_one_retry_as_go_does() {
    let redis = RedisServer::start();
    let vm = chain(&redis, json!({}));
    let incr = || {
        vm.request(Request::get("/").header("authorization", "carol"))
            .unwrap()
    };
    assert_eq!(incr().status(), 200);
    // Redis starts requiring a password the plugin does not have: the
    // host's next connection is refused commands with NOAUTH.
    assert!(redis
        .command(&["CLIENT", "KILL", "TYPE", "normal"])
        .is_some());
    assert_eq!(
        redis
            .command(&["CONFIG", "SET", "requirepass", "pw"])
            .as_deref(),
        Some("+OK")
    );
    let inits_before = vm.redis_inits().len();
    let noauth = (0..3)
        .map(|_| incr())
        .find(|resp| resp.text().contains("NOAUTH"))
        .expect("a NOAUTH answer");
    assert_eq!(noauth.status(), 502, "{}", noauth.text());
    assert_eq!(
        noauth.text(),
        "incr: Redis error: NOAUTH Authentication required."
    );
    // Exactly one re-init and one retry for that command.
    assert_eq!(
        vm.redis_inits().len(),
        inits_before + 1,
        "{:?}",
        vm.redis_inits()
    );
    assert!(
        vm.logs()
            .iter()
            .any(|l| l.contains("Redis answered NOAUTH: initialising again, retrying once")),
        "{:?}",
        vm.logs()
    );
}

#[test]
fn the_typed_commands_of_gos_table_against_a_real_redis() {
    let redis = RedisServer::start();
    let vm = chain(&redis, json!({}));
    let resp = vm
        .request(Request::get("/commands").header("authorization", "dave"))
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(
        resp.json(),
        json!({
            "mget": ["1", "2", null], "decr_by": -4, "persist": true, "linsert": 3,
            "lrange": ["w", "x", "y", "z"], "lindex": "x", "lpop": "w", "lrem": 1,
            "hmget": ["1", null], "hincr": "1.5", "hexists": true, "hdel": 1, "hlen": 1,
            "hkeys": ["f"], "hvals": ["1.5"], "sinter": ["b"], "sdiff": ["a"],
            "sunion": ["a", "b", "c"], "sunion_store": 3, "sinter_store": 1, "sdiff_store": 1,
            "sismember": true, "srem": 1, "scard": 1, "zcount": 2,
            "zrevrank": 1, "zrank": null, "zscore": "2", "zincr": "2",
            "zrevrange": ["two", "one"], "zrem": 1, "zcard": 1,
            "incr_by": 42, "bin_bytes": [0xff, 0, b'k'], "bin_str": null, "strlen": 3,
            "script": [42, "λ", "dave:n", "WRONGTYPE", 4],
        })
    );
}

#[test]
fn a_reply_over_the_clients_limit_is_an_error_and_is_not_read() {
    let redis = RedisServer::start();
    let big = "x".repeat(4096);
    assert_eq!(redis.command(&["SET", "big", &big]).as_deref(), Some("+OK"));
    let get_big = |vm: &Vm| vm.request(Request::get("/big")).unwrap();
    // Within the default limit (16 MiB): read.
    let resp = get_big(&chain(&redis, json!({})));
    assert_eq!((resp.status(), resp.text()), (200, "4096".to_string()));
    // Over a 1 KiB limit: an error naming the sizes.
    let resp = get_big(&chain(&redis, json!({"maxReply": 1024})));
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.text(),
        "get big: Redis reply of 4105 bytes is over the limit of 1024 (RedisClient::max_reply_size)"
    );
}

/// `RedisClient::new(RouteCluster)`: the cluster is the request's route's,
/// read at each command; `init` at configure time (no route then) is sent
/// for each cluster before its first command, with its options.
#[test]
fn a_route_cluster_client_talks_to_each_requests_own_redis() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let (cluster_a, cluster_b) = (
        "outbound|6379||redis-a.static",
        "outbound|6379||redis-b.static",
    );
    let vm = Host::load(plugin_wasm("route-redis"))
        .unwrap()
        .higress_properties()
        .redis_cluster(cluster_a, &a.address())
        .redis_cluster(cluster_b, &b.address())
        .configure(json!({}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        vm.redis_inits(),
        Vec::<String>::new(),
        "no route at configure time"
    );

    let hits = |cluster: &str| {
        let resp = vm.request(Request::get("/").cluster(cluster)).unwrap();
        let upstream = resp.upstream_request().expect("went upstream");
        match upstream.header("x-hits") {
            Some(hits) => hits.to_string(),
            None => panic!("{:?}", upstream.header("x-redis-error")),
        }
    };
    assert_eq!(hits(cluster_a), "1");
    assert_eq!(hits(cluster_a), "2");
    assert_eq!(hits(cluster_b), "1");
    assert_eq!(hits(cluster_a), "3");
    assert_eq!(a.command(&["GET", "hits"]).as_deref(), Some("3"));
    assert_eq!(b.command(&["GET", "hits"]).as_deref(), Some("1"));
    let options = "?db=0&buffer_flush_timeout=3&max_buffer_size_before_flush=1024";
    assert_eq!(
        vm.redis_inits(),
        vec![
            format!("{cluster_a}{options}"),
            format!("{cluster_b}{options}")
        ],
        "one init per cluster, at its first command"
    );

    // A route whose cluster is no Redis: the handler gets the error, naming it.
    let resp = vm
        .request(Request::get("/").cluster("outbound|80||web.static"))
        .unwrap();
    let upstream = resp.upstream_request().expect("went upstream");
    let error = upstream.header("x-redis-error").expect("an error");
    assert!(
        error.starts_with("the gateway refused the Redis call to outbound|80||web.static"),
        "{error}"
    );
}
