//! Request paths of protocol v0. Every path lives under [`BASE`].

/// The prefix of every REx path.
pub const BASE: &str = "/rex/v0";
/// `POST`: create a session.
pub const SESSIONS: &str = "/rex/v0/sessions";
/// `POST`: send a message as a session.
pub const MESSAGES: &str = "/rex/v0/messages";
/// `GET`: stream the event log.
pub const EVENTS: &str = "/rex/v0/events";
/// `GET`: describe the server and its app.
pub const INFO: &str = "/rex/v0/info";
/// `GET`: the app's state as of an index of the log, to follow from there.
pub const SNAPSHOT: &str = "/rex/v0/snapshot";
/// `GET`: the app's protocol in JSON Schema, for apps that publish it.
pub const SCHEMA: &str = "/rex/v0/schema";
/// `POST` on a host of rooms: open a new room.
pub const ROOMS: &str = "/rex/v0/rooms";
/// `GET` on a host of rooms: describe the host.
pub const HOST: &str = "/rex/v0/host";
/// The prefix of a hosted room's path, `/r/KXQF`: everything of protocol
/// v0 for that room lives under the room's path.
pub const ROOM_PREFIX: &str = "/r/";
