//! [`ClientError`]: every way a client call can fail, one variant per
//! protocol error code plus the transport's own failures.

use std::fmt;

use rex_proto::{DecodeError, EncodeError, Epoch, ErrorBody, ErrorCode, EventIndex};

/// Why a client call failed.
///
/// Every error code of protocol v0 has its own variant carrying the server's
/// reason (a sentence a person can act on), so an app can match on what
/// happened and show the reason as is.
///
/// ```
/// fn explain(error: &rex::ClientError) -> String {
///     match error {
///         rex::ClientError::Rejected { reason } => reason.clone(), // the app's words
///         rex::ClientError::Unauthorized { .. } => "the room restarted; join again".to_owned(),
///         e if e.is_transient() => format!("network trouble, try again: {e}"),
///         e => e.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// `400 bad_request`: the server could not parse the request.
    BadRequest {
        /// The server's reason.
        reason: String,
    },
    /// `400 unknown_kind`: the server's app does not accept this message
    /// kind (the client and server protocols differ).
    UnknownKind {
        /// The server's reason, listing the kinds it accepts.
        reason: String,
    },
    /// `422 invalid_data`: the payload does not fit the message kind.
    InvalidData {
        /// The server's reason, naming the field.
        reason: String,
    },
    /// `401 unauthorized`: the session token is not (or no longer) valid.
    Unauthorized {
        /// The server's reason.
        reason: String,
    },
    /// `403 forbidden`: the server does not serve this request from here
    /// (its `Host` is not one the server answers to, the page's `Origin`
    /// is foreign, or the room's PIN is missing or wrong).
    Forbidden {
        /// The server's reason, naming what to configure or supply.
        reason: String,
    },
    /// `408 request_timeout`: the request's body did not arrive in time
    /// (a very slow network); retried like a lost connection.
    RequestTimeout {
        /// The server's reason.
        reason: String,
    },
    /// `429 too_many_requests`: this session or address sent too much;
    /// sends wait `retry_after` and retry within the retry policy.
    TooManyRequests {
        /// The server's reason, naming the limit.
        reason: String,
        /// How long the server asked to wait.
        retry_after: Option<std::time::Duration>,
    },
    /// `404 not_found`: the URL does not lead to a REx server.
    NotFound {
        /// The server's reason.
        reason: String,
    },
    /// `405 method_not_allowed`.
    MethodNotAllowed {
        /// The server's reason.
        reason: String,
    },
    /// `409 rejected`: the app refused the message.
    Rejected {
        /// The app's reason, meant for the user.
        reason: String,
    },
    /// `410 gone`: the requested part of the log no longer exists.
    Gone {
        /// The server's reason.
        reason: String,
        /// The server's current epoch.
        epoch: Option<Epoch>,
        /// The oldest index the server retains.
        oldest: Option<EventIndex>,
        /// The server's head.
        head: Option<EventIndex>,
    },
    /// `413 too_large`: the message is larger than the server accepts.
    TooLarge {
        /// The server's reason, with the limit.
        reason: String,
    },
    /// `415 unsupported_media_type`.
    UnsupportedMediaType {
        /// The server's reason.
        reason: String,
    },
    /// `500 internal`: the server's app failed.
    Internal {
        /// The server's reason.
        reason: String,
    },
    /// `307 moved`: the room is served by another host of its group
    /// (`docs/protocol.md` §16) and the client gave up following the
    /// redirects (too many in a row).
    Moved {
        /// The server's reason, which names the owner.
        reason: String,
    },
    /// `503 unavailable`: the server is shutting down or full (after the
    /// client's retries, for sends).
    Unavailable {
        /// The server's reason.
        reason: String,
    },
    /// An error status with a code this client does not know.
    Server {
        /// The HTTP status.
        status: u16,
        /// The `error` code as sent, if the body had one.
        code: Option<String>,
        /// The server's reason, or the body as text.
        reason: String,
    },
    /// The server could not be reached, or the connection failed, and the
    /// retries (where the call retries) ran out.
    Transport {
        /// What failed, for people.
        reason: String,
        /// The underlying error.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// No answer within the request timeout (after retries, for sends).
    Timeout,
    /// The URL given to the client is not a usable `http://` URL.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// This client has no session (it was built with
    /// [`ClientBuilder::anonymous`](super::ClientBuilder::anonymous)), so it
    /// cannot send.
    NoSession,
    /// The message could not be encoded (a bug in the message type).
    Encode(EncodeError),
    /// An event of a kind this client knows did not decode: the server's
    /// protocol differs from the client's. The stream goes on after it.
    Decode {
        /// The event's index.
        index: EventIndex,
        /// What did not fit.
        error: DecodeError,
    },
    /// The server runs another app than the client's protocol is for (a
    /// trivia client pointed at a chat room): nothing was sent.
    WrongApp {
        /// The app id of the client's protocol.
        expected: &'static str,
        /// The app id the server reported in `/info`.
        found: String,
    },
    /// The server answered something that is not protocol v0.
    Protocol {
        /// What was wrong.
        reason: String,
    },
}

impl ClientError {
    /// Maps an error response to its variant.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> ClientError {
        let Ok(body) = serde_json::from_slice::<ErrorBody>(body) else {
            return ClientError::Server {
                status,
                code: None,
                reason: String::from_utf8_lossy(body).chars().take(500).collect(),
            };
        };
        let reason = body.reason;
        match body.error {
            ErrorCode::BadRequest => ClientError::BadRequest { reason },
            ErrorCode::UnknownKind => ClientError::UnknownKind { reason },
            ErrorCode::InvalidData => ClientError::InvalidData { reason },
            ErrorCode::Unauthorized => ClientError::Unauthorized { reason },
            ErrorCode::Forbidden => ClientError::Forbidden { reason },
            ErrorCode::RequestTimeout => ClientError::RequestTimeout { reason },
            ErrorCode::TooManyRequests => ClientError::TooManyRequests {
                reason,
                retry_after: body.retry_after.map(std::time::Duration::from_secs),
            },
            ErrorCode::NotFound => ClientError::NotFound { reason },
            ErrorCode::MethodNotAllowed => ClientError::MethodNotAllowed { reason },
            ErrorCode::Rejected => ClientError::Rejected { reason },
            ErrorCode::Gone => ClientError::Gone {
                reason,
                epoch: body.epoch,
                oldest: body.oldest,
                head: body.head,
            },
            ErrorCode::TooLarge => ClientError::TooLarge { reason },
            ErrorCode::UnsupportedMediaType => ClientError::UnsupportedMediaType { reason },
            ErrorCode::Internal => ClientError::Internal { reason },
            ErrorCode::Unavailable => ClientError::Unavailable { reason },
            ErrorCode::Moved => ClientError::Moved { reason },
            _ => ClientError::Server {
                status,
                code: None,
                reason,
            },
        }
    }

    pub(crate) fn transport(
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> ClientError {
        ClientError::Transport {
            reason: reason.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The protocol error code this error carries, if it came from the
    /// server.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            ClientError::BadRequest { .. } => ErrorCode::BadRequest,
            ClientError::UnknownKind { .. } => ErrorCode::UnknownKind,
            ClientError::InvalidData { .. } => ErrorCode::InvalidData,
            ClientError::Unauthorized { .. } => ErrorCode::Unauthorized,
            ClientError::Forbidden { .. } => ErrorCode::Forbidden,
            ClientError::RequestTimeout { .. } => ErrorCode::RequestTimeout,
            ClientError::TooManyRequests { .. } => ErrorCode::TooManyRequests,
            ClientError::NotFound { .. } => ErrorCode::NotFound,
            ClientError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ClientError::Rejected { .. } => ErrorCode::Rejected,
            ClientError::Gone { .. } => ErrorCode::Gone,
            ClientError::TooLarge { .. } => ErrorCode::TooLarge,
            ClientError::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            ClientError::Internal { .. } => ErrorCode::Internal,
            ClientError::Unavailable { .. } => ErrorCode::Unavailable,
            ClientError::Moved { .. } => ErrorCode::Moved,
            ClientError::Server { .. } => ErrorCode::Unrecognized,
            _ => return None,
        })
    }

    /// Whether trying the same call again later may succeed (the network or
    /// the server's availability), as opposed to an answer that will not
    /// change.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Transport { .. }
                | ClientError::Timeout
                | ClientError::Unavailable { .. }
                | ClientError::Moved { .. }
                | ClientError::RequestTimeout { .. }
                | ClientError::TooManyRequests { .. }
        ) || matches!(self, ClientError::Server { status, .. } if *status >= 500)
    }

    /// How long the server asked to wait before trying again
    /// (`429 too_many_requests`), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ClientError::TooManyRequests { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::BadRequest { reason }
            | ClientError::UnknownKind { reason }
            | ClientError::InvalidData { reason }
            | ClientError::Unauthorized { reason }
            | ClientError::Forbidden { reason }
            | ClientError::RequestTimeout { reason }
            | ClientError::TooManyRequests { reason, .. }
            | ClientError::NotFound { reason }
            | ClientError::MethodNotAllowed { reason }
            | ClientError::Rejected { reason }
            | ClientError::Gone { reason, .. }
            | ClientError::TooLarge { reason }
            | ClientError::UnsupportedMediaType { reason }
            | ClientError::Internal { reason }
            | ClientError::Unavailable { reason }
            | ClientError::Moved { reason } => {
                let code = self.code().map_or("error", ErrorCode::as_str);
                write!(f, "{code}: {reason}")
            }
            ClientError::Server {
                status,
                code,
                reason,
            } => match code {
                Some(code) => write!(f, "server error {status} {code}: {reason}"),
                None => write!(f, "server error {status}: {reason}"),
            },
            ClientError::Transport { reason, source } => match source {
                Some(source) => write!(f, "{reason}: {source}"),
                None => f.write_str(reason),
            },
            ClientError::Timeout => f.write_str("the server did not answer in time"),
            ClientError::InvalidUrl { url, reason } => {
                write!(f, "invalid server URL `{url}`: {reason}")
            }
            ClientError::NoSession => f.write_str(
                "this client has no session; build it with a name or saved credentials to send",
            ),
            ClientError::Encode(e) => e.fmt(f),
            ClientError::Decode { index, error } => write!(f, "event {index}: {error}"),
            ClientError::WrongApp { expected, found } => write!(
                f,
                "this server runs the app `{found}`, not `{expected}`; check the address"
            ),
            ClientError::Protocol { reason } => write!(f, "not a REx v0 answer: {reason}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Transport {
                source: Some(source),
                ..
            } => Some(&**source as &(dyn std::error::Error + 'static)),
            ClientError::Encode(e) => Some(e),
            ClientError::Decode { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> Self {
        ClientError::Encode(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_its_variant_with_the_reason() {
        for &code in ErrorCode::ALL {
            let body = serde_json::to_vec(&ErrorBody::new(code, "because")).unwrap();
            let err = ClientError::from_response(code.status(), &body);
            assert_eq!(err.code(), Some(code));
            assert_eq!(err.to_string(), format!("{code}: because"));
        }
    }

    #[test]
    fn unknown_codes_and_non_json_bodies_keep_status_and_text() {
        let err =
            ClientError::from_response(418, br#"{"error":"teapot","reason":"short and stout"}"#);
        assert!(
            matches!(err, ClientError::Server { status: 418, ref reason, .. } if reason == "short and stout")
        );
        let err = ClientError::from_response(502, b"Bad Gateway");
        assert!(
            matches!(err, ClientError::Server { status: 502, ref reason, .. } if reason == "Bad Gateway")
        );
        assert!(err.is_transient());
    }
}
