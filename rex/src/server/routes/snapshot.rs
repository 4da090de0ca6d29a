//! `GET /rex/v0/snapshot`: the app's state for the reader (anonymous, or
//! the session of the token), with the index it reflects.

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rex_proto::ErrorCode;

use super::call::call;
use super::error::{call_error, json_response, ApiError};
use super::request::{authenticate, query_value, reader_token};
use super::{Body, Room};
use crate::server::actor::{CallError, Command};
use crate::server::app::RexApp;

pub(crate) async fn get<A: RexApp>(
    req: &Request<Incoming>,
    room: &Room<A>,
) -> Result<Response<Body>, ApiError> {
    let token = reader_token(req, query_value(req.uri().query(), "token"));
    let viewer = match token {
        Some(token) => Some(authenticate(&room.sessions, &token)?),
        None => None,
    };
    if let Some(viewer) = viewer {
        room.activity.touch(viewer);
    }
    let record = call(room, |reply| Command::Snapshot { viewer, reply })
        .await?
        .map_err(|error| match error {
            CallError::Internal(reason) => ApiError::new(
                ErrorCode::Internal,
                format!("the app failed to encode its snapshot: {reason}"),
            ),
            error => call_error(error),
        })?;
    let mut response = json_response(StatusCode::OK, &record);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&record.epoch.to_string()) {
        response.headers_mut().insert("rex-epoch", value);
    }
    Ok(response)
}
