//! How a room's parts are written in Redis values, and read back; a value
//! that does not decode is damage, reported with where it is.

use bytes::Bytes;
use redis::Value;
use rex_proto::{Epoch, ErrorCode, EventIndex, Receipt, SessionId};

use crate::server::dedupe::FirstOutcome;
use crate::server::store::{
    DedupeRecord, Loaded, RoomMeta, SavedState, StoreError, StoredEvent, StoredSession,
    FORMAT_VERSION,
};

fn damaged(place: &str, position: impl Into<String>, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        place: place.to_owned(),
        position: position.into(),
        detail: detail.into(),
    }
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// A hash's fields and values, as bytes.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The field/value pairs of a hash reply (RESP2 flat array or RESP3 map).
fn pairs(place: &str, what: &str, value: Value) -> Result<Pairs, StoreError> {
    let bad = || damaged(place, what, "not a hash");
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Map(items) => items
            .into_iter()
            .map(|(k, v)| Some((bytes(k)?, bytes(v)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(bad());
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                out.push((bytes(k).ok_or_else(bad)?, bytes(v).ok_or_else(bad)?));
            }
            Ok(out)
        }
        _ => Err(bad()),
    }
}

fn text<'a>(place: &str, what: &str, raw: &'a [u8]) -> Result<&'a str, StoreError> {
    std::str::from_utf8(raw).map_err(|_| damaged(place, what, "not UTF-8"))
}

fn number(place: &str, what: &str, raw: &[u8]) -> Result<u64, StoreError> {
    text(place, what, raw)?
        .parse()
        .map_err(|_| damaged(place, what, "not a number"))
}

/// A room's meta, sessions and dedupe records (its events are read
/// separately).
pub(super) fn decode_loaded(
    place: &str,
    meta: Value,
    sessions: Value,
    dedupe: Value,
    created: bool,
) -> Result<Loaded, StoreError> {
    let mut fields = std::collections::HashMap::new();
    for (k, v) in pairs(place, "the room's meta", meta)? {
        fields.insert(String::from_utf8_lossy(&k).into_owned(), v);
    }
    let get = |name: &str| {
        fields
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| damaged(place, "the room's meta", format!("no `{name}`")))
    };
    let format = number(place, "the meta's format", get("format")?)?;
    if format != u64::from(FORMAT_VERSION) {
        return Err(StoreError::Format {
            place: place.to_owned(),
            found: u32::try_from(format).unwrap_or(u32::MAX),
        });
    }
    let epoch: Epoch = text(place, "the meta's epoch", get("epoch")?)?
        .parse()
        .map_err(|_| damaged(place, "the meta's epoch", "not an epoch"))?;
    let head = number(place, "the meta's head", get("head")?)?;
    let state = match fields.get("state") {
        None => None,
        Some(data) => Some(SavedState {
            head: number(place, "the meta's state_head", get("state_head")?)?,
            data: Bytes::copy_from_slice(data),
        }),
    };
    let mut loaded = Loaded {
        meta: RoomMeta {
            app: text(place, "the meta's app", get("app")?)?.to_owned(),
            epoch,
            started_unix_ms: number(place, "the meta's start", get("started")?)?,
        },
        created,
        oldest: number(place, "the meta's oldest", get("oldest")?)?,
        head,
        events: Vec::new(),
        sessions: Vec::new(),
        dedupe: Vec::new(),
        state,
        clock_ms: number(place, "the meta's clock", get("clock")?)?,
    };
    for (id, value) in pairs(place, "the sessions", sessions)? {
        loaded.sessions.push(decode_session(place, &id, &value)?);
    }
    for (field, value) in pairs(place, "the message outcomes", dedupe)? {
        loaded.dedupe.push(decode_dedupe(place, &field, &value)?);
    }
    Ok(loaded)
}

/// A session's value: the token's hash, then `0`, or `1` and the name.
pub(super) fn encode_session(session: &StoredSession) -> Vec<u8> {
    let mut out = session.token_hash.to_vec();
    match &session.name {
        None => out.push(0),
        Some(name) => {
            out.push(1);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out
}

fn decode_session(place: &str, id: &[u8], value: &[u8]) -> Result<StoredSession, StoreError> {
    let position = format!("session {}", String::from_utf8_lossy(id));
    let id: SessionId = text(place, &position, id)?
        .parse()
        .map_err(|_| damaged(place, &position, "not a session id"))?;
    if value.len() < 33 {
        return Err(damaged(place, &position, "too short"));
    }
    let (hash, rest) = value.split_at(32);
    let name = match rest {
        [0] => None,
        [1, name @ ..] => Some(text(place, &position, name)?.to_owned()),
        _ => return Err(damaged(place, &position, "bad name")),
    };
    Ok(StoredSession {
        id,
        token_hash: hash
            .try_into()
            .map_err(|_| damaged(place, &position, "bad hash"))?,
        name,
    })
}

/// A dedupe record's field (`<session>:<slot>`) and value
/// (`<seq> <id> h <first> <count>` or `<seq> <id> r <code>`).
pub(super) fn encode_dedupe(record: &DedupeRecord) -> (String, String) {
    let slot = record.seq % crate::server::dedupe::DEDUPE_WINDOW as u64;
    let outcome = match record.outcome {
        FirstOutcome::Handled(receipt) => format!("h {} {}", receipt.first, receipt.count),
        FirstOutcome::Refused(code) => format!("r {}", code.as_str()),
    };
    (
        format!("{}:{slot}", record.session),
        format!("{} {} {outcome}", record.seq, record.id),
    )
}

fn decode_dedupe(place: &str, field: &[u8], value: &[u8]) -> Result<DedupeRecord, StoreError> {
    let position = format!("message outcome {}", String::from_utf8_lossy(field));
    let bad = |detail: &str| damaged(place, &position, detail);
    let field = text(place, &position, field)?;
    let session: SessionId = field
        .split(':')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no session id"))?;
    let value = text(place, &position, value)?;
    let parts: Vec<&str> = value.split(' ').collect();
    let num = |i: usize| -> Result<u64, StoreError> {
        parts
            .get(i)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad("bad number"))
    };
    let outcome = match parts.get(2) {
        Some(&"h") => FirstOutcome::Handled(Receipt {
            first: num(3)?,
            count: num(4)?,
        }),
        Some(&"r") => {
            let name = parts.get(3).ok_or_else(|| bad("no code"))?;
            let code = ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == *name)
                .unwrap_or(ErrorCode::Unrecognized);
            FirstOutcome::Refused(code)
        }
        _ => return Err(bad("unknown outcome")),
    };
    Ok(DedupeRecord {
        session,
        seq: num(0)?,
        id: num(1)?,
        outcome,
    })
}

/// The events of an `XRANGE` reply.
pub(super) fn entries(place: &str, reply: Value) -> Result<Vec<StoredEvent>, StoreError> {
    let Value::Array(items) = reply else {
        return Err(damaged(place, "the log", "not a list of entries"));
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Array(mut parts) = item else {
                return Err(damaged(place, "the log", "an entry is not a pair"));
            };
            if parts.len() != 2 {
                return Err(damaged(place, "the log", "an entry is not a pair"));
            }
            let fields = parts.pop().unwrap_or(Value::Nil);
            let id = bytes(parts.pop().unwrap_or(Value::Nil))
                .ok_or_else(|| damaged(place, "the log", "an entry has no id"))?;
            let id = text(place, "the log", &id)?.to_owned();
            let position = format!("log entry {id}");
            let index: EventIndex = id
                .strip_suffix("-1")
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| damaged(place, &position, "not an event's id"))?;
            let mut to = None;
            let mut line = None;
            for (k, v) in pairs(place, &position, fields)? {
                match k.as_slice() {
                    b"to" => to = Some(v),
                    b"line" => line = Some(v),
                    _ => {}
                }
            }
            let to = to.ok_or_else(|| damaged(place, &position, "no `to`"))?;
            let to = text(place, &position, &to)?;
            let to = if to.is_empty() {
                Vec::new()
            } else {
                to.split(',')
                    .map(|s| s.parse())
                    .collect::<Result<Vec<SessionId>, _>>()
                    .map_err(|_| damaged(place, &position, "a reader is not a session id"))?
            };
            let line = line.ok_or_else(|| damaged(place, &position, "no `line`"))?;
            Ok(StoredEvent {
                index,
                to,
                line: Bytes::from(line),
            })
        })
        .collect()
}
