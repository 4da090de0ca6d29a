//! The dedupe window of one session: the first outcome of each of its last
//! [`DEDUPE_WINDOW`] message ids, so a retried message is answered with
//! that outcome instead of being handled twice.
//!
//! Kept compact because every session has one and a session chooses what
//! fills it: a receipt is two numbers, and a refusal is kept as its error
//! code only, not the app's reason text (which the app may make as long as
//! it likes). A retry of a refused id therefore gets the same status and
//! code with a reason that says it is a repeat. The window is a ring of
//! fixed-size slots, searched linearly: at most 256 × 24 bytes = 6 KiB a
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
    outcome: Compact,
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
#[derive(Debug, Default)]
pub(crate) struct Dedupe {
    /// At most [`DEDUPE_WINDOW`] slots; grows as ids arrive, so a session
    /// that sends few messages costs little.
    slots: Vec<Slot>,
    /// Once full, the slot to overwrite next (the oldest).
    oldest: usize,
}

impl Dedupe {
    /// The first outcome of `id`, if it is in the window.
    pub(crate) fn get(&self, id: u64) -> Option<FirstOutcome> {
        let slot = self.slots.iter().find(|s| s.id == id)?;
        Some(match slot.outcome {
            Compact::Handled { first, count } => FirstOutcome::Handled(Receipt {
                first,
                count: u64::from(count),
            }),
            Compact::Refused(code) => FirstOutcome::Refused(code),
        })
    }

    /// Remembers the outcome of `id`, forgetting the oldest id once the
    /// window is full. An id already remembered keeps its first outcome.
    pub(crate) fn record(&mut self, id: u64, outcome: FirstOutcome) {
        if self.get(id).is_some() {
            return;
        }
        let outcome = match outcome {
            FirstOutcome::Handled(r) => Compact::Handled {
                first: r.first,
                count: u32::try_from(r.count).unwrap_or(u32::MAX),
            },
            FirstOutcome::Refused(code) => Compact::Refused(code),
        };
        let slot = Slot { id, outcome };
        if self.slots.len() < DEDUPE_WINDOW {
            self.slots.push(slot);
        } else {
            self.slots[self.oldest] = slot;
            self.oldest = (self.oldest + 1) % DEDUPE_WINDOW;
        }
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

    /// The defect this fixes: 1,100 refused ids with long reasons cost a
    /// session 162 KB. Now the worst case is a few KiB, whatever the ids and
    /// reasons.
    #[test]
    fn the_worst_case_is_a_few_kib() {
        assert!(std::mem::size_of::<Slot>() <= 24);
        let mut d = Dedupe::default();
        for id in 0..100_000u64 {
            let outcome = if id % 2 == 0 {
                FirstOutcome::Refused(ErrorCode::Rejected)
            } else {
                handled(id)
            };
            d.record(id.wrapping_mul(0x9E37_79B9_7F4A_7C15), outcome);
        }
        assert!(d.heap_bytes() <= 6 * 1024, "{} bytes", d.heap_bytes());
        assert!(std::mem::size_of::<Dedupe>() <= 32);
    }
}
