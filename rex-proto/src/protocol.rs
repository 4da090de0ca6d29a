//! [`Protocol`]: an app's whole protocol named by one type.

use crate::{Dynamic, ProtocolSchema, RexEvent, RexMessage};

/// An app's protocol: its id, what clients send (`Self`) and what the app
/// appends to the log ([`Protocol::Event`]).
///
/// The message enum is the protocol's name: `#[derive(RexMessage)]` with
/// `#[rex(app = "chat", events = ChatEvent)]` implements this trait for
/// the enum, so the server app (`type Protocol = ChatMsg`) and every client
/// (`rex::Client<ChatMsg>`) name the same type, and the two enums and the
/// id cannot drift apart.
///
/// Written by hand for a message type that is not derived:
///
/// ```
/// use rex_proto::{DecodeError, Dynamic, EncodeError, Protocol, RexMessage};
/// use serde_json::Value;
///
/// /// A protocol whose only message is a ping.
/// pub struct Ping;
///
/// impl RexMessage for Ping {
///     const KINDS: &'static [&'static str] = &["ping"];
///     fn kind(&self) -> &'static str {
///         "ping"
///     }
///     fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
///         Ok(None)
///     }
///     fn decode(kind: &str, _data: Option<Value>) -> Result<Self, DecodeError> {
///         match kind {
///             "ping" => Ok(Ping),
///             other => Err(DecodeError::unknown_kind(other, Self::KINDS)),
///         }
///     }
/// }
///
/// impl Protocol for Ping {
///     const APP: &'static str = "ping";
///     type Event = Dynamic;
/// }
/// assert!(Ping::speaks("ping") && !Ping::speaks("chat"));
/// ```
pub trait Protocol: RexMessage + Send + 'static {
    /// The app's id: `/info` reports it, session creation returns it,
    /// discovery advertises it, and a typed client checks it on connect.
    /// Lowercase letters, digits and `-` make the best ids.
    const APP: &'static str;

    /// What the app appends to the log.
    type Event: RexEvent + Send + 'static;

    /// Whether a server of the app `app` speaks this protocol: a typed
    /// client refuses to connect to any other. By default only [`APP`]
    /// itself; [`Dynamic`] speaks to every app.
    ///
    /// [`APP`]: Protocol::APP
    fn speaks(app: &str) -> bool {
        app == Self::APP
    }

    /// The protocol in JSON Schema: every kind with the schema of its
    /// `data`, served as `GET /rex/v0/schema`. `None` (the default) for a
    /// protocol that does not publish one; `#[rex(schema)]` on the derived
    /// enums (rex's `schema` feature) generates it from their types.
    fn schema() -> Option<ProtocolSchema> {
        None
    }
}

/// Any app's protocol, for tools that do not know it (the `rex` tool, a
/// log viewer): messages and events of every kind, payloads as JSON. The
/// server checks each message against its real protocol.
impl Protocol for Dynamic {
    /// Not an app a server runs; a `Dynamic` client speaks to every app.
    const APP: &'static str = "dynamic";
    type Event = Dynamic;

    fn speaks(_app: &str) -> bool {
        true
    }
}
