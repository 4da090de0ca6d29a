//! Where a reader may resume: the rule that answers a `GET /events` with
//! a stream from an index, or with `410 gone` and why. Pure, so the rule
//! is tested on its own (`docs/protocol.md` §5).

use rex_proto::{Epoch, EventIndex};

use crate::server::log::Bounds;

/// What a reader asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Asked {
    /// `?start=`: the first index it wants (default 0).
    pub(crate) start: Option<EventIndex>,
    /// `Last-Event-ID`: the last index it has (an `EventSource`
    /// reconnecting); wins over `start`.
    pub(crate) last_event_id: Option<EventIndex>,
    /// `?epoch=`: the epoch its indexes belong to.
    pub(crate) epoch: Option<Epoch>,
}

/// Where the stream starts, or why the reader must resync (the reason of
/// the `410 gone`, which also carries the epoch and bounds).
pub(crate) fn resume(asked: Asked, epoch: Epoch, bounds: Bounds) -> Result<EventIndex, String> {
    let start = match asked.last_event_id {
        Some(last) => last.saturating_add(1),
        None => asked.start.unwrap_or(0),
    };
    if let Some(theirs) = asked.epoch {
        if theirs != epoch {
            return Err(format!(
                "epoch {theirs} is over (the server restarted with a new log, epoch {epoch}); resync from `oldest`"
            ));
        }
    }
    if start < bounds.oldest {
        return Err(format!(
            "event {start} is no longer retained; the oldest is {}; resync from there",
            bounds.oldest
        ));
    }
    if start > bounds.head {
        return Err(format!(
            "event {start} is beyond the head ({}) of epoch {epoch}: that log no longer exists; resync",
            bounds.head
        ));
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(oldest: EventIndex, head: EventIndex) -> Bounds {
        Bounds { oldest, head }
    }

    fn ours() -> Epoch {
        "00000000-0000-4000-8000-000000000001".parse().unwrap()
    }

    fn asked(start: Option<u64>, last: Option<u64>, epoch: Option<Epoch>) -> Asked {
        Asked {
            start,
            last_event_id: last,
            epoch,
        }
    }

    #[test]
    fn a_reader_starts_anywhere_from_the_oldest_to_the_head() {
        let b = bounds(10, 20);
        assert_eq!(resume(asked(Some(10), None, None), ours(), b), Ok(10));
        assert_eq!(
            resume(asked(Some(15), None, Some(ours())), ours(), b),
            Ok(15)
        );
        // The head itself: the stream waits for the next event.
        assert_eq!(resume(asked(Some(20), None, None), ours(), b), Ok(20));
        // Nothing asked: from 0, which an untrimmed log still has.
        assert_eq!(resume(Asked::default(), ours(), bounds(0, 0)), Ok(0));
    }

    #[test]
    fn last_event_id_resumes_after_it_and_wins_over_start() {
        let b = bounds(0, 20);
        assert_eq!(resume(asked(Some(3), Some(7), None), ours(), b), Ok(8));
        assert_eq!(resume(asked(None, Some(19), None), ours(), b), Ok(20));
        // The last index possible does not overflow: beyond the head.
        assert!(resume(asked(None, Some(u64::MAX), None), ours(), b).is_err());
    }

    #[test]
    fn trimmed_indexes_and_indexes_beyond_the_head_are_gone() {
        let b = bounds(10, 20);
        let trimmed = resume(asked(Some(9), None, None), ours(), b).unwrap_err();
        assert!(trimmed.contains("no longer retained"), "{trimmed}");
        let beyond = resume(asked(Some(21), None, None), ours(), b).unwrap_err();
        assert!(beyond.contains("beyond the head"), "{beyond}");
        // Default start 0 in a trimmed log.
        assert!(resume(Asked::default(), ours(), b).is_err());
    }

    #[test]
    fn another_epoch_is_gone_whatever_the_index() {
        let theirs: Epoch = "00000000-0000-4000-8000-000000000002".parse().unwrap();
        let over = resume(asked(Some(12), None, Some(theirs)), ours(), bounds(10, 20)).unwrap_err();
        assert!(over.contains("is over"), "{over}");
    }
}
