//! A host of a group at work: taking a room over when nobody serves it,
//! sending clients to the room's owner (`307 moved`), letting a room go
//! when its lease is lost, and renewing leases (`docs/protocol.md` §16,
//! `docs/scaling.md`). What is in Redis is in `shared.rs`.

use std::sync::{Arc, PoisonError, Weak};

use http::Request;
use hyper::body::Incoming;
use rex_proto::{ErrorCode, RoomCode};
use tokio::time::Instant;

use super::shared::{Claim, Shared};
use super::site::{redis_unavailable, Backing, HostSite, Hosted, Taken};
use super::NewRoom;
use crate::server::app::RexApp;
use crate::server::routes::ApiError;

impl<A: RexApp> HostSite<A> {
    /// Stops serving room `code` without ending it (a host of a group:
    /// another host serves it now, or will at the next request): its
    /// requests in flight finish, its streams end (their clients come
    /// back and are sent to the room's owner), its app stops, and its
    /// lease is given back if this host still holds it.
    pub(crate) fn relinquish(&self, code: RoomCode, why: &str) {
        let Some(hosted) = self.write().release(code) else {
            return;
        };
        tracing::warn!(room = %code, why, "this host stops serving the room");
        self.wake.notify_one();
        let shared = self.shared();
        tokio::spawn(async move {
            hosted.close().await;
            // However it ended, the room is no longer this host's.
            let _ = hosted.stop_app().await;
            if let (Some(shared), Some(lease)) = (shared, &hosted.lease) {
                shared.release(code, &lease.token).await;
            }
        });
    }

    /// The Redis this host shares its rooms through, if it does.
    pub(crate) fn shared(&self) -> Option<Arc<Shared>> {
        match self.storage.as_ref().map(|s| &s.backing) {
            Some(Backing::Shared(shared)) => Some(shared.clone()),
            _ => None,
        }
    }

    /// Asks the group who serves room `code`; takes it over if nobody
    /// does. One request at a time per room, so a crowd of clients coming
    /// back after a host died opens the room once.
    pub(super) async fn take_over(
        &self,
        req: &Request<Incoming>,
        code: RoomCode,
        shared: &Shared,
    ) -> Result<Option<Arc<Hosted<A>>>, ApiError> {
        let _turn = self.adopting.turn(code).lock_owned().await;
        // Another request may have opened it while this one waited.
        if let Some(hosted) = self.local(code)? {
            return Ok(Some(hosted));
        }
        let asked = Instant::now();
        match shared.claim(code).await.map_err(redis_unavailable)? {
            Claim::Unknown => Ok(None),
            Claim::Ended => Err(ApiError::new(
                ErrorCode::Gone,
                format!("room {code} has ended; ask for the code of the next game"),
            )),
            Claim::Owner(owner) => Err(moved(req, code, &owner)),
            Claim::Mine(token, record) => {
                if !self.write().reserve_code(code) {
                    shared.release(code, &token).await;
                    return Err(ApiError::new(
                        ErrorCode::Unavailable,
                        format!("room {code} is being opened; try again"),
                    ));
                }
                let new = NewRoom {
                    code,
                    name: record.name,
                    settings: record.settings,
                };
                let taken = Taken {
                    token: token.clone(),
                    asked,
                };
                match self.open(&new, false, Some(taken)).await {
                    Ok(hosted) => {
                        self.write().fill(code, hosted.clone());
                        self.wake.notify_one();
                        tracing::info!(room = %code, "room taken over: this host serves it now");
                        Ok(Some(hosted))
                    }
                    Err(error) => {
                        self.write().cancel(code);
                        shared.release(code, &token).await;
                        tracing::error!(room = %code, reason = %error.body.reason, "could not take the room over");
                        Err(error)
                    }
                }
            }
        }
    }
}

/// `307 moved`: the same request at the room's owner (`docs/protocol.md`
/// §16).
pub(super) fn moved(req: &Request<Incoming>, code: RoomCode, owner: &str) -> ApiError {
    let tail = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path(), |pq| pq.as_str());
    let location = format!("{}{tail}", owner.trim_end_matches('/'));
    ApiError::new(
        ErrorCode::Moved,
        format!("room {code} is served by {owner}; follow the Location header"),
    )
    .with_location(location)
}

/// Renews the leases of a group host's rooms every third of the lease
/// time (and says the host is live), and lets go of every room whose lease
/// another host took, or that could not be renewed in time.
pub(super) async fn keep_leases<A: RexApp>(site: Weak<HostSite<A>>, shared: Arc<Shared>) {
    let period = shared.lease / 3;
    loop {
        tokio::time::sleep(period).await;
        let Some(site) = site.upgrade() else { return };
        let rooms: Vec<(RoomCode, String)> = site
            .directory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .live()
            .filter_map(|(code, hosted)| Some((*code, hosted.lease.as_ref()?.token.clone())))
            .collect();
        let sent = Instant::now();
        match shared.renew(&rooms).await {
            Ok(held) => {
                for ((code, token), held) in rooms.into_iter().zip(held) {
                    if !held {
                        site.relinquish(code, "another host holds its lease now");
                        continue;
                    }
                    if let Some(hosted) = site.live(&code) {
                        if let Some(lease) = hosted.lease.as_ref().filter(|l| l.token == token) {
                            *lease
                                .valid_until
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner) =
                                sent + shared.serves_for();
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew the rooms' leases");
                let now = Instant::now();
                for (code, _) in rooms {
                    let lapsed = site
                        .live(&code)
                        .and_then(|h| h.lease.as_ref().map(|l| !l.valid(now)))
                        .unwrap_or(false);
                    if lapsed {
                        site.relinquish(code, "its lease could not be renewed in time");
                    }
                }
            }
        }
    }
}
