//! A host of rooms (`docs/protocol.md`, hosted rooms): one server that runs
//! many rooms of one app, each under its own path (`/r/KXQF`). The host's
//! own endpoints describe it and open rooms; everything else is a room's,
//! reached with a [`Client`](super::Client) at the room's URL.

use std::fmt;

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
        })
    }

    /// The host's base URL.
    pub fn endpoint(&self) -> &Endpoint {
        &self.transport.endpoint
    }

    /// Describes the host (`GET /rex/v0/host`): its app, its name, and how
    /// many rooms it runs and may run. A server that is a single room
    /// answers [`ClientError::NotFound`].
    pub async fn info(&self) -> Result<HostInfo, ClientError> {
        let answer = self
            .transport
            .call(Method::GET, path::HOST, None, None)
            .await
            .map_err(|f| f.into_error())?;
        expect(StatusCode::OK, answer.status, &answer.body)
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
    pub fn room_endpoint(&self, room: &RoomCreated) -> Result<Endpoint, ClientError> {
        self.transport.endpoint.append_path(&room.path)
    }
}
