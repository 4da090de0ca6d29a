//! `POST /rex/v0/messages`: a session's message, handed to the app.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rex_proto::{DecodeError, ErrorCode, PostMessage, RexMessage};

use super::call::call;
use super::error::{call_error, json_response, too_many, ApiError};
use super::request::{authenticate, bearer, read_json};
use super::{Body, Config, Room};
use crate::server::actor::Command;
use crate::server::app::RexApp;

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
    let body: PostMessage = read_json(req, config).await?.ok_or_else(|| {
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
    let msg = <A::Protocol as RexMessage>::decode(&body.kind, body.data).map_err(|e| match e {
        DecodeError::UnknownKind { .. } => ApiError::new(ErrorCode::UnknownKind, e.to_string()),
        DecodeError::InvalidData { .. } => ApiError::new(ErrorCode::InvalidData, e.to_string()),
    })?;
    let id = body.id;
    let receipt = call(room, |reply| Command::Message {
        session,
        id,
        msg,
        reply,
    })
    .await?
    .map_err(call_error)?;
    Ok(json_response(StatusCode::OK, &receipt))
}
