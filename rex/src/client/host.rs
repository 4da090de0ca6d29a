//! A host of rooms (`docs/protocol.md`, hosted rooms): one server that runs
//! many rooms of one app, each under its own path (`/r/KXQF`). The host's
//! own endpoints describe it and open rooms; everything else is a room's,
//! reached with a [`Client`](super::Client) at the room's URL.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, StatusCode};
use rex_proto::{path, CreateRoom, HostInfo, RoomCreated};

use super::transport::{first_answering, Transport};
use super::{expect, ClientConfig, ClientError, Endpoint, IntoEndpoint};

/// A client of a host of rooms: what it runs ([`info`](HostClient::info))
/// and opening a room on it ([`create_room`](HostClient::create_room)).
///
/// Every call is made once: opening a room is not idempotent (a request
/// whose answer was lost may have opened one), so whether to try again is
/// the caller's choice.
///
/// ```no_run
/// # async fn example() -> Result<(), rex::ClientError> {
/// use rex::client::HostClient;
/// use rex::proto::CreateRoom;
///
/// let host = HostClient::connect("http://192.168.1.20:7700").await?;
/// let created = host
///     .create_room(&CreateRoom { name: Some("Friday quiz".into()), ..Default::default() })
///     .await?;
/// let room = host.room_endpoint(&created)?; // http://192.168.1.20:7700/r/KXQF
/// let client = rex::Client::<rex::Dynamic>::builder(room).name("Ada").connect().await?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
pub struct HostClient {
    transport: Transport,
    /// The base URLs of the hosts that share this host's rooms, from its
    /// last [`info`](HostClient::info): where a room's clients may go
    /// when this host stops answering (`docs/protocol.md` §16).
    peers: Mutex<Vec<String>>,
}

impl fmt::Debug for HostClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostClient")
            .field("endpoint", &self.transport.endpoint)
            .finish_non_exhaustive()
    }
}

impl HostClient {
    /// A client of the host at `endpoint` (its root URL, such as
    /// `"http://192.168.1.20:7700"`, or a discovered
    /// [`Room`](crate::discovery::Room) whose
    /// [`hosts_rooms`](crate::discovery::Room::hosts_rooms) is set). With
    /// one address this makes no request; with several it keeps the first
    /// where `GET /rex/v0/host` answers.
    pub async fn connect(endpoint: impl IntoEndpoint) -> Result<HostClient, ClientError> {
        let config = ClientConfig::default();
        let endpoint = first_answering(endpoint.into_endpoint()?, &config, path::HOST).await?;
        Ok(HostClient {
            transport: Transport::new(endpoint, config),
            peers: Mutex::new(Vec::new()),
        })
    }

    /// The host's base URL (the address that answered first, if it has
    /// several).
    pub fn endpoint(&self) -> &Endpoint {
        &self.transport.endpoint
    }

    /// Where this client sends its requests now: as
    /// [`Client::current_endpoint`](super::Client::current_endpoint), the
    /// base of the last redirect it followed, or its endpoint's address in
    /// use.
    pub fn current_endpoint(&self) -> Endpoint {
        Endpoint::single(&self.transport.base())
    }

    /// Describes the host (`GET /rex/v0/host`): its app, its name, how
    /// many rooms it runs and may run, and the hosts that share its rooms
    /// (`peers`), which [`room_endpoint`](HostClient::room_endpoint) then
    /// adds as fallbacks. A server that is a single room answers
    /// [`ClientError::NotFound`].
    pub async fn info(&self) -> Result<HostInfo, ClientError> {
        let answer = self
            .transport
            .call(Method::GET, path::HOST, None, None)
            .await
            .map_err(|f| f.into_error())?;
        let info: HostInfo = expect(StatusCode::OK, answer.status, &answer.body)?;
        *self.peers.lock().unwrap_or_else(PoisonError::into_inner) = info.peers.clone();
        Ok(info)
    }

    /// The base URLs of the hosts that share this host's rooms, as its last
    /// [`info`](HostClient::info) listed them (empty before, and for a host
    /// that shares nothing).
    pub fn peers(&self) -> Vec<String> {
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Opens a room (`POST /rex/v0/rooms`) with a display name and the
    /// app's own settings, if any. The answer names the room's code and
    /// path; [`room_endpoint`](HostClient::room_endpoint) makes its URL.
    ///
    /// A host that is full answers [`ClientError::Unavailable`]; one that
    /// finds rooms opened too fast from this address,
    /// [`ClientError::TooManyRequests`] with the wait it asks for.
    pub async fn create_room(&self, request: &CreateRoom) -> Result<RoomCreated, ClientError> {
        let body = serde_json::to_vec(request).map_err(|e| ClientError::Protocol {
            reason: e.to_string(),
        })?;
        let answer = self
            .transport
            .call(Method::POST, path::ROOMS, None, Some(Bytes::from(body)))
            .await
            .map_err(|f| f.into_error())?;
        expect(StatusCode::CREATED, answer.status, &answer.body)
    }

    /// The base URL of a room of this host: the host's, followed by the
    /// room's path (`http://192.168.1.20:7700/r/KXQF`). A host behind a
    /// reverse proxy keeps the proxy's prefix (`http://example.lan/games`
    /// gives `http://example.lan/games/r/KXQF`).
    ///
    /// The endpoint's fallbacks are the room's path on the host's other
    /// addresses, then on each of the host's [`peers`](HostClient::peers)
    /// (learnt by [`info`](HostClient::info); call it first): a
    /// [`Client`](super::Client) made from it goes there in turn when this
    /// host stops answering, and the one that answers sends it on to the
    /// room's owner. A peer that is not an `http://` URL is left out.
    pub fn room_endpoint(&self, room: &RoomCreated) -> Result<Endpoint, ClientError> {
        let endpoint = self.transport.endpoint.append_path(&room.path)?;
        let peers = self.peers();
        let elsewhere = peers.iter().filter_map(|peer| {
            match Endpoint::parse(peer).and_then(|p| p.append_path(&room.path)) {
                Ok(there) => Some(there.as_str().to_owned()),
                Err(e) => {
                    tracing::debug!(%peer, %e, "a peer the host listed is not a base URL; left out");
                    None
                }
            }
        });
        Ok(endpoint.with_fallbacks(elsewhere))
    }
}
