//! The dedupe window of one session: the first outcome of each of its last
//! [`DEDUPE_WINDOW`] message ids, so a retried message is answered with
//! that outcome instead of being handled twice.
//!
//! Kept compact because every session has one and a session chooses what
//! fills it: a receipt is two numbers, and a refusal is kept as its error
//! code only, not the app's reason text (which the app may make as long as
//! it likes). A retry of a refused id therefore gets the same status and
//! code with a reason that says it is a repeat. The window is a ring of
//! fixed-size slots, searched linearly: at most 256 × 32 bytes = 8 KiB a
//! session, and a scan of 256 ids is cheaper than the request that asks.

use rex_proto::{ErrorCode, Receipt};

/// How many message ids per session the server remembers.
///
/// A client retries a message for seconds (the typed client's default
/// policy: about 12 s); for the window to forget a message still being
/// retried, the session would have to send 256 others meanwhile, more than
/// 20 a second, which the default message rate does not allow. A real game
/// sends a few a second at most.
pub(crate) const DEDUPE_WINDOW: usize = 256;

/// What a retried id is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstOutcome {
    /// The message was handled; this is its receipt.
    Handled(Receipt),
    /// The message was refused with this code.
    Refused(ErrorCode),
}

/// The reason a retry of a refused id is answered with: the first
/// reason is not kept, so this one says what happened instead.
pub(crate) fn repeat_reason(id: u64, code: ErrorCode) -> String {
    format!(
        "message id {id} was already sent and refused ({code}) the first time; it was not \
         handled again (the server keeps the first outcome's code, not its reason); send a \
         new message with a new id to try again"
    )
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    id: u64,
    seq: u64,
    outcome: Compact,
}

/// The id of a slot not filled yet (only while a window is being restored
/// out of order); with `seq == u64::MAX` it marks the slot empty.
const EMPTY_ID: u64 = u64::MAX;

impl Slot {
    const EMPTY: Slot = Slot {
        id: EMPTY_ID,
        seq: u64::MAX,
        outcome: Compact::Refused(ErrorCode::Internal),
    };
}

/// A [`FirstOutcome`] in 16 bytes.
#[derive(Clone, Copy, Debug)]
enum Compact {
    /// `count` fits in 32 bits: one call appending 4 billion events would
    /// need hundreds of gigabytes of log first.
    Handled {
        first: u64,
        count: u32,
    },
    Refused(ErrorCode),
}

/// The window of one session.
///
/// Record number `seq` (counting the session's recorded ids from 0) sits in
/// slot `seq % DEDUPE_WINDOW`, replacing record `seq - DEDUPE_WINDOW`: the
/// same rule a store keys its copy by, so a window rebuilt from the store
/// overwrites the same records as the one it replaces.
#[derive(Debug, Default)]
pub(crate) struct Dedupe {
    /// At most [`DEDUPE_WINDOW`] slots; grows as ids arrive, so a session
    /// that sends few messages costs little.
    slots: Vec<Slot>,
    /// The `seq` of the next record.
    next_seq: u64,
}

impl Dedupe {
    /// The first outcome of `id`, if it is in the window.
    pub(crate) fn get(&self, id: u64) -> Option<FirstOutcome> {
        let slot = self
            .slots
            .iter()
            .find(|s| s.id == id && s.seq != u64::MAX)?;
        Some(match slot.outcome {
            Compact::Handled { first, count } => FirstOutcome::Handled(Receipt {
                first,
                count: u64::from(count),
            }),
            Compact::Refused(code) => FirstOutcome::Refused(code),
        })
    }

    /// Remembers the outcome of `id`, forgetting the oldest id once the
    /// window is full, and returns the record's `seq`. An id already
    /// remembered keeps its first outcome (and `None` is returned: there is
    /// nothing new to store).
    pub(crate) fn record(&mut self, id: u64, outcome: FirstOutcome) -> Option<u64> {
        if self.get(id).is_some() {
            return None;
        }
        let seq = self.next_seq;
        self.put(seq, id, outcome);
        Some(seq)
    }

    /// Puts back a record loaded from a store. Records may come in any
    /// order; of two with the same slot, the later `seq` wins.
    pub(crate) fn restore(&mut self, seq: u64, id: u64, outcome: FirstOutcome) {
        let slot = Self::slot_of(seq);
        if let Some(held) = self.seq_at(slot) {
            if held > seq {
                return;
            }
        }
        self.put(seq, id, outcome);
    }

    fn slot_of(seq: u64) -> usize {
        (seq % DEDUPE_WINDOW as u64) as usize
    }

    /// The `seq` of the record in `slot`, if the slot is filled.
    fn seq_at(&self, slot: usize) -> Option<u64> {
        let filled = self.slots.get(slot)?;
        if filled.id == EMPTY_ID && filled.seq == u64::MAX {
            return None;
        }
        Some(filled.seq)
    }

    fn put(&mut self, seq: u64, id: u64, outcome: FirstOutcome) {
        let outcome = match outcome {
            FirstOutcome::Handled(r) => Compact::Handled {
                first: r.first,
                count: u32::try_from(r.count).unwrap_or(u32::MAX),
            },
            FirstOutcome::Refused(code) => Compact::Refused(code),
        };
        let slot = Self::slot_of(seq);
        while self.slots.len() <= slot {
            self.slots.push(Slot::EMPTY);
        }
        self.slots[slot] = Slot { id, seq, outcome };
        self.next_seq = self.next_seq.max(seq + 1);
    }

    /// Bytes this window holds on the heap.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handled(first: u64) -> FirstOutcome {
        FirstOutcome::Handled(Receipt { first, count: 2 })
    }

    #[test]
    fn remembers_the_first_outcome_of_each_id() {
        let mut d = Dedupe::default();
        d.record(7, handled(3));
        d.record(8, FirstOutcome::Refused(ErrorCode::Rejected));
        d.record(7, handled(99));
        assert_eq!(d.get(7), Some(handled(3)));
        assert_eq!(d.get(8), Some(FirstOutcome::Refused(ErrorCode::Rejected)));
        assert_eq!(d.get(9), None);
    }

    #[test]
    fn forgets_the_oldest_past_the_window() {
        let mut d = Dedupe::default();
        let n = DEDUPE_WINDOW as u64 + 10;
        for id in 0..n {
            d.record(id * 1_000_003, handled(id));
        }
        for id in 0..10 {
            assert_eq!(d.get(id * 1_000_003), None, "id {id} is forgotten");
        }
        for id in 10..n {
            assert_eq!(d.get(id * 1_000_003), Some(handled(id)), "id {id}");
        }
    }

    /// A window rebuilt from its records, in any order, answers as the
    /// original and overwrites the same records next.
    #[test]
    fn a_restored_window_is_the_same_window() {
        let mut original = Dedupe::default();
        let mut records = Vec::new();
        for id in 0..(DEDUPE_WINDOW as u64 + 40) {
            let seq = original.record(id * 7, handled(id)).unwrap();
            records.push((seq, id * 7, handled(id)));
        }
        // What a store keeps: the latest record of each slot.
        let kept: Vec<_> = records[records.len() - DEDUPE_WINDOW..].to_vec();
        let mut restored = Dedupe::default();
        for &(seq, id, outcome) in kept.iter().rev() {
            restored.restore(seq, id, outcome);
        }
        for id in 0..(DEDUPE_WINDOW as u64 + 40) {
            assert_eq!(restored.get(id * 7), original.get(id * 7), "id {id}");
        }
        assert_eq!(
            restored.record(1, handled(1)),
            original.record(1, handled(1))
        );
        assert_eq!(
            restored.get(40 * 7),
            None,
            "the next record replaced the oldest"
        );
        assert_eq!(original.get(40 * 7), None);
    }

    /// The defect this fixes: 1,100 refused ids with long reasons cost a
    /// session 162 KB. Now the worst case is a few KiB, whatever the ids and
    /// reasons.
    #[test]
    fn the_worst_case_is_a_few_kib() {
        assert!(std::mem::size_of::<Slot>() <= 32);
        let mut d = Dedupe::default();
        for id in 0..100_000u64 {
            let outcome = if id % 2 == 0 {
                FirstOutcome::Refused(ErrorCode::Rejected)
            } else {
                handled(id)
            };
            d.record(id.wrapping_mul(0x9E37_79B9_7F4A_7C15), outcome);
        }
        assert!(d.heap_bytes() <= 8 * 1024, "{} bytes", d.heap_bytes());
        assert!(std::mem::size_of::<Dedupe>() <= 32);
    }
}
