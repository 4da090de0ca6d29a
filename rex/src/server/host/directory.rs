//! Which rooms a host has, by code: rooms being opened, open rooms, rooms
//! that ended recently (answered `410 gone`) and rooms whose stored data
//! could not be loaded. Codes are random and never handed out again while
//! any of these holds them. No I/O: the host's site does that.

use std::collections::HashMap;

use rex_proto::RoomCode;
use tokio::time::Instant;

/// How many random codes are tried before a host says it has none left:
/// with the host's cap far below the 65,536 codes, a free one is found
/// within a few tries.
const CODE_TRIES: usize = 256;

/// What a code names.
#[derive(Debug)]
pub(crate) enum Entry<V> {
    /// Being opened: the code is taken, the room does not answer yet.
    Opening,
    /// An open room.
    Live(V),
    /// A room that ended; `410 gone` until `until`, then forgotten.
    Ended { until: Instant },
    /// A stored room that could not be loaded, and why; kept so its code
    /// (and its data) is not reused.
    Failed(String),
}

/// What a lookup found.
#[derive(Debug, PartialEq)]
pub(crate) enum Found<'a, V> {
    Live(&'a V),
    Opening,
    Ended,
    Failed(&'a str),
    Unknown,
}

/// Why no room could be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The host holds its limit of rooms.
    Rooms(usize),
    /// No free code was found (the code space is nearly used up).
    Codes,
}

#[derive(Debug)]
pub(crate) struct Directory<V> {
    entries: HashMap<RoomCode, Entry<V>>,
    /// Rooms opening or open: what the room limit counts.
    open: usize,
}

impl<V> Default for Directory<V> {
    fn default() -> Self {
        Directory {
            entries: HashMap::new(),
            open: 0,
        }
    }
}

impl<V> Directory<V> {
    /// Takes a free code for a new room, within the limit of `max` rooms.
    pub(crate) fn reserve(
        &mut self,
        max: usize,
        mut random: impl FnMut() -> RoomCode,
    ) -> Result<RoomCode, Full> {
        if self.open >= max {
            return Err(Full::Rooms(max));
        }
        for _ in 0..CODE_TRIES {
            let code = random();
            if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(code) {
                slot.insert(Entry::Opening);
                self.open += 1;
                return Ok(code);
            }
        }
        Err(Full::Codes)
    }

    /// Takes `code` for a room being restored from storage (the limit does
    /// not apply: the rooms existed before). `false` if it is taken.
    pub(crate) fn reserve_code(&mut self, code: RoomCode) -> bool {
        match self.entries.entry(code) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Entry::Opening);
                self.open += 1;
                true
            }
        }
    }

    /// The room of a reserved code is open.
    pub(crate) fn fill(&mut self, code: RoomCode, room: V) {
        if let Some(entry @ Entry::Opening) = self.entries.get_mut(&code) {
            *entry = Entry::Live(room);
        }
    }

    /// The room of a reserved code could not be opened: the code is free
    /// again.
    pub(crate) fn cancel(&mut self, code: RoomCode) {
        if matches!(self.entries.get(&code), Some(Entry::Opening)) {
            self.entries.remove(&code);
            self.open -= 1;
        }
    }

    /// The room of a reserved code could not be loaded: the code stays
    /// taken and answers with `why`.
    pub(crate) fn fail(&mut self, code: RoomCode, why: String) {
        if let Some(entry @ Entry::Opening) = self.entries.get_mut(&code) {
            *entry = Entry::Failed(why);
            self.open -= 1;
        }
    }

    /// Ends an open room: it answers `410 gone` until `until`. Returns the
    /// room, to be shut down; `None` if it was not open.
    pub(crate) fn end(&mut self, code: RoomCode, until: Instant) -> Option<V> {
        let entry = self.entries.get_mut(&code)?;
        if !matches!(entry, Entry::Live(_)) {
            return None;
        }
        self.open -= 1;
        match std::mem::replace(entry, Entry::Ended { until }) {
            Entry::Live(room) => Some(room),
            _ => None,
        }
    }

    /// Lets go of an open room without ending it (another host of the
    /// group serves it now): its code is unknown here again. Returns the
    /// room, to be shut down; `None` if it was not open.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn release(&mut self, code: RoomCode) -> Option<V> {
        if !matches!(self.entries.get(&code), Some(Entry::Live(_))) {
            return None;
        }
        self.open -= 1;
        match self.entries.remove(&code) {
            Some(Entry::Live(room)) => Some(room),
            _ => None,
        }
    }

    /// Forgets the rooms that ended before `now` (their codes answer `404`
    /// and may be handed out again); returns when the next one will be.
    pub(crate) fn forget_ended(&mut self, now: Instant) -> Option<Instant> {
        self.entries
            .retain(|_, entry| !matches!(entry, Entry::Ended { until } if *until <= now));
        self.entries
            .values()
            .filter_map(|entry| match entry {
                Entry::Ended { until } => Some(*until),
                _ => None,
            })
            .min()
    }

    pub(crate) fn get(&self, code: &RoomCode) -> Found<'_, V> {
        match self.entries.get(code) {
            None => Found::Unknown,
            Some(Entry::Opening) => Found::Opening,
            Some(Entry::Live(room)) => Found::Live(room),
            Some(Entry::Ended { .. }) => Found::Ended,
            Some(Entry::Failed(why)) => Found::Failed(why),
        }
    }

    /// Every open room.
    pub(crate) fn live(&self) -> impl Iterator<Item = (&RoomCode, &V)> {
        self.entries.iter().filter_map(|(code, entry)| match entry {
            Entry::Live(room) => Some((code, room)),
            _ => None,
        })
    }

    /// How many rooms are open or being opened.
    pub(crate) fn open(&self) -> usize {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn code(text: &str) -> RoomCode {
        text.parse().unwrap()
    }

    /// Hands out the given codes in turn.
    fn codes(list: &[&str]) -> impl FnMut() -> RoomCode {
        let list: Vec<RoomCode> = list.iter().map(|c| code(c)).collect();
        let mut i = 0;
        move || {
            i += 1;
            list[(i - 1) % list.len()]
        }
    }

    #[test]
    fn a_code_is_not_handed_out_twice_while_it_names_a_room() {
        let mut dir = Directory::<u32>::default();
        let now = Instant::now();
        let first = dir.reserve(10, codes(&["KXQF"])).unwrap();
        assert_eq!(dir.get(&first), Found::Opening);
        // The only code the generator offers is taken.
        assert_eq!(dir.reserve(10, codes(&["KXQF"])), Err(Full::Codes));
        dir.fill(first, 7);
        assert_eq!(dir.get(&code("kxqf")), Found::Live(&7));
        assert_eq!(
            dir.reserve(10, codes(&["KXQF", "KXQF", "MNPR"])),
            Ok(code("MNPR"))
        );
        // Ended, still not reused.
        assert_eq!(dir.end(first, now + Duration::from_secs(60)), Some(7));
        assert_eq!(dir.get(&first), Found::Ended);
        assert_eq!(dir.reserve(10, codes(&["KXQF"])), Err(Full::Codes));
        // Forgotten after its time: unknown, and free again.
        assert_eq!(dir.forget_ended(now), Some(now + Duration::from_secs(60)));
        assert_eq!(dir.forget_ended(now + Duration::from_secs(60)), None);
        assert_eq!(dir.get(&first), Found::Unknown);
        assert_eq!(dir.reserve(10, codes(&["KXQF"])), Ok(first));
    }

    #[test]
    fn the_room_limit_counts_rooms_opening_and_open_not_ended_ones() {
        let mut dir = Directory::<u32>::default();
        let a = dir.reserve(2, codes(&["CCCC"])).unwrap();
        let b = dir.reserve(2, codes(&["DDDD"])).unwrap();
        assert_eq!(dir.reserve(2, codes(&["FFFF"])), Err(Full::Rooms(2)));
        dir.cancel(b);
        assert_eq!(dir.open(), 1);
        assert_eq!(dir.get(&b), Found::Unknown);
        dir.fill(a, 1);
        dir.end(a, Instant::now());
        assert_eq!(dir.open(), 0);
        assert!(dir.reserve(2, codes(&["FFFF"])).is_ok());
        assert!(dir.reserve(2, codes(&["GGGG"])).is_ok());
        assert_eq!(dir.live().count(), 0);
    }

    #[test]
    fn a_room_that_failed_to_load_keeps_its_code() {
        let mut dir = Directory::<u32>::default();
        assert!(dir.reserve_code(code("HHHH")));
        assert!(!dir.reserve_code(code("HHHH")));
        dir.fail(code("HHHH"), "damaged".into());
        assert_eq!(dir.get(&code("HHHH")), Found::Failed("damaged"));
        assert_eq!(dir.open(), 0);
        assert_eq!(dir.reserve(5, codes(&["HHHH"])), Err(Full::Codes));
        // Ending or filling it does nothing.
        assert_eq!(dir.end(code("HHHH"), Instant::now()), None);
        dir.fill(code("HHHH"), 3);
        assert_eq!(dir.get(&code("HHHH")), Found::Failed("damaged"));
    }

    #[test]
    fn a_released_room_is_unknown_and_frees_its_place() {
        let mut dir: Directory<u32> = Directory::default();
        let kxqf = dir.reserve(1, codes(&["KXQF"])).unwrap();
        dir.fill(kxqf, 7);
        assert_eq!(dir.reserve(1, codes(&["CDFG"])), Err(Full::Rooms(1)));
        assert_eq!(dir.release(kxqf), Some(7));
        assert_eq!(dir.get(&kxqf), Found::Unknown);
        assert_eq!(dir.release(kxqf), None, "released once");
        assert!(
            dir.reserve(1, codes(&["CDFG"])).is_ok(),
            "its place is free"
        );
    }
}
