//! The conformance suite on a real `redis-server`, and what only a shared
//! store does: fencing.

use std::io::Write;

use redis::aio::ConnectionManager;
use rex_proto::RoomCode;

use super::*;
use crate::testing::RedisServer;

/// A Redis of the test's own, or `None` after saying loudly why not (a
/// failure instead when `REX_REQUIRE_ALL=1`, as in CI).
fn redis_or_skip(test: &str) -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(server) => Some(server),
        Err(e) => {
            if std::env::var("REX_REQUIRE_ALL").is_ok_and(|v| v == "1") {
                panic!("{test} needs Redis and REX_REQUIRE_ALL=1 forbids skipping it: {e}");
            }
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "SKIPPED {test}: {e}");
            None
        }
    }
}

async fn connect(server: &RedisServer) -> ConnectionManager {
    let client = redis::Client::open(server.url()).expect("a Redis URL");
    ConnectionManager::new(client)
        .await
        .expect("connect to the test Redis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms() {
    let Some(server) = redis_or_skip("store::redis::tests::conforms") else {
        return;
    };
    let conn = connect(&server).await;
    let keys = RoomKeys::new("rex-test", RoomCode::new_random());
    super::super::conformance::run(move || {
        let store = RedisStore::new(conn.clone(), keys.clone(), None, "redis test".to_owned());
        async move { Ok::<_, StoreError>(Box::new(store) as Box<dyn Store>) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_without_the_lease_is_refused_and_changes_nothing() {
    let Some(server) = redis_or_skip(
        "store::redis::tests::a_writer_without_the_lease_is_refused_and_changes_nothing",
    ) else {
        return;
    };
    let mut conn = connect(&server).await;
    let keys = RoomKeys::new("rex-test", RoomCode::new_random());
    let _: () = redis::cmd("SET")
        .arg(&keys.lease)
        .arg("tokenA http://a")
        .query_async(&mut conn)
        .await
        .unwrap();
    let a = RedisStore::new(
        conn.clone(),
        keys.clone(),
        Some("tokenA".into()),
        "a".into(),
    );
    let meta = RoomMeta {
        app: "fence".into(),
        epoch: rex_proto::Epoch::new_random(),
        started_unix_ms: 1,
    };
    a.open(meta.clone())
        .await
        .expect("the holder opens the room");
    let batch = |from: u64| Batch {
        events: vec![super::super::conformance::event(from, &[])],
        clock_ms: from,
        ..Batch::default()
    };
    a.commit(batch(0)).await.expect("the holder writes");
    // Another host takes the lease (A's expired while it was paused).
    let _: () = redis::cmd("SET")
        .arg(&keys.lease)
        .arg("tokenB http://b")
        .query_async(&mut conn)
        .await
        .unwrap();
    let refused = a
        .commit(batch(1))
        .await
        .expect_err("A no longer holds the room");
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    // A token that is a prefix of the holder's is no token.
    let prefix = RedisStore::new(conn.clone(), keys.clone(), Some("token".into()), "p".into());
    assert!(matches!(
        prefix.open(meta.clone()).await,
        Err(StoreError::Fenced { .. })
    ));
    let b = RedisStore::new(conn.clone(), keys, Some("tokenB".into()), "b".into());
    let loaded = b.open(meta).await.expect("the new holder loads the room");
    assert_eq!(loaded.head, 1, "A's refused write left nothing behind");
    b.commit(batch(1))
        .await
        .expect("the new holder writes after it");
}
