//! The byte layout of every value the disk store writes, pure over bytes.
//!
//! Each value is *sealed*: a CRC-32C of the payload (4 bytes, little
//! endian) and the payload. redb checksums its pages too, but verifies
//! them only when it recovers from a crash; after a clean shutdown it
//! trusts the file. Our own checksum is checked on every read, so a value
//! damaged on disk is refused (with the key it is at) instead of served.
//!
//! All integers are little endian. Decoding never panics: a short or
//! malformed payload is a [`Damage`] the caller turns into
//! [`StoreError::Corrupt`](super::super::StoreError::Corrupt).

use bytes::Bytes;
use rex_proto::{Epoch, ErrorCode, EventIndex, Receipt, SessionId};
use uuid::Uuid;

use super::super::{DedupeRecord, RoomMeta, SavedState, StoredEvent, StoredSession};
use crate::server::dedupe::FirstOutcome;

/// Why a value could not be decoded; the caller adds where it was.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Damage(pub(super) String);

type Decoded<T> = Result<T, Damage>;

/// `payload` with its checksum in front.
pub(super) fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a sealed value, if its checksum matches.
pub(super) fn unseal(value: &[u8]) -> Decoded<&[u8]> {
    let (sum, payload) = value
        .split_first_chunk::<4>()
        .ok_or_else(|| Damage(format!("a value of {} bytes is too short", value.len())))?;
    let stored = u32::from_le_bytes(*sum);
    let actual = crc32c::crc32c(payload);
    if stored != actual {
        return Err(Damage(format!(
            "checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        )));
    }
    Ok(payload)
}

/// Reads a payload front to back.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if self.rest.len() < n {
            return Err(Damage(format!(
                "truncated: {n} bytes expected, {} left",
                self.rest.len()
            )));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Decoded<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Decoded<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Decoded<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Decoded<usize> {
        usize::try_from(self.u32()?).map_err(|_| Damage("a length does not fit".to_owned()))
    }

    fn uuid(&mut self) -> Decoded<Uuid> {
        Ok(Uuid::from_bytes(self.array()?))
    }

    fn string(&mut self) -> Decoded<String> {
        let len = self.len()?;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| Damage("a text field is not UTF-8".to_owned()))
    }

    /// Where the reader is, for slicing a shared buffer.
    fn position(&self, start: &[u8]) -> usize {
        start.len() - self.rest.len()
    }

    fn end(&self) -> Decoded<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Damage(format!(
                "{} unexpected bytes at the end",
                self.rest.len()
            )))
        }
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Every length we write is of a line, a name or a list bounded far
    // below 4 GiB by the server's request limits; saturate rather than
    // wrap so a bug could only make the value undecodable, never wrong.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// The room record: the format first, so a later format is recognised
/// before anything else is decoded.
pub(super) fn encode_room(meta: &RoomMeta, format: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(meta.epoch.0.as_bytes());
    out.extend_from_slice(&meta.started_unix_ms.to_le_bytes());
    put_str(&mut out, &meta.app);
    seal(&out)
}

/// The format a room record was written in (its first field).
pub(super) fn room_format(payload: &[u8]) -> Decoded<u32> {
    Reader::new(payload).u32()
}

/// The room record of a payload in the current format.
pub(super) fn decode_room(payload: &[u8]) -> Decoded<RoomMeta> {
    let mut r = Reader::new(payload);
    let _format = r.u32()?;
    let epoch = Epoch(r.uuid()?);
    let started_unix_ms = r.u64()?;
    let app = r.string()?;
    r.end()?;
    Ok(RoomMeta {
        app,
        epoch,
        started_unix_ms,
    })
}

/// A sealed number (the oldest index, the clock).
pub(super) fn encode_u64(n: u64) -> Vec<u8> {
    seal(&n.to_le_bytes())
}

pub(super) fn decode_u64(payload: &[u8]) -> Decoded<u64> {
    let mut r = Reader::new(payload);
    let n = r.u64()?;
    r.end()?;
    Ok(n)
}

pub(super) fn encode_state(state: &SavedState) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + state.data.len());
    out.extend_from_slice(&state.head.to_le_bytes());
    out.extend_from_slice(&state.data);
    seal(&out)
}

pub(super) fn decode_state(payload: &[u8]) -> Decoded<SavedState> {
    let mut r = Reader::new(payload);
    let head = r.u64()?;
    Ok(SavedState {
        head,
        data: Bytes::copy_from_slice(r.rest),
    })
}

/// A chunk: the events of one batch, back to back after a header of the
/// first index and the count. Each event is its `to` list (a count and
/// 16-byte ids) and its line (a length and the bytes).
pub(super) fn encode_chunk(events: &[StoredEvent]) -> Vec<u8> {
    let size: usize = events
        .iter()
        .map(|e| 8 + 16 * e.to.len() + e.line.len())
        .sum();
    let mut out = Vec::with_capacity(12 + size);
    let first = events.first().map_or(0, |e| e.index);
    out.extend_from_slice(&first.to_le_bytes());
    put_len(&mut out, events.len());
    for event in events {
        put_len(&mut out, event.to.len());
        for id in &event.to {
            out.extend_from_slice(id.0.as_bytes());
        }
        put_len(&mut out, event.line.len());
        out.extend_from_slice(&event.line);
    }
    seal(&out)
}

/// The first index and the count of a sealed chunk, from its header,
/// without decoding its events (for the head and for trimming). The
/// checksum is still verified: a damaged count must not decide what a
/// trim deletes.
pub(super) fn chunk_span(value: &[u8]) -> Decoded<(EventIndex, u64)> {
    let mut r = Reader::new(unseal(value)?);
    let first = r.u64()?;
    let count = u64::from(r.u32()?);
    Ok((first, count))
}

/// The events of a chunk's payload, their lines sliced from one shared
/// copy of it.
pub(super) fn decode_chunk(payload: &[u8]) -> Decoded<Vec<StoredEvent>> {
    let shared = Bytes::copy_from_slice(payload);
    let mut r = Reader::new(payload);
    let first = r.u64()?;
    let count = r.len()?;
    // Each event takes at least 8 bytes, so a damaged count cannot make us
    // reserve more than the payload could hold.
    let mut events = Vec::with_capacity(count.min(payload.len() / 8));
    for i in 0..count as u64 {
        let n = r.len()?;
        let mut to = Vec::with_capacity(n.min(r.rest.len() / 16));
        for _ in 0..n {
            to.push(SessionId(r.uuid()?));
        }
        let len = r.len()?;
        let start = r.position(payload);
        r.take(len)?;
        events.push(StoredEvent {
            index: first
                .checked_add(i)
                .ok_or_else(|| Damage("event index overflows".to_owned()))?,
            to,
            line: shared.slice(start..start + len),
        });
    }
    r.end()?;
    Ok(events)
}

pub(super) fn encode_session(session: &StoredSession) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(session.id.0.as_bytes());
    out.extend_from_slice(&session.token_hash);
    match &session.name {
        None => out.push(0),
        Some(name) => {
            out.push(1);
            put_str(&mut out, name);
        }
    }
    seal(&out)
}

pub(super) fn decode_session(payload: &[u8]) -> Decoded<StoredSession> {
    let mut r = Reader::new(payload);
    let id = SessionId(r.uuid()?);
    let token_hash = r.array()?;
    let name = match r.u8()? {
        0 => None,
        1 => Some(r.string()?),
        other => return Err(Damage(format!("unknown name tag {other}"))),
    };
    r.end()?;
    Ok(StoredSession {
        id,
        token_hash,
        name,
    })
}

pub(super) fn encode_dedupe(record: &DedupeRecord) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(record.session.0.as_bytes());
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&record.id.to_le_bytes());
    match record.outcome {
        FirstOutcome::Handled(receipt) => {
            out.push(0);
            out.extend_from_slice(&receipt.first.to_le_bytes());
            out.extend_from_slice(&receipt.count.to_le_bytes());
        }
        FirstOutcome::Refused(code) => {
            out.push(1);
            put_str(&mut out, code.as_str());
        }
    }
    seal(&out)
}

pub(super) fn decode_dedupe(payload: &[u8]) -> Decoded<DedupeRecord> {
    let mut r = Reader::new(payload);
    let session = SessionId(r.uuid()?);
    let seq = r.u64()?;
    let id = r.u64()?;
    let outcome = match r.u8()? {
        0 => FirstOutcome::Handled(Receipt {
            first: r.u64()?,
            count: r.u64()?,
        }),
        1 => {
            let name = r.string()?;
            // A code written by this version is always one it knows; the
            // format version guards against codes from a later one.
            let code = ErrorCode::ALL
                .iter()
                .copied()
                .find(|c| c.as_str() == name)
                .unwrap_or(ErrorCode::Unrecognized);
            FirstOutcome::Refused(code)
        }
        other => return Err(Damage(format!("unknown outcome tag {other}"))),
    };
    r.end()?;
    Ok(DedupeRecord {
        session,
        seq,
        id,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::conformance::event;

    #[test]
    fn a_chunk_round_trips_and_any_flipped_byte_is_caught() {
        let ada = SessionId::new_random();
        let events = vec![event(5, &[]), event(6, &[ada]), event(7, &[])];
        let sealed = encode_chunk(&events);
        let payload = unseal(&sealed).expect("intact");
        assert_eq!(decode_chunk(payload), Ok(events));
        assert_eq!(chunk_span(&sealed), Ok((5, 3)));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x20;
            assert!(unseal(&bad).is_err(), "a flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn malformed_payloads_are_damage_not_panics() {
        let events = vec![event(0, &[SessionId::new_random()]), event(1, &[])];
        let sealed = encode_chunk(&events);
        let payload = &sealed[4..];
        for cut in 0..payload.len() {
            assert!(decode_chunk(&payload[..cut]).is_err(), "cut at {cut}");
        }
        // A count far larger than the bytes: refused, no huge allocation.
        let mut lying = payload.to_vec();
        lying[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_chunk(&lying).is_err());
        assert!(decode_session(&[1, 2, 3]).is_err());
        assert!(decode_dedupe(&[]).is_err());
        assert!(decode_room(&[0; 5]).is_err());
    }
}
