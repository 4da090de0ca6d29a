//! `GET /rex/v0/events`: the log as a stream (NDJSON or SSE) from where
//! the reader resumes, for as long as it stays.

use http::header::{self, HeaderValue};
use http::{Request, Response};
use hyper::body::Incoming;
use rex_proto::{ErrorCode, EventIndex};

use super::error::{call_error, stopped, ApiError};
use super::request::{accepts_event_stream, authenticate, reader_token};
use super::resume::{resume, Asked};
use super::{Body, Config, Room};
use crate::server::actor::CallError;
use crate::server::app::RexApp;
use crate::server::log::Framing;
use crate::server::stream::Follower;

/// The parsed query of `GET /events`.
#[derive(Debug, Default)]
struct EventsQuery {
    asked: Asked,
    token: Option<String>,
}

fn parse_query(query: Option<&str>) -> Result<EventsQuery, ApiError> {
    let mut parsed = EventsQuery::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "start" => {
                let start = value.parse().map_err(|_| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("query `start={value}` is not an event index (a whole number ≥ 0)"),
                    )
                })?;
                parsed.asked.start = Some(start);
            }
            "epoch" => {
                let epoch = value.parse().map_err(|e| {
                    ApiError::new(ErrorCode::BadRequest, format!("query `epoch={value}`: {e}"))
                })?;
                parsed.asked.epoch = Some(epoch);
            }
            "token" => parsed.token = Some(value.into_owned()),
            // Unknown parameters are ignored so newer clients can add some.
            _ => {}
        }
    }
    Ok(parsed)
}

/// `Last-Event-ID`, what an `EventSource` sends when it reconnects.
fn last_event_id(req: &Request<Incoming>) -> Result<Option<EventIndex>, ApiError> {
    let Some(last) = req.headers().get("last-event-id") else {
        return Ok(None);
    };
    last.to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::BadRequest,
                "header `Last-Event-ID` is not an event index",
            )
        })
}

pub(crate) fn get<A: RexApp>(
    req: &Request<Incoming>,
    room: &Room<A>,
    config: &Config,
) -> Result<Response<Body>, ApiError> {
    let mut query = parse_query(req.uri().query())?;
    query.asked.last_event_id = last_event_id(req)?;
    let framing = if accepts_event_stream(req) {
        Framing::Sse
    } else {
        Framing::Ndjson
    };
    if room.gate.is_closing() {
        return Err(stopped());
    }
    // Subscribe before looking at the bounds so no append is missed between.
    let signal = room.log.subscribe();
    let bounds = room.log.bounds();
    let epoch = room.log.epoch();
    let start = resume(query.asked, epoch, bounds).map_err(|reason| {
        let mut error = ApiError::new(ErrorCode::Gone, reason);
        error.body.epoch = Some(epoch);
        error.body.oldest = Some(bounds.oldest);
        error.body.head = Some(bounds.head);
        error
    })?;
    // Authenticate after the bounds: a reader resuming from before a
    // restart holds a token of the old epoch, and what it needs to hear is
    // `410 gone` (resync), not that its token is unknown.
    let reader = match reader_token(req, query.token) {
        Some(token) => Some(authenticate(&room.sessions, &token)?),
        None => None,
    };
    // An open stream keeps its session from expiring, until it closes.
    let lease = match reader {
        Some(session) => Some(
            room.activity
                .open_stream(session)
                .ok_or_else(|| call_error(CallError::Expired))?,
        ),
        None => None,
    };
    // And keeps a hosted room from being closed as idle.
    let in_use = room.usage.as_ref().map(|usage| usage.open_stream());
    let follower = Follower {
        log: room.log.clone(),
        cursor: start,
        reader,
        framing,
        heartbeat: config.heartbeat,
        signal,
        idle: Box::pin(tokio::time::sleep(config.heartbeat)),
        _leases: (lease, in_use),
    };
    let mut response = Response::new(follower.into_body());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match framing {
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
        }),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&epoch.to_string()) {
        headers.insert("rex-epoch", value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_accepts_known_keys_and_ignores_others() {
        let q = parse_query(Some("start=5&foo=bar&token=a%2Bb")).unwrap();
        assert_eq!(q.asked.start, Some(5));
        assert_eq!(q.token.as_deref(), Some("a+b"));
        assert!(parse_query(Some("start=-1")).is_err());
        assert!(parse_query(Some("epoch=nope")).is_err());
        assert_eq!(parse_query(None).unwrap().asked.start, None);
    }
}
