//! Hosted rooms: the code that names a room on a host, and the bodies of
//! the host's own endpoints (`docs/protocol.md` §15).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The letters of a room code: consonants only, so no word forms, and
/// without the ones a person misreads on a TV across the room (`L` for `I`
/// or `1`, `S` for `5`, `Z` for `2`, `B` for `8`) or reads as a vowel (`Y`).
pub const ROOM_CODE_ALPHABET: &[u8; 16] = b"CDFGHJKMNPQRTVWX";

/// How many letters a room code has.
pub const ROOM_CODE_LEN: usize = 4;

/// The four-letter code of a hosted room (`KXQF`), what a player types to
/// join it. Codes are upper case; parsing accepts either case.
///
/// ```
/// use rex_proto::RoomCode;
/// let code: RoomCode = "kxqf".parse().unwrap();
/// assert_eq!(code.to_string(), "KXQF");
/// assert!("KAQF".parse::<RoomCode>().is_err()); // a vowel
/// assert!("KXQ".parse::<RoomCode>().is_err()); // too short
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomCode([u8; ROOM_CODE_LEN]);

impl RoomCode {
    /// A random code, every one of the 16⁴ = 65,536 equally likely.
    pub fn new_random() -> RoomCode {
        let random = Uuid::new_v4().as_u128();
        let mut letters = [0u8; ROOM_CODE_LEN];
        for (i, letter) in letters.iter_mut().enumerate() {
            // The random bits of a v4 UUID are its low 122 bits; 4 per letter.
            let nibble = (random >> (4 * i)) & 0xF;
            *letter = ROOM_CODE_ALPHABET[nibble as usize];
        }
        RoomCode(letters)
    }

    /// The code as text, upper case.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters of the alphabet are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// The room's path on its host, `/r/KXQF`: the room's base URL is the
    /// host's followed by it.
    pub fn path(&self) -> String {
        format!("{}{}", crate::path::ROOM_PREFIX, self.as_str())
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomCode({})", self.as_str())
    }
}

impl FromStr for RoomCode {
    type Err = ParseRoomCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let error = || ParseRoomCodeError {
            text: s.chars().take(16).collect(),
        };
        if bytes.len() != ROOM_CODE_LEN {
            return Err(error());
        }
        let mut letters = [0u8; ROOM_CODE_LEN];
        for (letter, byte) in letters.iter_mut().zip(bytes) {
            let upper = byte.to_ascii_uppercase();
            if !ROOM_CODE_ALPHABET.contains(&upper) {
                return Err(error());
            }
            *letter = upper;
        }
        Ok(RoomCode(letters))
    }
}

/// A string was not a room code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseRoomCodeError {
    /// The start of the text that was not a code (as given; escape it
    /// before showing it on a terminal).
    text: String,
}

impl fmt::Display for ParseRoomCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a room code: a code is {ROOM_CODE_LEN} letters from {}",
            self.text,
            // The alphabet is ASCII.
            std::str::from_utf8(ROOM_CODE_ALPHABET).unwrap_or_default()
        )
    }
}

impl std::error::Error for ParseRoomCodeError {}

impl Serialize for RoomCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RoomCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Request body of `POST /rex/v0/rooms` on a host (the whole body is
/// optional): the room's display name, and any settings of the app's own,
/// which the host's room factory receives.
///
/// ```
/// let body: rex_proto::CreateRoom =
///     serde_json::from_str(r#"{"name": "Friday quiz", "rounds": 3}"#).unwrap();
/// assert_eq!(body.name.as_deref(), Some("Friday quiz"));
/// assert_eq!(body.settings["rounds"], 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRoom {
    /// The room's display name (its `/info` name); defaults to the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other field of the body, for the app.
    #[serde(flatten)]
    pub settings: Map<String, Value>,
}

/// Response body of `POST /rex/v0/rooms` (`201 Created`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCreated {
    /// The room's code.
    pub room: RoomCode,
    /// The room's path on this host (`/r/KXQF`); protocol v0 for the room
    /// lives under it.
    pub path: String,
    /// The id of the app the room runs.
    pub app: String,
    /// The room's display name.
    pub name: String,
}

/// Response body of `GET /rex/v0/host`: what a host of rooms serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// The id of the app every room of this host runs.
    pub app: String,
    /// The host's display name (also advertised by discovery).
    pub name: String,
    /// The protocol version, [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// How many rooms are open now.
    pub rooms: u64,
    /// How many rooms may be open at once.
    pub max_rooms: u64,
    /// The public base URLs of the live hosts sharing this host's rooms
    /// (itself included), for a client to go back to when its host stops
    /// answering; empty for a host that shares nothing (`docs/protocol.md`
    /// §16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_codes_use_the_alphabet_and_parse_back() {
        for _ in 0..1000 {
            let code = RoomCode::new_random();
            assert!(code
                .as_str()
                .bytes()
                .all(|b| ROOM_CODE_ALPHABET.contains(&b)));
            assert_eq!(code.as_str().parse::<RoomCode>().unwrap(), code);
            assert_eq!(
                code.as_str().to_lowercase().parse::<RoomCode>().unwrap(),
                code
            );
        }
    }

    #[test]
    fn the_alphabet_has_no_vowels_and_no_look_alikes() {
        for letter in b"AEIOUYLSZB0123456789" {
            assert!(!ROOM_CODE_ALPHABET.contains(letter), "{}", *letter as char);
        }
        let mut sorted = ROOM_CODE_ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), ROOM_CODE_ALPHABET.len());
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "KXQ", "KXQFF", "KX F", "KXQ1", "ÄXQF", "kxqa"] {
            assert!(bad.parse::<RoomCode>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<RoomCode>("\"KAQF\"").is_err());
        assert_eq!(
            serde_json::to_string(&"kxqf".parse::<RoomCode>().unwrap()).unwrap(),
            "\"KXQF\""
        );
    }
}
