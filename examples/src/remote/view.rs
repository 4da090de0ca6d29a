//! [`PlayerView`]: the player's whole state as every remote shows it, and
//! the one reducer that moves it forward by an event.
//!
//! The TV's app keeps its state as a `PlayerView` and changes it only by
//! applying the events it emits, so its snapshot, the state of a Rust
//! remote that applied the log after a snapshot, and (mirrored in
//! JavaScript) the browser remote's all agree, and agreeing is checkable
//! with `==`.

use serde::{Deserialize, Serialize};

use super::protocol::RemoteEvent;
use super::tracks::Track;

/// The volume a new player starts at.
pub const DEFAULT_VOLUME: u8 = 40;

/// The player's state: the TV's snapshot and every remote's screen.
///
/// The playing position is not ticked by events: it is `position_ms` as
/// measured at log time `at_ms`, and while `playing` it advances with the
/// clock ([`PlayerView::position_at`]). The log grows only when something
/// changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, rex::schemars::JsonSchema)]
#[schemars(crate = "rex::schemars")]
pub struct PlayerView {
    /// The playlist, by id (a track's id is its index here).
    pub tracks: Vec<Track>,
    /// Track ids in play order: the playlist's own order, or shuffled.
    pub order: Vec<u32>,
    /// Where the playlist is: the index in `order` of the current track, or
    /// of the playlist track played before a track from the queue.
    pub cursor: u32,
    /// The current track's id.
    pub track: u32,
    /// Whether the current track came from the queue.
    pub from_queue: bool,
    /// The up-next queue, head first: these play before the playlist goes
    /// on.
    pub queue: Vec<u32>,
    /// Playing or paused.
    pub playing: bool,
    /// The position in the current track at `at_ms`.
    pub position_ms: u64,
    /// The log time `position_ms` was measured at.
    pub at_ms: u64,
    /// The volume level, 0 to 100.
    pub volume: u8,
    /// Whether the sound is muted (`volume` is kept).
    pub muted: bool,
    /// Whether `order` is shuffled.
    pub shuffle: bool,
}

impl PlayerView {
    /// A player with `tracks` (ids are taken as given), paused at the start
    /// of the first one, in playlist order, at [`DEFAULT_VOLUME`].
    pub fn new(tracks: Vec<Track>) -> PlayerView {
        let order = tracks.iter().map(|t| t.id).collect::<Vec<_>>();
        PlayerView {
            track: order.first().copied().unwrap_or(0),
            order,
            tracks,
            cursor: 0,
            from_queue: false,
            queue: Vec::new(),
            playing: false,
            position_ms: 0,
            at_ms: 0,
            volume: DEFAULT_VOLUME,
            muted: false,
            shuffle: false,
        }
    }

    /// Moves the state forward by one event. Never fails: an event that
    /// names a track that does not exist still applies (the view then has no
    /// current track to show).
    pub fn apply(&mut self, event: &RemoteEvent) {
        match event {
            RemoteEvent::Playing { position_ms, at_ms } => {
                self.playing = true;
                self.position_ms = *position_ms;
                self.at_ms = *at_ms;
            }
            RemoteEvent::Paused { position_ms, at_ms } => {
                self.playing = false;
                self.position_ms = *position_ms;
                self.at_ms = *at_ms;
            }
            RemoteEvent::Seeked { position_ms, at_ms } => {
                self.position_ms = *position_ms;
                self.at_ms = *at_ms;
            }
            RemoteEvent::TrackChanged {
                track,
                cursor,
                from_queue,
                queue,
                playing,
                position_ms,
                at_ms,
            } => {
                self.track = *track;
                self.cursor = *cursor;
                self.from_queue = *from_queue;
                self.queue.clone_from(queue);
                self.playing = *playing;
                self.position_ms = *position_ms;
                self.at_ms = *at_ms;
            }
            RemoteEvent::Volume { level, muted } => {
                self.volume = *level;
                self.muted = *muted;
            }
            RemoteEvent::Shuffled { on, order, cursor } => {
                self.shuffle = *on;
                self.order.clone_from(order);
                self.cursor = *cursor;
            }
            RemoteEvent::Queued { queue, .. } => {
                self.queue.clone_from(queue);
            }
        }
    }

    /// A track by id.
    pub fn track_by_id(&self, id: u32) -> Option<&Track> {
        self.tracks.get(id as usize).filter(|t| t.id == id)
    }

    /// The current track (`None` only for an empty playlist).
    pub fn current(&self) -> Option<&Track> {
        self.track_by_id(self.track)
    }

    /// A track's number, from 1: its place in the playlist, which remotes
    /// show beside it. Shuffling does not renumber tracks, so the number
    /// is how a person names one ("queue 8").
    pub fn number(&self, id: u32) -> Option<usize> {
        self.tracks.iter().position(|t| t.id == id).map(|i| i + 1)
    }

    /// Where the player is, for a remote's header: `track 8 of 12` by the
    /// playlist's numbers (the ones the list shows), then, while shuffled,
    /// `· 1st in shuffle order` (how far through the shuffled playlist it
    /// is), or `· from the queue`. `None` without a current track.
    ///
    /// The number is the playlist's and never the play order's: a header
    /// saying "track 1" while the list marks the playing track as 8 reads
    /// as a bug, and the play order is only news while shuffled.
    pub fn place(&self) -> Option<String> {
        let number = self.number(self.track)?;
        let mut place = format!("track {number} of {}", self.tracks.len());
        if self.from_queue {
            place.push_str(" · from the queue");
        } else if self.shuffle {
            let nth = ordinal(self.cursor as usize + 1);
            place.push_str(&format!(" · {nth} in shuffle order"));
        }
        Some(place)
    }

    /// The position in the current track at log time `now_ms`: it advances
    /// while playing, and stops at the track's end (where the TV moves on).
    pub fn position_at(&self, now_ms: u64) -> u64 {
        let position = if self.playing {
            self.position_ms
                .saturating_add(now_ms.saturating_sub(self.at_ms))
        } else {
            self.position_ms
        };
        match self.current() {
            Some(track) => position.min(track.duration_ms),
            None => position,
        }
    }

    /// One line for a terminal, as of log time `now_ms`:
    /// `▶ 2:13/4:05  Harbour Lights — The Quiet Engines   vol 40  shuffle off  queue: 2`.
    pub fn status_line(&self, now_ms: u64) -> String {
        let icon = if self.playing { '▶' } else { '⏸' };
        let (title, artist, duration) = match self.current() {
            Some(t) => (t.title.as_str(), t.artist.as_str(), t.duration_ms),
            None => ("(no track)", "", 0),
        };
        let volume = if self.muted {
            format!("vol {} (muted)", self.volume)
        } else {
            format!("vol {}", self.volume)
        };
        format!(
            "{icon} {}/{}  {title} — {artist}   {volume}  shuffle {}  queue: {}",
            clock(self.position_at(now_ms)),
            clock(duration),
            if self.shuffle { "on" } else { "off" },
            self.queue.len()
        )
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `12th`, `13th`, … `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Milliseconds as `m:ss` (or `h:mm:ss` from an hour on), as players show
/// them.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::tracks;

    #[test]
    fn the_clock_reads_like_a_player() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(133_999), "2:13");
        assert_eq!(clock(245_000), "4:05");
        assert_eq!(clock(3_725_000), "1:02:05");
    }

    #[test]
    fn the_place_numbers_tracks_as_the_playlist_does_whatever_the_order() {
        let mut view = PlayerView::new(tracks::bundled());
        assert_eq!(view.place().unwrap(), "track 1 of 12");
        // Shuffled: the eighth track plays first. Its number stays 8.
        view.apply(&RemoteEvent::Shuffled {
            on: true,
            order: vec![7, 3, 11, 0, 1, 2, 4, 5, 6, 8, 9, 10],
            cursor: 0,
        });
        view.track = 7;
        assert_eq!(view.number(view.track), Some(8));
        assert_eq!(
            view.place().unwrap(),
            "track 8 of 12 · 1st in shuffle order"
        );
        view.apply(&RemoteEvent::TrackChanged {
            track: 11,
            cursor: 2,
            from_queue: false,
            queue: vec![],
            playing: true,
            position_ms: 0,
            at_ms: 0,
        });
        assert_eq!(
            view.place().unwrap(),
            "track 12 of 12 · 3rd in shuffle order"
        );
        view.apply(&RemoteEvent::TrackChanged {
            track: 4,
            cursor: 2,
            from_queue: true,
            queue: vec![],
            playing: true,
            position_ms: 0,
            at_ms: 0,
        });
        assert_eq!(view.place().unwrap(), "track 5 of 12 · from the queue");
        let ordinals: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            ordinals,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
        assert_eq!(PlayerView::new(Vec::new()).place(), None);
    }

    #[test]
    fn the_position_runs_while_playing_and_stops_at_the_end() {
        let mut view = PlayerView::new(tracks::bundled());
        view.apply(&RemoteEvent::Seeked {
            position_ms: 1_000,
            at_ms: 500,
        });
        assert_eq!(view.position_at(10_000), 1_000);
        view.apply(&RemoteEvent::Playing {
            position_ms: 1_000,
            at_ms: 2_000,
        });
        assert_eq!(view.position_at(1_000), 1_000, "a clock behind at_ms");
        assert_eq!(view.position_at(5_500), 4_500);
        assert_eq!(view.position_at(u64::MAX), 245_000);
        assert_eq!(
            view.status_line(134_000),
            "▶ 2:13/4:05  Harbour Lights — The Quiet Engines   vol 40  shuffle off  queue: 0"
        );
    }

    #[test]
    fn events_naming_missing_tracks_still_apply() {
        let mut view = PlayerView::new(Vec::new());
        assert_eq!(view.current(), None);
        view.apply(&RemoteEvent::TrackChanged {
            track: 7,
            cursor: 3,
            from_queue: true,
            queue: vec![9],
            playing: true,
            position_ms: 0,
            at_ms: 10,
        });
        assert_eq!(view.current(), None);
        assert_eq!(view.position_at(110), 100);
        assert!(view.status_line(0).contains("(no track)"));
    }

    #[test]
    fn the_view_round_trips_through_json() {
        let view = PlayerView::new(tracks::bundled());
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["volume"], 40);
        assert_eq!(json["tracks"][0]["duration_ms"], 245_000);
        let back: PlayerView = serde_json::from_value(json).unwrap();
        assert_eq!(back, view);
    }
}
