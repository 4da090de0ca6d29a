//! A host's side of a group of hosts sharing their rooms through Redis
//! (`docs/scaling.md`): codes claimed so no two hosts hand out the same
//! one, which host owns which room (a lease that expires unless renewed),
//! rooms ended for the whole group, and the list of live hosts.
//!
//! ```text
//! PREFIX:{KXQF}:record   the room's record (JSON: name, settings), or
//!                        `ended` (expiring after the gone period)
//! PREFIX:{KXQF}:lease    `<token> <owner's public URL>`, expiring
//! PREFIX:hosts           hash: public URL → until when it is live (ms)
//! ```
//!
//! A lease is taken only when none is held (or when the holder's URL is
//! this host's own: an earlier run of this host, which is gone). Its token
//! is what the room's store writes under, so a host that lost its lease
//! has every write refused (`StoreError::Fenced`).

use std::io;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;
use redis::{Script, Value};
use rex_proto::RoomCode;

use super::storage::RoomRecord;
use crate::server::store::{RedisStore, RoomKeys};

static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease, record. ARGV: token, public URL, lease ms.
local record = redis.call('GET', KEYS[2])
if not record then return {'none'} end
if record == 'ended' then return {'ended'} end
local held = redis.call('GET', KEYS[1])
if held then
  local url = string.match(held, '^%S+ (.*)$')
  if url ~= ARGV[2] then return {'owner', url or '', record} end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
return {'mine', record}
",
    )
});

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease. ARGV: token, lease ms. 1 if renewed, 0 if not held.
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease. ARGV: token.
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
-- KEYS: lease, record, meta, log, sessions, dedupe. ARGV: token, gone ms.
local held = redis.call('GET', KEYS[1])
if not (held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ' ') then
  return 0
end
redis.call('SET', KEYS[2], 'ended', 'PX', ARGV[2])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return 1
",
    )
});

/// What a request for a room found in the group's directory.
#[derive(Debug)]
pub(crate) enum Claim {
    /// No such room.
    Unknown,
    /// It ended (answered `410 gone` until its record expires).
    Ended,
    /// Another host serves it, at this public base URL.
    Owner(String),
    /// This host holds it now, under this lease token; open it with its
    /// record.
    Mine(String, RoomRecord),
}

/// How a shared host is set up: on its builder.
#[derive(Clone, Debug)]
pub(crate) struct SharedConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) public_url: Option<String>,
    pub(crate) lease: Duration,
}

/// See the [module docs](self).
pub(crate) struct Shared {
    conn: ConnectionManager,
    prefix: String,
    /// This host's public base URL (`http://10.0.0.5:7700`): where other
    /// hosts redirect clients of its rooms.
    pub(crate) public_url: String,
    pub(crate) lease: Duration,
    /// Which Redis, for messages (without a password).
    place: String,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn redis_error(place: &str, what: &str, e: redis::RedisError) -> io::Error {
    io::Error::other(format!("{what} in Redis at {place} failed: {e}"))
}

impl Shared {
    /// Connects to the group's Redis. Warns when Redis keeps no
    /// append-only file: a Redis restart would then take back writes
    /// REx already acknowledged.
    pub(crate) async fn connect(config: &SharedConfig, public_url: String) -> io::Result<Shared> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad Redis URL: {e} (expected redis://host:port/)"),
            )
        })?;
        let info = client.get_connection_info();
        let place = format!("{}", info.addr());
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3);
        let mut conn = ConnectionManager::new_with_config(client, manager)
            .await
            .map_err(|e| redis_error(&place, "connecting", e))?;
        let persistence: String = redis::cmd("INFO")
            .arg("persistence")
            .query_async(&mut conn)
            .await
            .map_err(|e| redis_error(&place, "INFO persistence", e))?;
        if !persistence.lines().any(|l| l.trim() == "aof_enabled:1") {
            tracing::warn!(
                redis = %place,
                "Redis keeps no append-only file (appendonly no): if Redis restarts, rooms lose \
                 what was written since its last snapshot, although REx had acknowledged it; \
                 run Redis with `appendonly yes` (see docs/scaling.md)"
            );
        }
        Ok(Shared {
            conn,
            prefix: config.prefix.clone(),
            public_url,
            lease: config.lease,
            place,
        })
    }

    /// How long after a lease was asked for (or a renewal sent) this host
    /// still serves the room: the lease less a tenth, for clocks that run
    /// at slightly different speeds. It lets a room go before Redis lets
    /// any other host take it.
    pub(crate) fn serves_for(&self) -> Duration {
        self.lease - self.lease / 10
    }

    fn keys(&self, code: RoomCode) -> RoomKeys {
        RoomKeys::new(&self.prefix, code)
    }

    fn hosts_key(&self) -> String {
        format!("{}:hosts", self.prefix)
    }

    /// The store of room `code`, writing under lease `token`.
    pub(crate) fn store(&self, code: RoomCode, token: String) -> RedisStore {
        RedisStore::new(
            self.conn.clone(),
            self.keys(code),
            Some(token),
            format!("room {code} in Redis at {}", self.place),
        )
    }

    /// Claims `code` for a new room with its record; `false` if another
    /// room (open or recently ended) has it.
    pub(crate) async fn claim_code(&self, record: &RoomRecord) -> io::Result<bool> {
        let json = serde_json::to_string(record).map_err(io::Error::other)?;
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys(record.code).record)
            .arg(json)
            .arg("NX")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&self.place, "claiming a room code", e))?;
        Ok(set.is_some())
    }

    /// Frees a code claimed for a room that could not be opened.
    pub(crate) async fn unclaim(&self, code: RoomCode) {
        let keys = self.keys(code);
        let result: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(&keys.record)
            .arg(&keys.lease)
            .query_async(&mut self.conn.clone())
            .await;
        if let Err(e) = result {
            tracing::warn!(room = %code, error = %e, "could not free the room's code in Redis");
        }
    }

    /// Finds who serves room `code`, taking its lease if nobody does.
    pub(crate) async fn claim(&self, code: RoomCode) -> io::Result<Claim> {
        let keys = self.keys(code);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let reply: Vec<Value> = TAKE
            .key(&keys.lease)
            .key(&keys.record)
            .arg(&token)
            .arg(&self.public_url)
            .arg(self.lease.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&self.place, "looking up a room", e))?;
        let text = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
                Value::SimpleString(s) => Some(s.clone()),
                _ => None,
            }
        };
        let damaged = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("room {code}'s {what} in Redis at {} is damaged", self.place),
            )
        };
        match text(reply.first()).as_deref() {
            Some("none") => Ok(Claim::Unknown),
            Some("ended") => Ok(Claim::Ended),
            Some("owner") => Ok(Claim::Owner(
                text(reply.get(1)).ok_or_else(|| damaged("lease"))?,
            )),
            Some("mine") => {
                let record = text(reply.get(1)).ok_or_else(|| damaged("record"))?;
                let record: RoomRecord =
                    serde_json::from_str(&record).map_err(|_| damaged("record"))?;
                Ok(Claim::Mine(token, record))
            }
            _ => Err(damaged("lookup")),
        }
    }

    /// Renews the leases of `rooms` (code, token) in one round trip;
    /// `true` for each one still held.
    pub(crate) async fn renew(&self, rooms: &[(RoomCode, String)]) -> io::Result<Vec<bool>> {
        let mut pipe = redis::pipe();
        // A pipeline's EVALSHA does not load its script as a lone call
        // does: load it first (a fresh or restarted Redis knows no script).
        pipe.load_script(&RENEW).ignore();
        for (code, token) in rooms {
            let mut call = RENEW.key(self.keys(*code).lease);
            call.arg(token).arg(self.lease.as_millis() as u64);
            pipe.invoke_script(&call);
        }
        // This host is live for another lease period.
        pipe.cmd("HSET")
            .arg(self.hosts_key())
            .arg(&self.public_url)
            .arg(unix_ms() + self.lease.as_millis() as u64)
            .ignore();
        let held: Vec<i64> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| redis_error(&self.place, "renewing leases", e))?;
        Ok(held.into_iter().map(|h| h == 1).collect())
    }

    /// Gives room `code`'s lease back, if `token` still holds it, so the
    /// next request at any host takes the room over at once.
    pub(crate) async fn release(&self, code: RoomCode, token: &str) {
        let result: redis::RedisResult<i64> = RELEASE
            .key(self.keys(code).lease)
            .arg(token)
            .invoke_async(&mut self.conn.clone())
            .await;
        if let Err(e) = result {
            tracing::warn!(room = %code, error = %e, "could not give the room's lease back");
        }
    }

    /// Ends room `code` for the whole group: its URLs answer `410` at
    /// every host for `gone_for`, and its data is deleted. Only while
    /// `token` holds its lease.
    pub(crate) async fn end(&self, code: RoomCode, token: &str, gone_for: Duration) {
        let keys = self.keys(code);
        let result: redis::RedisResult<i64> = END
            .key(&keys.lease)
            .key(&keys.record)
            .key(&keys.meta)
            .key(&keys.log)
            .key(&keys.sessions)
            .key(&keys.dedupe)
            .arg(token)
            .arg(gone_for.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await;
        match result {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(room = %code, "the room was not ended in Redis: this host no longer holds it")
            }
            Err(e) => tracing::warn!(room = %code, error = %e, "could not end the room in Redis"),
        }
    }

    /// Says that this host is live (`GET /rex/v0/host`'s `peers`).
    pub(crate) async fn heartbeat(&self) -> io::Result<()> {
        self.renew(&[]).await.map(drop)
    }

    /// This host is stopping: it is no longer a peer.
    pub(crate) async fn leave(&self) {
        let _: redis::RedisResult<i64> = redis::cmd("HDEL")
            .arg(self.hosts_key())
            .arg(&self.public_url)
            .query_async(&mut self.conn.clone())
            .await;
    }

    /// The public URLs of the live hosts of the group, this one included.
    pub(crate) async fn peers(&self) -> Vec<String> {
        let all: redis::RedisResult<Vec<(String, u64)>> = redis::cmd("HGETALL")
            .arg(self.hosts_key())
            .query_async(&mut self.conn.clone())
            .await;
        let now = unix_ms();
        let mut live: Vec<String> = all
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, until)| *until > now)
            .map(|(url, _)| url)
            .collect();
        live.sort();
        live
    }
}
