use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Epoch, EventIndex};

/// Every error code of protocol v0, with its HTTP status.
///
/// The wire form is the snake_case name (`"unknown_kind"`). A code this
/// version does not know (from a newer server) decodes as
/// [`ErrorCode::Unrecognized`] instead of failing, so a client can still show
/// the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: malformed JSON, a body of the wrong shape, or a bad query string.
    BadRequest,
    /// 400: the message kind is not one the app accepts.
    UnknownKind,
    /// 422: the payload does not fit the message kind.
    InvalidData,
    /// 401: the `Authorization` token is missing or wrong.
    Unauthorized,
    /// 403: the request came from where the server does not serve: an
    /// unknown `Host` (DNS rebinding), a foreign `Origin` (another web
    /// page), or without the room's PIN.
    Forbidden,
    /// 404: no such path.
    NotFound,
    /// 405: the path exists but not with this method (see the `Allow` header).
    MethodNotAllowed,
    /// 408: the request's body did not arrive in time.
    RequestTimeout,
    /// 409: the app refused the message; the reason is the app's own.
    Rejected,
    /// 307: the room is served by another host of the group (§16); the
    /// `Location` header is the same request at that host.
    Moved,
    /// 410: the requested part of the log no longer exists (another epoch, or
    /// dropped by retention, or beyond the head); the client must resync.
    Gone,
    /// 413: the request body is larger than the server's limit.
    TooLarge,
    /// 415: the request body is not declared as JSON.
    UnsupportedMediaType,
    /// 429: too many requests from this session or address; try again
    /// after `retry_after` seconds (also the `Retry-After` header).
    TooManyRequests,
    /// 500: the server failed in a way that is not the client's fault.
    Internal,
    /// 503: the server is shutting down, or the session limit is reached.
    Unavailable,
    /// A code this version of the protocol does not know.
    #[serde(other)]
    Unrecognized,
}

impl ErrorCode {
    /// Every code of protocol v0 (without [`ErrorCode::Unrecognized`]).
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadRequest,
        ErrorCode::UnknownKind,
        ErrorCode::InvalidData,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Rejected,
        ErrorCode::Moved,
        ErrorCode::Gone,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::TooManyRequests,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::UnknownKind => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::Rejected => 409,
            ErrorCode::Moved => 307,
            ErrorCode::Gone => 410,
            ErrorCode::TooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidData => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal | ErrorCode::Unrecognized => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The wire name of the code (`"unknown_kind"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownKind => "unknown_kind",
            ErrorCode::InvalidData => "invalid_data",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Rejected => "rejected",
            ErrorCode::Moved => "moved",
            ErrorCode::Gone => "gone",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unrecognized => "unrecognized",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response: `{"error": "<code>", "reason": "…"}`.
///
/// A `410 gone` answer to `GET /events` also names the server's current
/// `epoch`, its `oldest` retained index and its `head` (the index the next
/// event will get), so the client can resync without another request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, as a machine-readable code.
    pub error: ErrorCode,
    /// What went wrong, as a sentence a person can act on.
    pub reason: String,
    /// With `gone`: the server's current epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Epoch>,
    /// With `gone`: the oldest index the server still retains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<EventIndex>,
    /// With `gone`: the index the next event will get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<EventIndex>,
    /// With `too_many_requests`: whole seconds to wait before trying again
    /// (the same as the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ErrorBody {
    /// An error body with a code and a reason and nothing else.
    pub fn new(error: ErrorCode, reason: impl Into<String>) -> Self {
        ErrorBody {
            error,
            reason: reason.into(),
            epoch: None,
            oldest: None,
            head: None,
            retry_after: None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_decode() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            // Every code is an error, except `moved`: a redirect that
            // carries an error body for clients that do not follow it.
            let expected = if code == ErrorCode::Moved {
                300..400
            } else {
                400..600
            };
            assert!(
                expected.contains(&code.status()),
                "{code}: {}",
                code.status()
            );
        }
        let future: ErrorCode = serde_json::from_str("\"teapot\"").unwrap();
        assert_eq!(future, ErrorCode::Unrecognized);
    }

    #[test]
    fn plain_error_body_has_only_error_and_reason() {
        let body = ErrorBody::new(ErrorCode::Rejected, "empty text");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"error": "rejected", "reason": "empty text"})
        );
    }
}
