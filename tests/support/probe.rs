//! The protocol of `rex-durable-probe` (tests/bin/durable_probe.rs), shared
//! with the tests that drive it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a writer sends.
#[derive(Clone, Debug, rex::RexMessage)]
#[rex(app = "durable-probe", events = Ev)]
pub enum Msg {
    /// Note number `seq` of `writer`; notes must come in order from 0.
    Note {
        /// Which writer.
        writer: u32,
        /// Its number.
        seq: u64,
    },
    /// Emits [`Ev::Rang`] after `ms` milliseconds (scheduled work, not
    /// saved: the fencing test makes a paused host write with it).
    Alarm {
        /// When, from now.
        ms: u64,
    },
}

/// What the log holds.
#[derive(Clone, Debug, PartialEq, rex::RexEvent)]
pub enum Ev {
    /// Note `seq` of `writer` was taken.
    Noted {
        /// Which writer.
        writer: u32,
        /// Its number.
        seq: u64,
    },
    /// An alarm rang.
    Rang,
}

/// The app's state: per writer, how many notes it took and their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Writer → (notes taken, sum of their numbers).
    pub writers: BTreeMap<u32, (u64, u64)>,
}

impl Tally {
    /// The number of the next note `writer` must send.
    pub fn next(&self, writer: u32) -> u64 {
        self.writers.get(&writer).map_or(0, |(count, _)| *count)
    }

    /// Takes note `seq` of `writer`.
    pub fn add(&mut self, writer: u32, seq: u64) {
        let entry = self.writers.entry(writer).or_default();
        entry.0 += 1;
        entry.1 += seq;
    }

    /// The tally a log of events adds up to.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Ev>) -> Tally {
        let mut tally = Tally::default();
        for event in events {
            if let Ev::Noted { writer, seq } = event {
                tally.add(*writer, *seq);
            }
        }
        tally
    }
}

/// Retries for as long as a test lets a server die and come back: many
/// attempts, backing off to a quarter second.
pub fn patient() -> rex::RetryPolicy {
    rex::RetryPolicy {
        max_attempts: 100_000,
        initial_backoff: std::time::Duration::from_millis(20),
        max_backoff: std::time::Duration::from_millis(250),
    }
}
