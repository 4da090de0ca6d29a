//! The typed client: a session that survives reconnects, sends that are
//! handled exactly once, and a resumable event stream.
//!
//! A client is generic over the app's [`Protocol`] (its message enum);
//! with derived enums, the generated `{Msg}Client` wraps it and adds one
//! sending method per message kind.
//!
//! ```no_run
//! # use rex::{Client, ClientError, Protocol, StreamItem};
//! # use futures_util::StreamExt;
//! # async fn example<P: Protocol>(hello: P) -> Result<(), ClientError> where P::Event: std::fmt::Debug {
//! let client = Client::<P>::builder("http://192.168.1.20:7700").name("Alice").connect().await?;
//! let mut events = client.events();
//! client.send(&hello).await?;
//! while let Some(item) = events.next().await {
//!     match item? {
//!         StreamItem::Event(e) => println!("{}: {:?}", e.meta.index, e.event),
//!         StreamItem::Unknown { kind, .. } => println!("(a newer server's `{kind}` event)"),
//!         StreamItem::Resync(r) => println!("missed events; continuing at {}", r.head),
//!         StreamItem::Connection(state) => println!("connection: {state:?}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod events;
pub(crate) mod follow;
mod host;
mod moved;
pub(crate) mod pump;
mod transport;
mod typed;

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use rex_proto::{
    path, CreateSession, Epoch, EventIndex, Info, Protocol, ProtocolSchema, Receipt, RexMessage,
    SessionCreated, SessionId, SessionToken, SnapshotRecord,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use error::ClientError;

/// The app's state as of an index of the log, from [`Client::snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateAt<S> {
    /// The state, decoded from the app's snapshot.
    pub state: S,
    /// The first index the state does not reflect: follow the log from
    /// here ([`Client::events_from`]).
    pub index: EventIndex,
    /// The log's clock when the snapshot was taken, in milliseconds since
    /// the epoch began (the clock of [`EventMeta::time`]).
    pub time: u64,
    /// The epoch `index` belongs to.
    pub epoch: Epoch,
}
pub use events::{Connection, Event, EventMeta, EventStream, Resync, ResyncCause, StreamItem};
pub use host::HostClient;
pub use transport::{Endpoint, IntoEndpoint, RetryPolicy};
pub use typed::TypedClient;

use transport::{CallFailure, Transport};

/// What a client needs to come back as the same session after the app was
/// killed: store it (it is serde) and pass it to
/// [`ClientBuilder::restore`]. It contains the secret token: keep it where
/// the app keeps its other secrets.
///
/// ```no_run
/// # async fn example<P: rex::Protocol>(client: rex::Client<P>) -> Result<(), Box<dyn std::error::Error>> {
/// // Before the app goes to the background:
/// if let Some(credentials) = client.credentials() {
///     std::fs::write("session.json", serde_json::to_string(&credentials)?)?;
/// }
/// // When it comes back:
/// let saved: rex::Credentials = serde_json::from_str(&std::fs::read_to_string("session.json")?)?;
/// let client = rex::Client::<P>::builder("http://192.168.1.20:7700")
///     .name("Alice")
///     .restore(saved)
///     .connect()
///     .await?;
/// println!("same player again: {}", client.restored());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The session's public id.
    pub session: SessionId,
    /// The session's secret.
    pub token: SessionToken,
    /// The epoch the session belongs to.
    pub epoch: Epoch,
    /// The last event index this client received in that epoch, if any;
    /// a restored client's [`Client::events`] continues after it.
    #[serde(default)]
    pub last_seen: Option<EventIndex>,
}

/// Knobs shared by every request of one client.
#[derive(Clone, Debug)]
pub(crate) struct ClientConfig {
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    /// The room's PIN, sent whenever this client creates a session.
    pub(crate) pin: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            // 2⅔ of the server's default 15 s heartbeat.
            idle_timeout: Duration::from_secs(40),
            retry: RetryPolicy::default(),
            pin: None,
        }
    }
}

/// The session this client acts as.
#[derive(Clone, Debug)]
struct SessionState {
    session: SessionId,
    token: SessionToken,
    epoch: Epoch,
    /// `next` from the session's creation, if this client created it.
    joined_at: Option<EventIndex>,
}

#[derive(Debug, Default)]
struct Identity {
    session: Option<SessionState>,
    /// The newest index any stream of this client yielded, with its epoch.
    last_seen: Option<(Epoch, EventIndex)>,
}

/// What every clone of a client and its streams share.
pub(crate) struct Shared {
    /// The connection pools and the settings (`transport.config`).
    pub(crate) transport: Transport,
    identity: Mutex<Identity>,
    /// Bumped whenever the session changes, so open streams reconnect as it.
    identity_version: AtomicU64,
    /// The next message id. Starts at a random point below 2^52 (so ids stay
    /// exact in JavaScript too), so a restarted app that restores its
    /// session does not reuse ids the server still remembers.
    next_id: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Identity> {
        self.identity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn identity_version(&self) -> u64 {
        self.identity_version.load(Ordering::Acquire)
    }

    /// The token to read with, the identity version, and its epoch.
    pub(crate) fn identity(&self) -> (Option<SessionToken>, u64, Option<Epoch>) {
        let identity = self.lock();
        let version = self.identity_version();
        match &identity.session {
            Some(s) => (Some(s.token.clone()), version, Some(s.epoch)),
            None => (None, version, None),
        }
    }

    pub(crate) fn saw(&self, epoch: Epoch, index: EventIndex) {
        let mut identity = self.lock();
        match identity.last_seen {
            Some((e, i)) if e == epoch && i >= index => {}
            _ => identity.last_seen = Some((epoch, index)),
        }
    }

    fn set_session(&self, session: Option<SessionState>) {
        self.lock().session = session;
        self.identity_version.fetch_add(1, Ordering::AcqRel);
    }
}

/// How a [`ClientBuilder`] gets its session.
#[derive(Debug)]
enum Join {
    Create,
    Restore(Credentials),
    Anonymous,
}

/// Configures a client; made by [`Client::builder`] or by a generated
/// `{Msg}Client::builder`, and [`connect`](ClientBuilder::connect) gives
/// that type (`C`).
#[must_use = "a builder does nothing until `connect` is called"]
pub struct ClientBuilder<C> {
    endpoint: Result<Endpoint, ClientError>,
    name: Option<String>,
    join: Join,
    config: ClientConfig,
    _client: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("name", &self.name)
            .field("join", &self.join)
            .finish_non_exhaustive()
    }
}

impl<C: TypedClient> ClientBuilder<C> {
    /// Starts configuring a client for the server at `endpoint` (a URL such
    /// as `"http://192.168.1.20:7700"`, or a socket address).
    pub fn new(endpoint: impl IntoEndpoint) -> Self {
        ClientBuilder {
            endpoint: endpoint.into_endpoint(),
            name: None,
            join: Join::Create,
            config: ClientConfig::default(),
            _client: PhantomData,
        }
    }

    /// The display name to create the session with.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The room's PIN (a server started with
    /// [`ServerBuilder::pin`](crate::ServerBuilder::pin)), sent whenever
    /// the client creates a session, on connect and on
    /// [`Client::rejoin`]. A missing or wrong PIN fails with
    /// [`ClientError::Forbidden`], whose reason says which.
    pub fn pin(mut self, pin: impl Into<String>) -> Self {
        self.config.pin = Some(pin.into());
        self
    }

    /// Comes back as a saved session. If the server has restarted since
    /// (another epoch), the session no longer exists: the client then
    /// creates a new one (with [`ClientBuilder::name`]) and
    /// [`Client::restored`] says so.
    pub fn restore(mut self, credentials: Credentials) -> Self {
        self.join = Join::Restore(credentials);
        self
    }

    /// No session: the client only reads public events (a TV page, a
    /// spectator, a log tail). [`Client::send`] fails with
    /// [`ClientError::NoSession`].
    pub fn anonymous(mut self) -> Self {
        self.join = Join::Anonymous;
        self
    }

    /// How long one request may take, from connecting to the last byte of
    /// the answer (default 10 s). Sends retry after it.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long an event stream may stay silent before the client gives up
    /// on the connection and reconnects (default 40 s; the server sends a
    /// heartbeat every 15 s by default, so keep this at 2–3 heartbeats).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How sends, session creation and stream reconnects back off.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Connects: checks that a REx server of the protocol's app answers
    /// (another app is [`ClientError::WrongApp`]), then creates or restores
    /// the session.
    pub async fn connect(self) -> Result<C, ClientError> {
        self.connect_generic().await.map(C::from_client)
    }

    async fn connect_generic(self) -> Result<Client<C::Protocol>, ClientError> {
        // A server with several addresses (a discovered room): keep the
        // first one that answers.
        let endpoint = transport::first_answering(self.endpoint?, &self.config, path::INFO).await?;
        let shared = Arc::new(Shared {
            transport: Transport::new(endpoint, self.config),
            identity: Mutex::new(Identity::default()),
            identity_version: AtomicU64::new(0),
            next_id: AtomicU64::new(first_message_id()),
        });
        let client = Client {
            shared,
            restored: false,
            _protocol: PhantomData,
        };
        let info = client.info().await?;
        if !C::Protocol::speaks(&info.app) {
            return Err(ClientError::WrongApp {
                expected: C::Protocol::APP,
                found: info.app,
            });
        }
        let missing: Vec<&str> = <C::Protocol as RexMessage>::KINDS
            .iter()
            .copied()
            .filter(|k| !info.messages.iter().any(|m| m == k))
            .collect();
        if !missing.is_empty() {
            // The same app, another version: sends of those kinds will be
            // refused with `unknown_kind`; the rest works.
            tracing::warn!(app = %info.app, ?missing, "the server's app does not accept some of this client's message kinds");
        }
        match self.join {
            Join::Anonymous => Ok(client),
            Join::Restore(credentials) if credentials.epoch == info.epoch => {
                let mut identity = client.shared.lock();
                identity.last_seen = credentials.last_seen.map(|i| (credentials.epoch, i));
                identity.session = Some(SessionState {
                    session: credentials.session,
                    token: credentials.token,
                    epoch: credentials.epoch,
                    joined_at: None,
                });
                drop(identity);
                Ok(Client {
                    restored: true,
                    ..client
                })
            }
            Join::Restore(old) => {
                tracing::info!(old = %old.epoch, new = %info.epoch, "the saved session is from before a server restart; creating a new one");
                client.rejoin(self.name).await?;
                Ok(client)
            }
            Join::Create => {
                client.rejoin(self.name).await?;
                Ok(client)
            }
        }
    }
}

fn first_message_id() -> u64 {
    // 52 random bits from the OS's random source.
    (uuid::Uuid::new_v4().as_u128() as u64) & ((1 << 52) - 1)
}

/// A typed REx client of the protocol `P`: it sends `P` (the app's message
/// enum) and receives `P::Event`.
///
/// Cheap to clone; clones share the session, the connection pool and the
/// message ids. Built with [`Client::connect`] (a new session with no name)
/// or [`Client::builder`]. With derived protocol enums, the generated
/// `{Msg}Client` wraps a `Client<Msg>` and adds one sending method per
/// message kind; everything here stays reachable through it (`Deref`).
///
/// ```no_run
/// # async fn example<P: rex::Protocol>() -> Result<(), rex::ClientError> {
/// use std::time::Duration;
///
/// let client = rex::Client::<P>::builder("http://192.168.1.20:7700")
///     .name("Alice")
///     .request_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// println!("joined as {:?}", client.session());
/// # Ok(())
/// # }
/// ```
pub struct Client<P> {
    shared: Arc<Shared>,
    restored: bool,
    _protocol: PhantomData<fn(P) -> P>,
}

impl<P> Clone for Client<P> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
            restored: self.restored,
            _protocol: PhantomData,
        }
    }
}

impl<P> fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = self.shared.lock().session.as_ref().map(|s| s.session);
        f.debug_struct("Client")
            .field("endpoint", &self.shared.transport.endpoint)
            .field("current", &self.shared.transport.base())
            .field("session", &session)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> Client<P> {
    /// Connects to a server and creates a session with no name, with the
    /// default settings.
    ///
    /// ```no_run
    /// # async fn example<P: rex::Protocol>() -> Result<(), rex::ClientError> {
    /// let client = rex::Client::<P>::connect("http://127.0.0.1:7700").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(endpoint: impl IntoEndpoint) -> Result<Self, ClientError> {
        Self::builder(endpoint).connect().await
    }

    /// Starts configuring a client for the server at `endpoint` (a URL such
    /// as `"http://192.168.1.20:7700"`, or a socket address).
    pub fn builder(endpoint: impl IntoEndpoint) -> ClientBuilder<Self> {
        ClientBuilder::new(endpoint)
    }

    /// The server this client was made for: the endpoint it was given,
    /// with the address that answered at connect first. It stays the same
    /// for the client's life; a room that has moved to another host is
    /// reached at [`Client::current_endpoint`], and this is where the client
    /// goes back to when that host stops answering.
    pub fn endpoint(&self) -> &Endpoint {
        &self.shared.transport.endpoint
    }

    /// Where this client sends its requests now. A room shared by several
    /// hosts (`docs/protocol.md` §16) is served by one of them; a request
    /// that reaches another is redirected (`307 moved`) to it, and the
    /// client keeps the owner's base URL for every later request and
    /// stream reconnect. When that base stops answering (the connection is
    /// refused or cut, or it answers `503`) the client goes back to
    /// [`Client::endpoint`] (each of its addresses in turn), which sends it
    /// on to the room's new owner.
    ///
    /// ```no_run
    /// # async fn example<P: rex::Protocol>() -> Result<(), rex::ClientError> {
    /// let client = rex::Client::<P>::connect("http://10.0.0.5:7700/r/KXQF").await?;
    /// // The room is served by another host of the group:
    /// println!("{} sends to {}", client.endpoint(), client.current_endpoint());
    /// # Ok(())
    /// # }
    /// ```
    pub fn current_endpoint(&self) -> Endpoint {
        Endpoint::single(&self.shared.transport.base())
    }

    /// The session this client acts as (`None` if anonymous).
    pub fn session(&self) -> Option<SessionId> {
        self.shared.lock().session.as_ref().map(|s| s.session)
    }

    /// Whether [`ClientBuilder::restore`] brought back the saved session
    /// (`false` when a new one had to be created).
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Where a reader sees everything from this session's creation on, if
    /// this client created it.
    pub fn joined_at(&self) -> Option<EventIndex> {
        self.shared
            .lock()
            .session
            .as_ref()
            .and_then(|s| s.joined_at)
    }

    /// What to save to come back as this session later: the session, its
    /// token and epoch, and the last index this client's streams yielded.
    pub fn credentials(&self) -> Option<Credentials> {
        let identity = self.shared.lock();
        let s = identity.session.as_ref()?;
        Some(Credentials {
            session: s.session,
            token: s.token.clone(),
            epoch: s.epoch,
            last_seen: identity
                .last_seen
                .filter(|(e, _)| *e == s.epoch)
                .map(|(_, i)| i),
        })
    }

    /// Describes the server (`GET /info`), retrying while it is unreachable.
    pub async fn info(&self) -> Result<Info, ClientError> {
        let answer = self
            .call_retrying(Method::GET, path::INFO, None, None, true)
            .await?;
        expect(StatusCode::OK, answer.status, &answer.body)
    }

    /// The app's protocol in JSON Schema (`GET /rex/v0/schema`): every kind
    /// with the schema of its `data`, for checking payloads or generating
    /// types. `None` for an app that does not publish one (`404`; `/info`'s
    /// `offers` then lacks `"schema"`). Retries while the server is
    /// unreachable.
    pub async fn schema(&self) -> Result<Option<ProtocolSchema>, ClientError> {
        let answer = self
            .call_retrying(Method::GET, path::SCHEMA, None, None, true)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect(StatusCode::OK, answer.status, &answer.body).map(Some)
    }

    /// The app's state as of an index of the log (`GET /snapshot`, for apps
    /// that implement [`RexApp::snapshot`](crate::RexApp::snapshot)), as this
    /// session may see it (or as anyone may, for an anonymous client).
    /// Retries while the server is unreachable.
    ///
    /// Follow the log from [`StateAt::index`] and apply each event to the
    /// state: every later event arrives once, and none the state already
    /// reflects. After a [`StreamItem::Resync`], take a new snapshot.
    ///
    /// ```no_run
    /// # async fn example<P: rex::Protocol>(client: rex::Client<P>) -> Result<(), rex::ClientError> {
    /// use futures_util::StreamExt;
    ///
    /// let mut now: rex::StateAt<u64> = client.snapshot().await?;
    /// let mut events = client.events_from(now.index);
    /// while let Some(item) = events.next().await {
    ///     match item? {
    ///         rex::StreamItem::Event(_) => now.state += 1, // apply the event
    ///         rex::StreamItem::Resync(_) => {
    ///             now = client.snapshot().await?;
    ///             events = client.events_from(now.index);
    ///         }
    ///         rex::StreamItem::Unknown { .. } | rex::StreamItem::Connection(_) => {}
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn snapshot<S: DeserializeOwned>(&self) -> Result<StateAt<S>, ClientError> {
        let token = {
            let identity = self.shared.lock();
            identity.session.as_ref().map(|s| s.token.clone())
        };
        let answer = self
            .call_retrying(Method::GET, path::SNAPSHOT, token.as_ref(), None, true)
            .await?;
        let record: SnapshotRecord = expect(StatusCode::OK, answer.status, &answer.body)?;
        let state = S::deserialize(record.data).map_err(|e| ClientError::Protocol {
            reason: format!("the app's snapshot does not fit the state type: {e}"),
        })?;
        Ok(StateAt {
            state,
            index: record.index,
            time: record.time,
            epoch: record.epoch,
        })
    }

    /// Creates a new session on the server (after an epoch change has made
    /// the old one invalid, or to change who this client is). Open event
    /// streams reconnect as the new session.
    pub async fn rejoin(&self, name: Option<String>) -> Result<SessionId, ClientError> {
        let pin = self.shared.transport.config.pin.clone();
        let body = serde_json::to_vec(&CreateSession { name, pin }).map_err(|e| {
            ClientError::Protocol {
                reason: e.to_string(),
            }
        })?;
        // Creating a session is not idempotent, so only retry when the
        // request surely did not reach the server.
        let answer = self
            .call_retrying(
                Method::POST,
                path::SESSIONS,
                None,
                Some(Bytes::from(body)),
                false,
            )
            .await?;
        let created: SessionCreated = expect(StatusCode::CREATED, answer.status, &answer.body)?;
        self.shared.set_session(Some(SessionState {
            session: created.session,
            token: created.token,
            epoch: created.epoch,
            joined_at: Some(created.next),
        }));
        Ok(created.session)
    }

    /// Sends a message, and waits until the app has handled it.
    ///
    /// The client gives the message an id; if the connection fails or times
    /// out, it retries with the same id (with backoff, up to the retry
    /// policy's attempts), so the app handles the message exactly once even
    /// when an answer is lost. A refusal by the app is
    /// [`ClientError::Rejected`] with the app's reason.
    ///
    /// The message is encoded before this returns, so the future borrows
    /// only the client (it is `Send` whatever `P` is).
    ///
    /// ```no_run
    /// # async fn example<P: rex::Protocol>(client: rex::Client<P>, msg: P) {
    /// match client.send(&msg).await {
    ///     Ok(receipt) => println!("handled; its events start at {}", receipt.first),
    ///     Err(rex::ClientError::Rejected { reason }) => println!("refused: {reason}"),
    ///     Err(e) => println!("could not send: {e}"),
    /// }
    /// # }
    /// ```
    pub fn send(
        &self,
        msg: &P,
    ) -> impl std::future::Future<Output = Result<Receipt, ClientError>> + Send + '_ {
        let prepared = self.prepare(msg);
        async move {
            let (token, body) = prepared?;
            let answer = self
                .call_retrying(Method::POST, path::MESSAGES, Some(&token), Some(body), true)
                .await?;
            expect(StatusCode::OK, answer.status, &answer.body)
        }
    }

    /// Picks the session's token and the next id, and encodes the body.
    fn prepare(&self, msg: &P) -> Result<(SessionToken, Bytes), ClientError> {
        #[derive(Serialize)]
        struct Body<'a> {
            kind: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<serde_json::Value>,
            id: u64,
        }
        let token = {
            let identity = self.shared.lock();
            identity.session.as_ref().map(|s| s.token.clone())
        }
        .ok_or(ClientError::NoSession)?;
        let body = Body {
            kind: msg.kind(),
            data: msg.encode_data()?,
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
        };
        let body = serde_json::to_vec(&body).map_err(|e| ClientError::Protocol {
            reason: e.to_string(),
        })?;
        Ok((token, Bytes::from(body)))
    }

    /// Follows the log: from after the last event this client has seen, or
    /// from 0 (the whole retained log) if it has seen none. See
    /// [`EventStream`] for what it guarantees.
    ///
    /// ```no_run
    /// # async fn example<P: rex::Protocol>(client: rex::Client<P>) -> Result<(), rex::ClientError> where P::Event: std::fmt::Debug {
    /// use futures_util::StreamExt;
    ///
    /// let mut events = client.events();
    /// while let Some(item) = events.next().await {
    ///     if let rex::StreamItem::Event(e) = item? {
    ///         println!("#{} {:?}", e.meta.index, e.event);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> EventStream<P::Event> {
        let identity = self.shared.lock();
        let epoch = identity.session.as_ref().map(|s| s.epoch);
        match identity.last_seen {
            Some((e, i)) if epoch.is_none_or(|s| s == e) => {
                EventStream::new(self.shared.clone(), i + 1, Some(e))
            }
            _ => EventStream::new(self.shared.clone(), 0, epoch),
        }
    }

    /// Follows the log from index `start` of the session's epoch (or of
    /// whatever epoch the server runs, for an anonymous client).
    pub fn events_from(&self, start: EventIndex) -> EventStream<P::Event> {
        let epoch = self.shared.lock().session.as_ref().map(|s| s.epoch);
        EventStream::new(self.shared.clone(), start, epoch)
    }

    /// Like [`Client::events_from`], but raw records in either framing: for
    /// tools that show the wire (`rex tail --sse`).
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) fn follow_raw(&self, start: EventIndex, framing: follow::Framing) -> pump::Pump {
        let epoch = self.shared.lock().session.as_ref().map(|s| s.epoch);
        pump::Pump::new(self.shared.clone(), start, epoch, framing)
    }

    /// One call with retries on transient failures. `lost_is_retryable`:
    /// whether a request that may have reached the server can be sent again.
    async fn call_retrying(
        &self,
        method: Method,
        path: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
        lost_is_retryable: bool,
    ) -> Result<transport::Answer, ClientError> {
        let policy = self.shared.transport.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .shared
                .transport
                .call(method.clone(), path, token, body.clone())
                .await;
            let error = match result {
                Ok(answer) if answer.status == StatusCode::SERVICE_UNAVAILABLE => {
                    let error = ClientError::from_response(503, &answer.body);
                    // The session limit will not change by retrying soon;
                    // a shutdown might (the server comes back).
                    if method == Method::POST && path == path::SESSIONS && !lost_is_retryable {
                        return Err(error);
                    }
                    error
                }
                // Refused before anything happened (too many requests, or a
                // body too slow to arrive): the same request, id and all,
                // can go again, after the wait the server asked for.
                Ok(answer)
                    if answer.status == StatusCode::TOO_MANY_REQUESTS
                        || answer.status == StatusCode::REQUEST_TIMEOUT =>
                {
                    ClientError::from_response(answer.status.as_u16(), &answer.body)
                }
                Ok(answer) => return Ok(answer),
                Err(CallFailure::NotSent(e)) => e,
                Err(CallFailure::Lost(e)) if lost_is_retryable => e,
                Err(failure) => return Err(failure.into_error()),
            };
            if attempt >= policy.max_attempts {
                return Err(error);
            }
            let wait = policy
                .backoff(attempt - 1)
                .max(error.retry_after().unwrap_or_default());
            tracing::debug!(%error, attempt, ?wait, "{method} {path} failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Decodes a success body, or maps an error answer to its variant.
fn expect<T: serde::de::DeserializeOwned>(
    want: StatusCode,
    status: StatusCode,
    body: &[u8],
) -> Result<T, ClientError> {
    if status != want {
        return Err(ClientError::from_response(status.as_u16(), body));
    }
    serde_json::from_slice(body).map_err(|e| ClientError::Protocol {
        reason: format!("the {status} answer does not fit protocol v0: {e}"),
    })
}
