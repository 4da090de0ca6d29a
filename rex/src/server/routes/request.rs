//! Reading a request: its method, its JSON body, its token, its client's
//! address and the headers several endpoints look at.

use std::net::IpAddr;

use bytes::Bytes;
use http::header;
use http::{Method, Request};
use hyper::body::Incoming;
use rex_proto::{ErrorCode, SessionId};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{ApiError, ErrorHeader};
use super::Config;
use crate::server::body::{self, BodyError};
use crate::server::guard;
use crate::server::session::SessionTable;

/// Refuses a request whose method is not `method` (`405` with `Allow`).
pub(crate) fn allow(
    req: &Request<Incoming>,
    method: &Method,
    allowed: &'static str,
) -> Result<(), ApiError> {
    if req.method() == method {
        return Ok(());
    }
    let mut error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not accept {}; use {allowed}",
            req.uri().path(),
            req.method()
        ),
    );
    error.header = Some(ErrorHeader::Allow(allowed));
    Err(error)
}

/// A `POST` the server accepts must come from its own pages and be
/// declared JSON (`guard`): what keeps other sites' pages out.
pub(crate) fn state_changing(req: &Request<Incoming>) -> Result<(), ApiError> {
    guard::check_state_changing(req.uri(), req.version(), req.headers())?;
    Ok(())
}

/// A `POST` endpoint's method and origin checks together.
pub(crate) fn post(req: &Request<Incoming>) -> Result<(), ApiError> {
    allow(req, &Method::POST, "POST")?;
    state_changing(req)
}

/// Reads a JSON body within the size limit and the body timeout. `Ok(None)`
/// for an empty body. (`guard` has checked the declared type.)
pub(crate) async fn read_json<T: DeserializeOwned>(
    req: Request<Incoming>,
    config: &Config,
) -> Result<Option<T>, ApiError> {
    let bytes = read_body(req, config).await?;
    parse_json(&bytes)
}

/// Reads a body within the size limit and the body timeout.
pub(crate) async fn read_body(req: Request<Incoming>, config: &Config) -> Result<Bytes, ApiError> {
    let limit = config.body_limit;
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!("the request body is larger than this server's limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    let timeout = config.body_timeout;
    let bytes = match body::collect(req.into_body(), limit, timeout).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return Err(too_large()),
        Err(BodyError::TimedOut) => {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request body did not arrive within {timeout:?}; send the whole body \
                     at once (the server's `body_timeout`)"
                ),
            ))
        }
        Err(BodyError::Broken(e)) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("could not read the request body: {e}"),
            ))
        }
    };
    Ok(bytes)
}

/// Parses a JSON body read by [`read_body`], borrowing from it where `T`
/// does. `Ok(None)` for an empty body.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<Option<T>, ApiError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    // Every body of the protocol is an object; serde's derived impls would
    // also take an array of the fields in order, which we refuse.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the body is not valid JSON of the expected shape: expected a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the body is not valid JSON of the expected shape: {e}"),
        )
    })
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(crate) fn bearer(req: &Request<Incoming>) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The token a reading request carries: the `Authorization` header, or
/// `?token=` (what an `EventSource` can send).
pub(crate) fn reader_token(req: &Request<Incoming>, query: Option<String>) -> Option<String> {
    bearer(req).map(str::to_owned).or(query)
}

/// The session `token` belongs to, or `401`.
pub(crate) fn authenticate(sessions: &SessionTable, token: &str) -> Result<SessionId, ApiError> {
    sessions.authenticate(token).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "the token does not belong to any session of this room (a token from before a \
             server restart, of a session that expired after being idle, or of another room, \
             is not valid here); create a session with POST /rex/v0/sessions",
        )
    })
}

/// The TCP peer's IP address, put on every request by the accept loop.
/// Forwarding headers are not trusted: any phone on the LAN could write
/// them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// The address of the client that sent `req`.
pub(crate) fn client_addr(req: &Request<Incoming>) -> IpAddr {
    // Always set by the accept loop; unspecified would put every client in
    // one bucket, which errs on the side of refusing.
    req.extensions()
        .get::<ClientAddr>()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.0)
}

/// Whether the request's `If-None-Match` names `etag` (or `*`): the
/// client's copy is current, and `304` answers it.
pub(crate) fn if_none_match(req: &Request<Incoming>, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*")
}

/// Whether the client asks for Server-Sent Events rather than NDJSON.
pub(crate) fn accepts_event_stream(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/event-stream")
        })
}

/// The value of `?name=` in a query string, if present.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
