//! The remote-control protocol: what a remote sends ([`RemoteMsg`]) and what
//! the TV appends to its log ([`RemoteEvent`]).
//!
//! Every event carries the values it results in (the new position and the
//! log time it was measured at, the new volume, the new queue), never a
//! delta, so [`PlayerView::apply`](super::PlayerView::apply) is a plain
//! assignment and a remote that applies the events after a snapshot ends
//! up with exactly the TV's state. Times are in the log's clock:
//! milliseconds since the server started, as events' `time` counts them.
//!
//! Commands that would leave the state as it is (`play` while playing,
//! `volume_up` at 100, `shuffle {on: true}` while shuffled) are accepted
//! and emit nothing; commands that make no sense (seeking past the end, a
//! volume of 120, `next` after the last track) are refused with a reason.

use rex::{RexEvent, RexMessage};

/// What a remote can ask the TV.
///
/// Several remotes may send at once: the TV handles one message at a time,
/// in the order they arrive, and a relative command (`seek_by`,
/// `volume_up`, `next`) applies to the state at the moment it is handled,
/// not to what the sender's screen showed.
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
#[rex(app = "media-player", events = RemoteEvent, schema, snapshot = super::PlayerView)]
pub enum RemoteMsg {
    /// Start or resume playing. Accepted (and does nothing) while playing.
    Play,
    /// Pause. Accepted (and does nothing) while paused.
    Pause,
    /// Skip to the head of the queue, or else the next track of the
    /// playlist. Refused after the last track when nothing is queued.
    Next,
    /// Back to the start of the current track if it has played for 3 s or
    /// more; otherwise to the track played before it.
    Previous,
    /// Jump to a position in the current track.
    Seek {
        /// Milliseconds from the track's start; from 0 to just before the
        /// track's end.
        position_ms: i64,
    },
    /// Jump forward (positive) or back (negative) from where the track is.
    /// Going back past the start lands on the start; going forward past the
    /// end is refused (skip with `next` instead).
    SeekBy {
        /// Milliseconds to move by.
        offset_ms: i64,
    },
    /// Set the volume; this also unmutes.
    SetVolume {
        /// The new level, 0 to 100.
        level: i64,
    },
    /// Five steps up (stopping at 100); this also unmutes.
    VolumeUp,
    /// Five steps down (stopping at 0); this also unmutes.
    VolumeDown,
    /// Mute or unmute; the volume level is kept.
    Mute {
        /// `true` to mute.
        muted: bool,
    },
    /// Shuffle the playlist (the current track keeps playing and the rest
    /// come in random order) or go back to the playlist's own order.
    Shuffle {
        /// `true` to shuffle.
        on: bool,
    },
    /// Add a track to the end of the up-next queue; queued tracks play
    /// before the rest of the playlist.
    Queue {
        /// The track's id (its place in the playlist, from 0).
        track: u32,
    },
}

/// What the TV appends to its log, each time its state changes.
#[derive(Clone, Debug, PartialEq, Eq, RexEvent)]
#[rex(schema)]
pub enum RemoteEvent {
    /// The player started playing the current track.
    Playing {
        /// Where in the track it started.
        position_ms: u64,
        /// When (log time), so a remote extrapolates the position as
        /// `position_ms + (now - at_ms)`.
        at_ms: u64,
    },
    /// The player paused.
    Paused {
        /// Where in the track it stopped.
        position_ms: u64,
        /// When (log time).
        at_ms: u64,
    },
    /// The position in the current track jumped; playing or paused as
    /// before.
    Seeked {
        /// The new position.
        position_ms: u64,
        /// When (log time).
        at_ms: u64,
    },
    /// Another track is current: skipped to, gone back to, or the one after
    /// a track that ended. When the last track ends with nothing queued,
    /// the player goes back to the first track of the playlist and stops.
    TrackChanged {
        /// The track's id.
        track: u32,
        /// Where the playlist is: the index in `order` of this track, or,
        /// for a track from the queue, of the playlist track played before
        /// it (the playlist continues after it).
        cursor: u32,
        /// Whether the track came from the queue.
        from_queue: bool,
        /// The up-next queue now (its head is gone if it was played).
        queue: Vec<u32>,
        /// Whether it is playing.
        playing: bool,
        /// The position in the new track (0).
        position_ms: u64,
        /// When (log time).
        at_ms: u64,
    },
    /// The volume or mute changed.
    Volume {
        /// The level, 0 to 100.
        level: u8,
        /// Whether the sound is muted (the level is kept).
        muted: bool,
    },
    /// Shuffle was turned on or off: the playlist's new play order.
    Shuffled {
        /// Whether shuffle is on.
        on: bool,
        /// Track ids in play order.
        order: Vec<u32>,
        /// The current playlist track's index in the new `order`.
        cursor: u32,
    },
    /// A track was added to the up-next queue.
    Queued {
        /// The track added.
        track: u32,
        /// The queue now, head first.
        queue: Vec<u32>,
    },
}
