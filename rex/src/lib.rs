//! REx: room experiences.
//!
//! One server app (usually on a TV) and many clients (usually phones) on the
//! same network share one ordered, indexed event log. Clients create a
//! session, send typed messages, and stream the log; the app handles one
//! message at a time and answers by appending events, public or private to
//! some sessions. Every client sees every event meant for it once, in order,
//! and resumes by index after a disconnect.
//!
//! An app declares its protocol as two enums implementing [`RexMessage`]
//! (what phones send) and [`RexEvent`] (what the app appends); the message
//! enum names the app id and the event enum, so that one type is the
//! [`Protocol`]. Its logic is a [`RexApp`] plus the handler trait the
//! derive generates, one method per message kind. The [`Server`] runs the
//! app as an actor behind HTTP/1.1; the wire protocol is specified in
//! `docs/protocol.md`.
//!
//! ```no_run
//! use rex::{Context, Reject, RexApp, RexEvent, RexMessage, Server, SessionId};
//!
//! /// What phones send.
//! #[derive(Debug, RexMessage)]
//! #[rex(app = "ping-pong", events = Event)]
//! pub enum Msg {
//!     /// Ask the TV for a pong.
//!     Ping,
//! }
//!
//! /// What the TV appends to the log.
//! #[derive(Debug, RexEvent)]
//! pub enum Event {
//!     /// The answer to a ping, for everyone to see.
//!     Pong { to: SessionId },
//! }
//!
//! struct PingPong;
//!
//! impl RexApp for PingPong {
//!     type Protocol = Msg;
//! }
//!
//! impl MsgHandler for PingPong {
//!     fn ping(&mut self, cx: &mut Context<'_, Self>, from: SessionId) -> Result<(), Reject> {
//!         cx.emit(Event::Pong { to: from });
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let server = Server::builder(PingPong).bind("127.0.0.1:0").await?;
//!     println!("listening on http://{}", server.local_addr());
//!     server.run(async { tokio::signal::ctrl_c().await.ok(); }).await
//! }
//! ```
//!
//! A phone talks to it with the generated `MsgClient` (a typed [`Client`]
//! with one method per message kind): `client.ping().await?` sends a `Ping`
//! (see `docs/client.md`).
//!
//! A [`Server`] is one room. A [`Host`] runs any number of rooms of one
//! app — a game server where every group opens its own room and joins it
//! with a four-letter code — each room an actor of its own, served under
//! `/r/<code>` (`docs/protocol.md` §15):
//!
//! ```no_run
//! # use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};
//! # #[derive(Debug, RexMessage)]
//! # #[rex(app = "ping-pong", events = Event)]
//! # pub enum Msg { Ping }
//! # #[derive(Debug, RexEvent)]
//! # pub enum Event { Pong { to: SessionId } }
//! # #[derive(Default)]
//! # struct PingPong;
//! # impl RexApp for PingPong { type Protocol = Msg; }
//! # impl MsgHandler for PingPong {
//! #     fn ping(&mut self, cx: &mut Context<'_, Self>, from: SessionId) -> Result<(), Reject> { Ok(()) }
//! # }
//! # async fn host() -> std::io::Result<()> {
//! use rex::{Host, NewRoom};
//!
//! // POST /rex/v0/rooms opens a room; its app comes from the factory.
//! let host = Host::builder(|_room: &NewRoom| Ok(PingPong::default()))
//!     .bind("0.0.0.0:7700")
//!     .await?;
//! host.run(async { tokio::signal::ctrl_c().await.ok(); }).await
//! # }
//! ```
//!
//! Cargo features: `server` (the runtime above) and `client` (for the typed
//! client), both on by default; a phone build can turn `server` off.
//! `schema` (off by default): `#[rex(schema)]` on the two enums describes
//! every kind in JSON Schema, from the Rust types by schemars, and the
//! server serves it at `GET /rex/v0/schema` ([`Protocol::schema`],
//! [`ProtocolSchema`]; TypeScript for pages with
//! [`ProtocolSchema::typescript`]).

// Lets the derives' generated code (which names `::rex`) work inside this
// crate's own tests too.
extern crate self as rex;

pub use rex_proto::{
    path, CreateRoom, CreateSession, DataEncoder, DataObject, DataWriter, DecodeError, EncodeError,
    Epoch, ErrorBody, ErrorCode, EventIndex, EventRecord, FieldSchema, HostInfo, Info, KindSchema,
    ParseIdError, ParseRoomCodeError, PostMessage, Protocol, ProtocolSchema, Receipt, RexEvent,
    RexMessage, RoomCode, RoomCreated, SessionCreated, SessionId, SessionToken, SnapshotRecord,
    PROTOCOL_VERSION,
};

/// The schemars crate behind `#[rex(schema)]` (feature `schema`): derive
/// [`JsonSchema`](schemars::JsonSchema) on the types a protocol's kinds
/// carry, with `#[schemars(crate = "rex::schemars")]` if the app does not
/// depend on schemars itself.
#[cfg(feature = "schema")]
pub use rex_proto::schemars;
#[cfg(feature = "schema")]
pub use rex_proto::{Describe, SnapshotSchema};

/// Derives [`RexEvent`] (with the `{Enum}Handler` trait) for an enum of
/// events. See the `rex-macros` crate.
pub use rex_macros::RexEvent;
/// Derives [`RexMessage`] and [`Protocol`] (with the `{Enum}Handler` trait
/// and its routing, and the `{Enum}Client` stubs) for an enum of messages,
/// named with `#[rex(app = "…", events = …)]`. See the `rex-macros` crate.
pub use rex_macros::RexMessage;

/// The wire types, as a module (everything in it is also at the crate root).
pub mod proto {
    pub use rex_proto::*;
}

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "discovery")]
pub mod discovery;
#[cfg(feature = "server")]
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// A message or event of any kind, for tools that do not know the app's
/// protocol (the `rex` command-line tool uses it).
pub use rex_proto::Dynamic;

#[cfg(feature = "discovery")]
pub use discovery::{discover, discover_one, Discovery, DiscoveryError, DiscoveryEvent, Room};

#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, ClientError, Connection, Credentials, Endpoint, Event, EventMeta,
    EventStream, HostClient, IntoEndpoint, Resync, ResyncCause, RetryPolicy, StateAt, StreamItem,
    TypedClient,
};

#[cfg(feature = "server")]
pub use server::{
    AppHandle, AppStopped, Assets, Context, Dispatch, Durable, EventOf, Host, HostBuilder,
    HostControl, NewRoom, Rate, Reject, Retention, RexApp, Scheduled, Server, ServerBuilder,
    Snapshot,
};

/// What the derive macros' generated code refers to. Not public API: it may
/// change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::{
        DataEncoder, DataObject, DataWriter, DecodeError, EncodeError, Protocol, Receipt, RexEvent,
        RexMessage, SessionId,
    };
    pub use serde;
    pub use serde_json;
    pub use serde_json::Value;
    pub use std::vec::Vec;

    pub use crate::KindSchema;
    #[cfg(feature = "schema")]
    pub use crate::{schemars, Describe, ProtocolSchema, SnapshotSchema};

    #[cfg(feature = "client")]
    pub use crate::client::{
        Client, ClientBuilder, ClientError, Connection, EventMeta, IntoEndpoint, Resync,
        StreamItem, TypedClient,
    };
    #[cfg(feature = "server")]
    pub use crate::server::{Context, Dispatch, Reject, RexApp};

    pub use crate::{
        __rex_if_client as if_client, __rex_if_schema as if_schema, __rex_if_server as if_server,
        __rex_with_schema as with_schema,
    };
}

/// Expands its input only when the `schema` feature is on (the derives'
/// `Protocol::schema`).
#[cfg(feature = "schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_schema {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_schema {
    ($($item:tt)*) => {};
}

/// Expands its input when the `schema` feature is on; otherwise says that
/// `#[rex(schema)]` needs it, once, instead of a cascade of path errors.
#[cfg(feature = "schema")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_with_schema {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "schema"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_with_schema {
    ($($item:tt)*) => {
        ::core::compile_error! {
            "`#[rex(schema)]` needs rex's `schema` feature: `rex = { version = \"…\", features = [\"schema\"] }`"
        }
    };
}

/// Expands its input only when the `server` feature is on, so generated
/// server-side items vanish from client-only builds.
#[cfg(feature = "server")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_server {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "server"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_server {
    ($($item:tt)*) => {};
}

/// Expands its input only when the `client` feature is on.
#[cfg(feature = "client")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_client {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rex_if_client {
    ($($item:tt)*) => {};
}
