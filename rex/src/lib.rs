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
//! (what phones send) and [`RexEvent`] (what the app appends), and its logic
//! as a [`RexApp`]. The [`Server`] runs the app as an actor behind HTTP/1.1;
//! the wire protocol is specified in `docs/protocol.md`.
//!
//! ```no_run
//! use rex::{Context, Reject, RexApp, Server, SessionId};
//! # use rex::{DataObject, DecodeError, EncodeError, RexEvent, RexMessage};
//! # pub struct Ping;
//! # impl RexMessage for Ping {
//! #     const KINDS: &'static [&'static str] = &["ping"];
//! #     fn kind(&self) -> &'static str { "ping" }
//! #     fn encode_data(&self) -> Result<Option<serde_json::Value>, EncodeError> { Ok(None) }
//! #     fn decode(kind: &str, data: Option<serde_json::Value>) -> Result<Self, DecodeError> {
//! #         match kind { "ping" => DataObject::expect_none(kind, data).map(|()| Ping),
//! #                      _ => Err(DecodeError::unknown_kind(kind, Self::KINDS)) }
//! #     }
//! # }
//! # pub struct Pong;
//! # impl RexEvent for Pong {
//! #     const KINDS: &'static [&'static str] = &["pong"];
//! #     fn kind(&self) -> &'static str { "pong" }
//! #     fn encode_data(&self) -> Result<Option<serde_json::Value>, EncodeError> { Ok(None) }
//! #     fn decode(kind: &str, data: Option<serde_json::Value>) -> Result<Self, DecodeError> {
//! #         match kind { "pong" => DataObject::expect_none(kind, data).map(|()| Pong),
//! #                      _ => Err(DecodeError::unknown_kind(kind, Self::KINDS)) }
//! #     }
//! # }
//!
//! struct PingPong;
//!
//! impl RexApp for PingPong {
//!     type Message = Ping;
//!     type Event = Pong;
//!     const ID: &'static str = "ping-pong";
//!
//!     fn message(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, _msg: Ping) -> Result<(), Reject> {
//!         cx.emit(Pong);
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
//! Cargo features: `server` (the runtime above) and `client` (for the typed
//! client), both on by default; a phone build can turn `server` off.

pub use rex_proto::{
    path, CreateSession, DataObject, DecodeError, EncodeError, Epoch, ErrorBody, ErrorCode,
    EventIndex, EventRecord, Info, ParseIdError, PostMessage, Receipt, RexEvent, RexMessage,
    SessionCreated, SessionId, SessionToken, PROTOCOL_VERSION,
};

/// The wire types, as a module (everything in it is also at the crate root).
pub mod proto {
    pub use rex_proto::*;
}

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "client")]
pub use client::{
    Client, ClientBuilder, ClientError, Credentials, Endpoint, Event, EventMeta, EventStream,
    IntoEndpoint, Resync, ResyncCause, RetryPolicy, StreamItem,
};

#[cfg(feature = "server")]
pub use server::{
    AppHandle, AppStopped, Context, Reject, Retention, RexApp, Scheduled, Server, ServerBuilder,
};
