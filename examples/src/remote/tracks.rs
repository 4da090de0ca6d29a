//! The bundled playlist: twelve made-up tracks, so the TV has something to
//! play without any media files.
//!
//! A [`Track`] is only what a remote shows (title, artist, duration); the
//! "playing" is the clock in [`PlayerView`](super::PlayerView).

use serde::{Deserialize, Serialize};

/// One track of the playlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, rex::schemars::JsonSchema)]
#[schemars(crate = "rex::schemars")]
pub struct Track {
    /// Its id: its place in the playlist, from 0. `queue` messages and the
    /// view's `order`, `track` and `queue` name tracks by id.
    pub id: u32,
    /// The title.
    pub title: String,
    /// Who plays it.
    pub artist: String,
    /// How long it plays, in milliseconds.
    pub duration_ms: u64,
}

/// The bundled tracks: (title, artist, duration in seconds). All made up.
const BUNDLED: [(&str, &str, u64); 12] = [
    ("Harbour Lights", "The Quiet Engines", 245),
    ("Paper Satellites", "Mina Okafor", 198),
    ("Slow Tram to Lisbon", "Orquestra Miúda", 312),
    ("Night Shift at the Observatory", "Halden & Rye", 227),
    ("Copper Kettle Blues", "June Marlowe", 183),
    ("Fjord Echoes", "Sigrun Tal", 276),
    ("Laundromat Disco", "The Spin Cycles", 204),
    ("Seven Small Rains", "Akiko Mori", 261),
    ("Cartographer's Waltz", "Ensemble Nordlys", 289),
    ("Neon Orchard", "Velvet Compass", 219),
    ("Last Ferry Home", "Tom Aldous", 235),
    ("Lighthouse Keeper's Lullaby", "Clara Wen", 171),
];

/// The bundled playlist, with ids 0 to 11.
pub fn bundled() -> Vec<Track> {
    playlist(
        BUNDLED
            .iter()
            .map(|&(title, artist, seconds)| (title, artist, seconds * 1000)),
    )
}

/// A playlist of `(title, artist, duration_ms)`, with ids given by place
/// (tests use short tracks to see them end).
pub fn playlist<'a>(tracks: impl IntoIterator<Item = (&'a str, &'a str, u64)>) -> Vec<Track> {
    tracks
        .into_iter()
        .enumerate()
        .map(|(id, (title, artist, duration_ms))| Track {
            id: id as u32,
            title: title.to_owned(),
            artist: artist.to_owned(),
            duration_ms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_playlist_has_ids_by_place_and_real_durations() {
        let tracks = bundled();
        assert_eq!(tracks.len(), 12);
        for (i, t) in tracks.iter().enumerate() {
            assert_eq!(t.id as usize, i);
            assert!(!t.title.is_empty() && !t.artist.is_empty());
            assert!((120_000..=600_000).contains(&t.duration_ms), "{t:?}");
        }
    }
}
