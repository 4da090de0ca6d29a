//! Wire types of the REx protocol, version 0.
//!
//! This crate is pure data: identifiers, the JSON bodies of every request and
//! response, the error codes, the path constants, and the traits an app's protocol
//! implements ([`RexMessage`] for what clients send, [`RexEvent`] for what
//! the app appends to the log, and [`Protocol`], which names both and the
//! app's id with one type). It does no I/O and pulls in no async
//! runtime, so a client of any kind (a phone build, a CLI, a test) can use it.
//!
//! The normative description of the protocol is `docs/protocol.md` in the
//! repository; every type here names the part of it that it encodes.
//!
//! ```
//! use rex_proto::{ErrorBody, ErrorCode};
//!
//! let body: ErrorBody = serde_json::from_str(
//!     r#"{"error": "unknown_kind", "reason": "unknown message kind `yell`; expected one of: say, whisper"}"#,
//! ).unwrap();
//! assert_eq!(body.error, ErrorCode::UnknownKind);
//! assert_eq!(ErrorCode::UnknownKind.status(), 400);
//! ```

mod body;
#[cfg(feature = "schema")]
mod describe;
mod dynamic;
mod error;
mod ids;
mod kind;
pub mod path;
mod protocol;
mod room;
pub mod schema;
mod typescript;

pub use body::{
    CreateSession, EventRecord, Info, PostMessage, Receipt, SessionCreated, SnapshotRecord,
};
pub use dynamic::Dynamic;
pub use error::{ErrorBody, ErrorCode};
pub use ids::{Epoch, EventIndex, ParseIdError, SessionId, SessionToken};
pub use kind::{
    DataEncoder, DataObject, DataWriter, DecodeError, EncodeError, RexEvent, RexMessage,
};
pub use protocol::Protocol;
pub use room::{
    CreateRoom, HostInfo, ParseRoomCodeError, RoomCode, RoomCreated, ROOM_CODE_ALPHABET,
    ROOM_CODE_LEN,
};
pub use schema::{FieldSchema, KindSchema, ProtocolSchema};

#[cfg(feature = "schema")]
pub use describe::{Describe, SnapshotSchema};
/// The schemars crate the `schema` feature uses, for apps that derive
/// `JsonSchema` on their nested types without depending on it themselves
/// (`#[schemars(crate = "rex::schemars")]`).
#[cfg(feature = "schema")]
pub use schemars;

/// The protocol version this crate speaks; it is the `v0` in every path and
/// the `protocol` field of [`Info`].
pub const PROTOCOL_VERSION: u32 = 0;
