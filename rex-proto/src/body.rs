//! The JSON bodies of protocol v0, one type per request or response.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Epoch, EventIndex, SessionId, SessionToken};

/// Request body of `POST /rex/v0/sessions` (the whole body is optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    /// The display name the app is told about in its join hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The room's PIN, for a server started with one (`?pin=` in the URL
    /// works too); a missing or wrong PIN is answered `403 forbidden`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// Response body of `POST /rex/v0/sessions` (`201 Created`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    /// The new session's public id.
    pub session: SessionId,
    /// The secret that authenticates it; keep it private.
    pub token: SessionToken,
    /// The epoch of the log the indexes below belong to.
    pub epoch: Epoch,
    /// A reader starting here sees everything from this session's creation
    /// on, including the events the app's join hook emitted for it.
    pub next: EventIndex,
    /// The id of the app the server runs.
    pub app: String,
}

/// Request body of `POST /rex/v0/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostMessage {
    /// The message kind, one of the app's [`crate::RexMessage::KINDS`].
    pub kind: String,
    /// The payload; absent for kinds that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// A client-chosen id, unique within the session: a repeat of an id is
    /// answered with the first outcome and not handed to the app again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// Response body of `POST /rex/v0/messages` (`200 OK`): where the events the
/// app appended while handling the message are in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The index of the first event appended while handling the message, or
    /// the head at that moment if none was.
    pub first: EventIndex,
    /// How many events were appended (public and private).
    pub count: u64,
}

/// One event as it appears on the wire: a line of NDJSON, or the `data:` of
/// a Server-Sent Event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's position in the log.
    pub index: EventIndex,
    /// Milliseconds since the epoch began (the server's start).
    pub time: u64,
    /// The event kind, one of the app's [`crate::RexEvent::KINDS`].
    pub kind: String,
    /// The session whose message caused the event, or `None` when the app
    /// emitted it on its own (a timer, the TV's input).
    pub origin: Option<SessionId>,
    /// For a private event, the sessions it is for; absent for public events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<SessionId>>,
    /// The payload; absent for kinds that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Response body of `GET /rex/v0/snapshot` (`200 OK`): the app's state as
/// the reader may see it, and the index of the log it reflects.
///
/// `data` reflects exactly the events before `index` (those the reader may
/// see), so a reader that then follows `GET /events?start={index}` sees every
/// later event once and none twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord<T = Value> {
    /// The epoch of the log `index` belongs to.
    pub epoch: Epoch,
    /// The head of the log when the snapshot was taken: the first event
    /// `data` does not reflect.
    pub index: EventIndex,
    /// The log's clock when the snapshot was taken (milliseconds since the
    /// epoch began, like an event's `time`).
    pub time: u64,
    /// The app's state, in the app's own JSON shape.
    pub data: T,
}

/// Response body of `GET /rex/v0/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The app id (also advertised by discovery).
    pub app: String,
    /// The room's display name.
    pub name: String,
    /// The protocol version, [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The epoch of the current log.
    pub epoch: Epoch,
    /// The index the next event will get.
    pub head: EventIndex,
    /// The oldest index still retained (equal to `head` when none is).
    pub oldest: EventIndex,
    /// How many sessions exist.
    pub sessions: u64,
    /// The log's clock now: milliseconds since the epoch began, the clock of
    /// every event's `time`. A page uses it to show a countdown to a time
    /// an event named.
    #[serde(default)]
    pub time: u64,
    /// The message kinds the app accepts.
    pub messages: Vec<String>,
    /// The event kinds the app emits.
    pub events: Vec<String>,
    /// What the server offers beyond the endpoints every server answers:
    /// `"schema"` when `GET /rex/v0/schema` describes the app's protocol.
    /// Empty from servers older than the list.
    #[serde(default)]
    pub offers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_record_omits_absent_to_and_data_but_keeps_null_origin() {
        let record = EventRecord {
            index: 3,
            time: 10,
            kind: "started".into(),
            origin: None,
            to: None,
            data: None,
        };
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({"index": 3, "time": 10, "kind": "started", "origin": null})
        );
    }

    #[test]
    fn post_message_accepts_missing_data_and_id() {
        let m: PostMessage = serde_json::from_str(r#"{"kind":"ping"}"#).unwrap();
        assert_eq!(m.kind, "ping");
        assert_eq!(m.data, None);
        assert_eq!(m.id, None);
    }
}
