//! The event log: one ordered, indexed, append-only sequence of encoded
//! events, shared by every reader.
//!
//! Each event is encoded to its wire JSON exactly once, when it is appended,
//! and the bytes are shared (`Bytes` is reference counted) by every reader
//! that sends them. Readers do not get a queue each: a reader keeps its own
//! cursor (the next index it wants) and a `watch` receiver that only says
//! "the head moved". A slow reader therefore costs nothing while it is slow,
//! never blocks the app or other readers, and catches up by reading straight
//! from the log, many events per write.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::{BufMut, Bytes, BytesMut};
use rex_proto::{EncodeError, Epoch, EventIndex, SessionId};

use super::store::StoredEvent;
use tokio::sync::watch;
// Tokio's clock, so `time` and `Context::elapsed` agree with `Context::after`
// (and with paused time in tests).
use tokio::time::Instant;

/// How much of the log a server keeps. By default, the newest
/// [`DEFAULT_RETENTION_BYTES`] of encoded events; the oldest events are
/// dropped once a cap is passed, and a reader that asks for a dropped index
/// is told `410 gone`. [`Retention::unlimited`] keeps everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many events.
    pub max_events: Option<usize>,
    /// Keep at most this many bytes of encoded events.
    pub max_bytes: Option<usize>,
}

/// Default byte cap of the log: 64 MiB. Hours of a busy party game fit
/// in it, and a flood of messages cannot grow the server without bound.
pub const DEFAULT_RETENTION_BYTES: usize = 64 * 1024 * 1024;

impl Default for Retention {
    /// The newest [`DEFAULT_RETENTION_BYTES`] of encoded events.
    fn default() -> Self {
        Retention::max_bytes(DEFAULT_RETENTION_BYTES)
    }
}

impl Retention {
    /// Keep every event for the life of the server: the log grows with
    /// every event, so only for rooms whose clients are trusted.
    pub fn unlimited() -> Self {
        Retention {
            max_events: None,
            max_bytes: None,
        }
    }

    /// Keep at most `n` events.
    pub fn max_events(n: usize) -> Self {
        Retention {
            max_events: Some(n),
            max_bytes: None,
        }
    }

    /// Keep at most `n` bytes of encoded events.
    pub fn max_bytes(n: usize) -> Self {
        Retention {
            max_events: None,
            max_bytes: Some(n),
        }
    }
}

/// Who may see an event.
#[derive(Clone, Debug)]
pub(crate) enum Audience {
    Public,
    /// Only readers authenticated as one of these sessions.
    Private(Box<[SessionId]>),
}

impl Audience {
    fn admits(&self, reader: Option<SessionId>) -> bool {
        match self {
            Audience::Public => true,
            Audience::Private(to) => reader.is_some_and(|r| to.contains(&r)),
        }
    }
}

/// One encoded event. Its index is implied by its position in the log.
#[derive(Debug)]
pub(crate) struct Entry {
    audience: Audience,
    /// Where the kind's name sits in `line` (for SSE's `event:` field):
    /// an offset and a length, so an entry loaded from a store needs no
    /// string of its own.
    kind_at: (u16, u16),
    /// The wire JSON object followed by `\n`: exactly one NDJSON line.
    line: Bytes,
}

/// Writes `text` as a JSON string: as it is when it needs no escaping (a
/// kind always, being letters, digits and `_`), through serde_json
/// otherwise.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        // Writing a string to a Vec cannot fail; keep the line valid anyway.
        out.extend_from_slice(b"\"\"");
    }
}

/// Writes a session id as its JSON string (lower-case, hyphenated: what
/// its `Serialize` writes).
fn write_session(out: &mut Vec<u8>, session: SessionId) {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(session.0.hyphenated().encode_lower(&mut text).as_bytes());
    out.push(b'"');
}

/// Finds the kind's name in an encoded line: the value of its first
/// `"kind"` member, which comes after `index` and `time` and, being a
/// Rust identifier in snake case, needs no escaping.
fn find_kind(line: &[u8]) -> Option<(u16, u16)> {
    const KEY: &[u8] = b"\"kind\":\"";
    let start = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = line[start..].iter().position(|&b| b == b'"')?;
    Some((u16::try_from(start).ok()?, u16::try_from(len).ok()?))
}

impl Entry {
    /// Encodes an event: the envelope, then its payload, which `data`
    /// writes to the end of the line (`false`: the kind carries none).
    /// The members and their order are those of `rex_proto::EventRecord`;
    /// the line is written by hand, straight into one buffer, because it
    /// is written for every event a room appends (issue 19).
    pub(crate) fn encode(
        index: EventIndex,
        time_ms: u64,
        kind: &'static str,
        origin: Option<SessionId>,
        audience: Audience,
        data: impl FnOnce(&mut Vec<u8>) -> Result<bool, EncodeError>,
    ) -> Result<Entry, EncodeError> {
        // Encode into a reused scratch buffer, then keep an exact-size copy:
        // a grown Vec would waste its spare capacity for the life of the
        // log, and `Bytes::from` a Vec whose length is not its capacity
        // allocates an extra shared header.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let out = &mut *scratch;
            out.clear();
            let mut digits = itoa::Buffer::new();
            out.extend_from_slice(b"{\"index\":");
            out.extend_from_slice(digits.format(index).as_bytes());
            out.extend_from_slice(b",\"time\":");
            out.extend_from_slice(digits.format(time_ms).as_bytes());
            out.extend_from_slice(b",\"kind\":");
            let kind_start = out.len() + 1;
            write_str(out, kind);
            let kind_at = if out.len() == kind_start + kind.len() + 1 {
                u16::try_from(kind_start)
                    .ok()
                    .zip(u16::try_from(kind.len()).ok())
            } else {
                // A hand-written kind that needed escaping.
                None
            };
            out.extend_from_slice(b",\"origin\":");
            match origin {
                Some(origin) => write_session(out, origin),
                None => out.extend_from_slice(b"null"),
            }
            if let Audience::Private(to) = &audience {
                out.extend_from_slice(b",\"to\":[");
                for (i, session) in to.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_session(out, *session);
                }
                out.push(b']');
            }
            let before_data = out.len();
            out.extend_from_slice(b",\"data\":");
            if !data(out)? {
                out.truncate(before_data);
            }
            out.extend_from_slice(b"}\n");
            let line = Bytes::copy_from_slice(out);
            let kind_at = kind_at.or_else(|| find_kind(&line)).unwrap_or((0, 0));
            Ok(Entry {
                audience,
                kind_at,
                line,
            })
        })
    }

    /// An entry as a store keeps it.
    pub(crate) fn to_stored(&self, index: EventIndex) -> StoredEvent {
        StoredEvent {
            index,
            to: match &self.audience {
                Audience::Public => Vec::new(),
                Audience::Private(to) => to.to_vec(),
            },
            line: self.line.clone(),
        }
    }

    /// An entry loaded from a store. A line that is not one NDJSON line
    /// with a kind is refused: the store handed back something REx never
    /// wrote.
    pub(crate) fn from_stored(stored: StoredEvent) -> Result<Entry, String> {
        if stored.line.last() != Some(&b'\n') {
            return Err(format!("event {} is not a complete line", stored.index));
        }
        let kind_at =
            find_kind(&stored.line).ok_or_else(|| format!("event {} has no kind", stored.index))?;
        let audience = if stored.to.is_empty() {
            Audience::Public
        } else {
            Audience::Private(stored.to.into_boxed_slice())
        };
        Ok(Entry {
            audience,
            kind_at,
            line: stored.line,
        })
    }

    fn kind(&self) -> &[u8] {
        let (start, len) = (usize::from(self.kind_at.0), usize::from(self.kind_at.1));
        self.line.get(start..start + len).unwrap_or_default()
    }

    fn json(&self) -> &[u8] {
        &self.line[..self.line.len() - 1]
    }
}

/// How a stream frames events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
    /// `text/event-stream`: `id:`, `event:`, `data:` per event.
    Sse,
}

impl Framing {
    pub(crate) fn heartbeat(self) -> Bytes {
        match self {
            Framing::Ndjson => Bytes::from_static(b"\n"),
            Framing::Sse => Bytes::from_static(b":\n\n"),
        }
    }
}

/// What readers watch: the head, and whether streams should end (the
/// server is shutting down). One channel for both, so a waiting stream
/// registers one waker, not two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Signal {
    /// The index the next event will get.
    pub(crate) head: EventIndex,
    /// Send what is left up to `head`, then end.
    pub(crate) ending: bool,
}

/// The reader asked for an index the log no longer has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Behind;

#[derive(Debug)]
struct State {
    /// Index of `entries[0]`.
    oldest: EventIndex,
    entries: VecDeque<Entry>,
    /// Sum of `line.len()` over `entries`, for byte retention.
    bytes: usize,
}

impl State {
    fn head(&self) -> EventIndex {
        self.oldest + self.entries.len() as u64
    }
}

/// A snapshot of the log's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) oldest: EventIndex,
    pub(crate) head: EventIndex,
}

#[derive(Debug)]
pub(crate) struct EventLog {
    epoch: Epoch,
    /// The log clock read `base_ms` at `started`: a restored log continues
    /// its clock from where the stored room left it.
    started: Instant,
    base_ms: u64,
    retention: Retention,
    state: RwLock<State>,
    /// Carries the head (and the shutdown flag); readers wait on it.
    /// Sending never blocks.
    signal: watch::Sender<Signal>,
}

/// Upper bound on the bytes one read hands a reader, so a reader far behind
/// catches up in large writes without building one huge buffer.
const MAX_BATCH_BYTES: usize = 256 * 1024;

impl EventLog {
    pub(crate) fn new(retention: Retention) -> Arc<EventLog> {
        EventLog::restored(retention, Epoch::new_random(), 0, 0, VecDeque::new())
    }

    /// A log that continues a stored one: its epoch, its clock reading
    /// `clock_ms` now, and its retained entries from `oldest` on.
    pub(crate) fn restored(
        retention: Retention,
        epoch: Epoch,
        clock_ms: u64,
        oldest: EventIndex,
        entries: VecDeque<Entry>,
    ) -> Arc<EventLog> {
        let bytes = entries.iter().map(|e| e.line.len()).sum();
        let state = State {
            oldest,
            entries,
            bytes,
        };
        let (signal, _) = watch::channel(Signal {
            head: state.head(),
            ending: false,
        });
        Arc::new(EventLog {
            epoch,
            started: Instant::now(),
            base_ms: clock_ms,
            retention,
            state: RwLock::new(state),
            signal,
        })
    }

    pub(crate) fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Milliseconds since the epoch began.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_ms.saturating_add(elapsed)
    }

    pub(crate) fn bounds(&self) -> Bounds {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Bounds {
            oldest: state.oldest,
            head: state.head(),
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Signal> {
        self.signal.subscribe()
    }

    /// Tells every open stream to send what is left and end.
    pub(crate) fn end_streams(&self) {
        self.signal.send_modify(|s| s.ending = true);
    }

    /// Appends entries that were encoded for indexes `head..head + n`, then
    /// wakes readers. Only the app actor appends, so the indexes it encoded
    /// are still the right ones.
    pub(crate) fn append(&self, batch: Vec<Entry>) {
        if batch.is_empty() {
            return;
        }
        let head = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            for entry in batch {
                state.bytes += entry.line.len();
                state.entries.push_back(entry);
            }
            self.enforce_retention(&mut state);
            state.head()
        };
        // Waking costs a lock per slot of the channel's notifier even when
        // nobody waits; with no stream open (a room whose players only
        // send) the head is updated without it. A stream that subscribes
        // afterwards reads the head before it waits, so it misses nothing.
        self.signal.send_if_modified(|s| {
            s.head = head;
            self.signal.receiver_count() > 0
        });
    }

    fn enforce_retention(&self, state: &mut State) {
        let max_events = self.retention.max_events.unwrap_or(usize::MAX);
        let max_bytes = self.retention.max_bytes.unwrap_or(usize::MAX);
        while state.entries.len() > max_events || state.bytes > max_bytes {
            let Some(dropped) = state.entries.pop_front() else {
                break;
            };
            state.bytes -= dropped.line.len();
            state.oldest += 1;
        }
    }

    /// Every retained event from `cursor` on, whoever it is for, as its
    /// wire JSON (for `rex::testing`, which shows the whole log).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn lines_from(&self, cursor: EventIndex) -> Vec<Bytes> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let skip = usize::try_from(cursor.saturating_sub(state.oldest)).unwrap_or(usize::MAX);
        state
            .entries
            .iter()
            .skip(skip)
            .map(|e| e.line.slice(..e.line.len() - 1))
            .collect()
    }

    /// Reads the events from `cursor` on that `reader` may see, framed, into
    /// one chunk (empty if none of them is for this reader). Returns the
    /// chunk and the new cursor.
    pub(crate) fn read(
        &self,
        cursor: EventIndex,
        reader: Option<SessionId>,
        framing: Framing,
    ) -> Result<(Bytes, EventIndex), Behind> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        if cursor < state.oldest {
            return Err(Behind);
        }
        let start = usize::try_from(cursor - state.oldest).unwrap_or(usize::MAX);
        let visible = state
            .entries
            .iter()
            .enumerate()
            .skip(start)
            .map(|(i, e)| (state.oldest + i as u64, e));
        let mut next = cursor;
        let mut single: Option<Bytes> = None;
        let mut buf: Option<BytesMut> = None;
        for (index, entry) in visible {
            let size = buf.as_ref().map_or(0, |b| b.len());
            if size >= MAX_BATCH_BYTES {
                break;
            }
            next = index + 1;
            if !entry.audience.admits(reader) {
                continue;
            }
            // The common case, one new NDJSON event, shares the log's bytes
            // without copying; batches are concatenated into one write.
            if framing == Framing::Ndjson && single.is_none() && buf.is_none() {
                single = Some(entry.line.clone());
                continue;
            }
            let out = buf.get_or_insert_with(|| {
                let mut b = BytesMut::with_capacity(4096);
                if let Some(first) = single.take() {
                    b.put_slice(&first);
                }
                b
            });
            write_framed(out, index, entry, framing);
        }
        let chunk = match (single, buf) {
            (_, Some(buf)) => buf.freeze(),
            (Some(one), None) => one,
            (None, None) => Bytes::new(),
        };
        Ok((chunk, next))
    }
}

fn write_framed(out: &mut BytesMut, index: EventIndex, entry: &Entry, framing: Framing) {
    match framing {
        Framing::Ndjson => out.put_slice(&entry.line),
        Framing::Sse => {
            // serde_json never writes a raw newline inside compact JSON, so
            // the whole object fits on one `data:` line.
            // `BytesMut` is a `fmt::Write` that cannot fail; no temporary
            // string for the index.
            let _ = write!(out, "id: {index}\nevent: ");
            out.put_slice(entry.kind());
            out.put_slice(b"\ndata: ");
            out.put_slice(entry.json());
            out.put_slice(b"\n\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(log: &EventLog, index: u64, audience: Audience) -> Entry {
        let data = serde_json::json!({"n": index});
        Entry::encode(index, log.now_ms(), "tick", None, audience, |out| {
            EncodeError::write("tick", &data, out).map(|()| true)
        })
        .unwrap()
    }

    fn lines(chunk: &Bytes) -> Vec<serde_json::Value> {
        chunk
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn readers_see_public_events_and_only_their_private_ones() {
        let log = EventLog::new(Retention::unlimited());
        let (alice, bob) = (SessionId::new_random(), SessionId::new_random());
        log.append(vec![
            entry(&log, 0, Audience::Public),
            entry(&log, 1, Audience::Private(vec![alice].into())),
            entry(&log, 2, Audience::Public),
        ]);
        let indexes = |reader| {
            let (chunk, next) = log.read(0, reader, Framing::Ndjson).unwrap();
            assert_eq!(next, 3);
            lines(&chunk)
                .iter()
                .map(|v| v["index"].as_u64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(indexes(Some(alice)), [0, 1, 2]);
        assert_eq!(indexes(Some(bob)), [0, 2]);
        assert_eq!(indexes(None), [0, 2]);
    }

    #[test]
    fn retention_drops_oldest_and_reports_behind() {
        let log = EventLog::new(Retention::max_events(2));
        log.append((0..5).map(|i| entry(&log, i, Audience::Public)).collect());
        assert_eq!(log.bounds(), Bounds { oldest: 3, head: 5 });
        assert_eq!(log.read(2, None, Framing::Ndjson), Err(Behind));
        let (chunk, next) = log.read(3, None, Framing::Ndjson).unwrap();
        assert_eq!(lines(&chunk).len(), 2);
        assert_eq!(next, 5);
    }

    #[test]
    fn byte_retention_keeps_the_log_under_the_cap() {
        let log = EventLog::new(Retention::max_bytes(200));
        log.append((0..10).map(|i| entry(&log, i, Audience::Public)).collect());
        let state = log.state.read().unwrap();
        assert!(state.bytes <= 200 && !state.entries.is_empty());
        assert_eq!(state.head(), 10);
    }

    #[test]
    fn the_default_keeps_64_mib_and_unlimited_keeps_everything() {
        assert_eq!(Retention::default().max_bytes, Some(64 * 1024 * 1024));
        assert_eq!(Retention::default().max_events, None);
        assert_eq!(
            Retention::unlimited(),
            Retention {
                max_events: None,
                max_bytes: None
            }
        );
    }

    #[test]
    fn entries_round_trip_through_the_store_form() {
        let log = EventLog::new(Retention::unlimited());
        let alice = SessionId::new_random();
        let private = entry(&log, 4, Audience::Private(vec![alice].into()));
        let stored = private.to_stored(4);
        assert_eq!(stored.to, [alice]);
        let back = Entry::from_stored(stored).unwrap();
        assert_eq!(back.kind(), b"tick");
        assert_eq!(back.line, private.line);
        assert!(!back.audience.admits(None) && back.audience.admits(Some(alice)));
        let torn = StoredEvent {
            index: 5,
            to: vec![],
            line: Bytes::from_static(b"{\"index\":5,\"kind\":\"ti"),
        };
        assert!(Entry::from_stored(torn).is_err());
    }

    #[test]
    fn a_restored_log_continues_its_head_and_clock() {
        let log = EventLog::new(Retention::unlimited());
        let entries: VecDeque<Entry> = (7..10).map(|i| entry(&log, i, Audience::Public)).collect();
        let epoch = Epoch::new_random();
        let restored = EventLog::restored(Retention::unlimited(), epoch, 60_000, 7, entries);
        assert_eq!(
            restored.bounds(),
            Bounds {
                oldest: 7,
                head: 10
            }
        );
        assert_eq!(restored.epoch(), epoch);
        assert!(restored.now_ms() >= 60_000);
        assert_eq!(restored.subscribe().borrow().head, 10);
        assert_eq!(restored.read(6, None, Framing::Ndjson), Err(Behind));
    }

    #[test]
    fn a_stream_that_subscribes_after_a_quiet_append_sees_the_head() {
        let log = EventLog::new(Retention::unlimited());
        // Nobody subscribed: the head moves without a wake-up.
        log.append(vec![entry(&log, 0, Audience::Public)]);
        let mut rx = log.subscribe();
        assert_eq!(rx.borrow_and_update().head, 1);
        // Now somebody waits: the next append wakes it.
        log.append(vec![entry(&log, 1, Audience::Public)]);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().head, 2);
    }

    #[test]
    fn sse_framing_carries_id_event_and_data() {
        let log = EventLog::new(Retention::unlimited());
        log.append(vec![entry(&log, 0, Audience::Public)]);
        let (chunk, _) = log.read(0, None, Framing::Sse).unwrap();
        let text = std::str::from_utf8(&chunk).unwrap();
        assert!(
            text.starts_with("id: 0\nevent: tick\ndata: {\"index\":0,"),
            "{text}"
        );
        assert!(text.ends_with("}\n\n"));
    }

    #[test]
    fn a_reader_far_behind_gets_bounded_batches() {
        let log = EventLog::new(Retention::unlimited());
        log.append(
            (0..20_000)
                .map(|i| entry(&log, i, Audience::Public))
                .collect(),
        );
        let (mut cursor, mut seen) = (0, 0);
        while cursor < 20_000 {
            let (chunk, next) = log.read(cursor, None, Framing::Ndjson).unwrap();
            assert!(chunk.len() <= MAX_BATCH_BYTES + 128);
            for (i, v) in lines(&chunk).iter().enumerate() {
                assert_eq!(v["index"].as_u64().unwrap(), cursor + i as u64);
            }
            seen += lines(&chunk).len() as u64;
            cursor = next;
        }
        assert_eq!(seen, 20_000);
    }
}
