//! `POST /rex/v0/messages`: a session's message, handed to the app.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::borrow::Cow;

use rex_proto::{DecodeError, ErrorCode, RexMessage};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::call::call_or_run;
use super::error::{call_error, json_response, too_many, ApiError};
use super::request::{authenticate, bearer, parse_json, read_body};
use super::{Body, Config, Room};
use crate::server::actor::Command;
use crate::server::app::RexApp;

/// The body, `rex_proto::PostMessage`, read where it lies: the kind and
/// the payload's text borrowed from the request's bytes, so the payload
/// is parsed once, by the app's message type (`RexMessage::decode_json`).
#[derive(Deserialize)]
struct Posted<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    id: Option<u64>,
}

pub(crate) async fn post<A: RexApp>(
    req: Request<Incoming>,
    room: &Room<A>,
    config: &Config,
) -> Result<Response<Body>, ApiError> {
    let token = bearer(&req).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing `Authorization: Bearer <token>` header; create a session with \
             POST /rex/v0/sessions to get a token",
        )
    })?;
    let session = authenticate(&room.sessions, token)?;
    room.activity.touch(session);
    if let Some(usage) = &room.usage {
        usage.touch();
    }
    let bytes = read_body(req, config).await?;
    let body: Posted<'_> = parse_json(&bytes)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "the body is empty; send {\"kind\": \"…\", \"data\": …}",
        )
    })?;
    // The session's message rate, checked after the body is read and
    // before the app sees anything.
    room.admission
        .message(session)
        .map_err(|refusal| too_many(refusal, "this session sends messages"))?;
    let data = body.data.map(RawValue::get);
    let msg = <A::Protocol as RexMessage>::decode_json(&body.kind, data).map_err(|e| match e {
        DecodeError::UnknownKind { .. } => ApiError::new(ErrorCode::UnknownKind, e.to_string()),
        DecodeError::InvalidData { .. } => ApiError::new(ErrorCode::InvalidData, e.to_string()),
    })?;
    let id = body.id;
    let receipt = call_or_run(
        room,
        msg,
        |actor, msg| actor.message(session, id, msg),
        |msg, reply| Command::Message {
            session,
            id,
            msg,
            reply,
        },
    )
    .await?
    .map_err(call_error)?;
    Ok(json_response(StatusCode::OK, &receipt))
}
