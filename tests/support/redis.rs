//! A real Redis for the tests of hosts sharing their rooms: one
//! `redis-server` per test ([`rex::testing::RedisServer`]), or a loud skip
//! when it is not installed (a failure in CI, where `.ci/run` installs it).

use rex::testing::{RedisFsync, RedisServer};

use crate::skip::skip;

/// Set to `1` to make the Redis tests fail instead of skipping.
pub const REQUIRE_REDIS: &str = "REX_REQUIRE_REDIS";

/// A Redis of this test's own with `appendfsync always`, or `None` after
/// saying why not.
pub fn redis_or_skip() -> Option<RedisServer> {
    match RedisServer::start_with(RedisFsync::Always) {
        Ok(server) => Some(server),
        Err(e) => {
            skip(&format!("no Redis to test with: {e}"), Some(REQUIRE_REDIS));
            None
        }
    }
}
