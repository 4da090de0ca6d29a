//! The error answer every endpoint shares, and the errors several of them
//! give.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use rex_proto::{ErrorBody, ErrorCode};
use serde::Serialize;

use super::Body;
use crate::server::actor::CallError;
use crate::server::bucket;
use crate::server::dedupe::repeat_reason;
use crate::server::guard::Refusal;
use crate::server::limits::Refusal as LimitRefusal;

/// An error answer: status from the code, body `{error, reason, …}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) body: ErrorBody,
    /// The one header some errors add (one field, not one per header:
    /// every error result carries it, and most never use it).
    pub(crate) header: Option<ErrorHeader>,
}

/// A header an error answer adds.
#[derive(Debug)]
pub(crate) enum ErrorHeader {
    /// `Allow`, of a `405`.
    Allow(&'static str),
    /// `Location`, of a `307 moved`.
    Location(Box<str>),
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        ApiError {
            body: ErrorBody::new(code, reason),
            header: None,
        }
    }

    /// With a `Location` header (`307 moved`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_location(mut self, location: String) -> Self {
        self.header = Some(ErrorHeader::Location(location.into_boxed_str()));
        self
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.body.error.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, &self.body);
        match &self.header {
            None => {}
            Some(ErrorHeader::Allow(allow)) => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            Some(ErrorHeader::Location(location)) => {
                // A URL made of the owner's configured URL and the
                // request's own path: a header value unless the
                // configuration is broken.
                if let Ok(location) = HeaderValue::from_str(location) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
            }
        }
        if self.body.error == ErrorCode::RequestTimeout {
            // The rest of the body may still come; the connection cannot
            // carry another request after it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(secs) = self.body.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::new(refusal.code, refusal.reason)
    }
}

/// A JSON answer with `status`.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    // Our own response types always serialize.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The room no longer takes work: the server is shutting down, or (on a
/// host) the room is being closed.
pub(crate) fn stopped() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the server is shutting down or this room is closing; try again when it is back",
    )
}

/// What a call the app refused or failed becomes.
pub(crate) fn call_error(error: CallError) -> ApiError {
    match error {
        CallError::Rejected(reason) => ApiError::new(ErrorCode::Rejected, reason),
        CallError::Internal(reason) => ApiError::new(
            ErrorCode::Internal,
            format!("the app failed to encode an event, nothing was changed: {reason}"),
        ),
        CallError::Full(limit) => ApiError::new(
            ErrorCode::Unavailable,
            format!("this room has reached its limit of {limit} sessions"),
        ),
        CallError::NoSnapshot => ApiError::new(
            ErrorCode::NotFound,
            "this app does not provide snapshots; read the log from `oldest` (GET /rex/v0/events)",
        ),
        CallError::Repeated { id, code } => ApiError::new(code, repeat_reason(id, code)),
        CallError::Expired => ApiError::new(
            ErrorCode::Unauthorized,
            "the session expired after being idle; create a new one with POST /rex/v0/sessions",
        ),
    }
}

/// How long a client is told to wait when its address holds its quota of
/// live sessions: a place frees only when one of them ends, so retrying
/// sooner is pointless.
const QUOTA_RETRY_AFTER_SECS: u64 = 30;

/// A request refused by an admission limit (`limits.rs`): `429` with
/// `Retry-After`. `what` says who did what too fast ("this session sends
/// messages").
pub(crate) fn too_many(refusal: LimitRefusal, what: &str) -> ApiError {
    let (reason, secs) = match refusal {
        LimitRefusal::Rate(wait) => {
            let secs = bucket::retry_after_secs(wait);
            (
                format!(
                    "{what} faster than this server allows; nothing was done; try again in {secs} s"
                ),
                secs,
            )
        }
        LimitRefusal::Quota(max) => (
            format!(
                "this address already holds {max} live sessions, the most this server allows \
                 one address; nothing was created; reuse a session you have"
            ),
            QUOTA_RETRY_AFTER_SECS,
        ),
    };
    let mut error = ApiError::new(ErrorCode::TooManyRequests, reason);
    error.body.retry_after = Some(secs);
    error
}
