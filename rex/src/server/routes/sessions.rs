//! `POST /rex/v0/sessions`: a new session in the room.

use std::net::IpAddr;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rex_proto::{CreateSession, SessionCreated};

use super::call::call;
use super::error::{call_error, json_response, too_many, ApiError};
use super::request::{client_addr, read_json};
use super::{Body, Config, Room};
use crate::server::access::{self, Refusal as AccessRefusal};
use crate::server::actor::Command;
use crate::server::app::app_id;
use crate::server::app::RexApp;
use crate::server::limits::Reservation;

pub(crate) async fn create<A: RexApp>(
    req: Request<Incoming>,
    room: &Room<A>,
    config: &Config,
) -> Result<Response<Body>, ApiError> {
    let addr = client_addr(&req);
    let query = req.uri().query().map(str::to_owned);
    let body: CreateSession = read_json(req, config).await?.unwrap_or_default();
    // The PIN and the name (its length, no control characters).
    admit_join(room, &body, query.as_deref())?;
    let reservation = admit_session(&addr, room)?;
    let name = body.name;
    let joined = call(room, |reply| Command::Join { name, reply })
        .await?
        .map_err(call_error)?;
    reservation.commit(joined.session);
    if let Some(usage) = &room.usage {
        usage.touch();
    }
    tracing::debug!(session = %joined.session, "session created");
    let created = SessionCreated {
        session: joined.session,
        token: joined.token,
        epoch: room.log.epoch(),
        next: joined.next,
        app: app_id::<A>().to_owned(),
    };
    Ok(json_response(StatusCode::CREATED, &created))
}

/// The room's access rules (PIN, name) for a session-creation request.
fn admit_join<A: RexApp>(
    room: &Room<A>,
    body: &CreateSession,
    query: Option<&str>,
) -> Result<(), ApiError> {
    let refused = |r: AccessRefusal| ApiError::new(r.code, r.reason);
    access::check_pin(room.pin.as_deref(), body, query).map_err(refused)?;
    if let Some(name) = &body.name {
        access::check_name(name).map_err(refused)?;
    }
    Ok(())
}

/// The address's session rate and quota (`limits.rs`), checked after the
/// body is read (an answer never leaves an unread body behind) and before
/// the app sees anything, so a refused request changes nothing.
fn admit_session<'a, A: RexApp>(
    addr: &IpAddr,
    room: &'a Room<A>,
) -> Result<Reservation<'a>, ApiError> {
    room.admission.session(*addr).map_err(|refusal| {
        let what = format!("this address ({addr}) creates sessions");
        too_many(refusal, &what)
    })
}
