//! `GET /rex/v0/info`: what the room runs and where its log is.

use http::{Response, StatusCode};
use rex_proto::{Info, Protocol, RexEvent, RexMessage, PROTOCOL_VERSION};

use super::error::json_response;
use super::{Body, Room};
use crate::server::app::RexApp;
use crate::server::app::{app_id, EventOf};

pub(crate) fn get<A: RexApp>(room: &Room<A>) -> Response<Body> {
    let bounds = room.log.bounds();
    let info = Info {
        app: app_id::<A>().to_owned(),
        name: room.name.clone(),
        protocol: PROTOCOL_VERSION,
        epoch: room.log.epoch(),
        head: bounds.head,
        oldest: bounds.oldest,
        sessions: room.sessions.len() as u64,
        time: room.log.now_ms(),
        messages: <A::Protocol as RexMessage>::KINDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        events: <EventOf<A> as RexEvent>::KINDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        offers: offers::<A>(),
    };
    json_response(StatusCode::OK, &info)
}

/// `/info`'s `offers`: the optional parts of the protocol this app has.
fn offers<A: RexApp>() -> Vec<String> {
    // Building the schema takes tens of microseconds, and `/info` is not
    // a hot path: no cache to keep.
    let has_schema = <A::Protocol as Protocol>::schema().is_some();
    if has_schema {
        vec!["schema".to_owned()]
    } else {
        Vec::new()
    }
}
