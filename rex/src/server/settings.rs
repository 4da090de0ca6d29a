//! The settings a [`super::Server`] and a [`super::Host`] share, and the
//! builder methods that set them, written once for both builders.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::accept;
use super::assets::Assets;
use super::conns::{Limits, Registry};
use super::guard::HostPolicy;
use super::hardening::DEFAULT_CONTENT_SECURITY_POLICY;
use super::limits::Limits as AdmissionLimits;
use super::listen::Net;
use super::log::Retention;
use super::routes::Config;

/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// Default heartbeat period of event streams: 15 s.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// Default session limit: 10,000.
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;
/// Default time `run` waits for open requests after shutdown begins: 10 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a request body may take to arrive: 10 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a request head (line and headers) may take to arrive: 30 s.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on connections open at once from one IP address: 256. A
/// phone's browser opens six or so, but a client whose network drops leaves
/// streams the server only notices are dead at its next failed write, and a
/// flapping phone must not lock itself out meanwhile.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// By default, a connection whose client has read nothing for this many
/// heartbeat periods while the server had data to send is closed.
pub const DEFAULT_WRITE_TIMEOUT_HEARTBEATS: u32 = 4;

/// Everything a builder sets besides the app: the server's and each
/// room's.
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) retention: Retention,
    pub(crate) max_sessions: usize,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) assets: Assets,
    /// Checked (as a header value) when the server binds.
    pub(crate) csp: String,
    pub(crate) net: NetSettings,
    pub(crate) limits: AdmissionLimits,
    pub(crate) idle_timeout: Option<Duration>,
    /// The room's display name (for a host: the host's, and its rooms'
    /// default).
    pub(crate) name: String,
    pub(crate) pin: Option<String>,
}

/// The builder's connection settings (see the builder methods of the same
/// names); `None` means derived when the server binds.
#[derive(Clone, Debug)]
pub(crate) struct NetSettings {
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_connections_per_address: usize,
}

/// What a room is made with, once the server is bound.
#[derive(Clone)]
pub(crate) struct RoomSettings {
    pub(crate) retention: Retention,
    pub(crate) max_sessions: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) limits: AdmissionLimits,
    pub(crate) name: String,
    pub(crate) pin: Option<String>,
    pub(crate) assets: Arc<Assets>,
    /// Files of one room alone (a host's `room_assets`).
    pub(crate) own_assets: Option<Assets>,
}

impl Settings {
    /// The defaults, with the display name `name`.
    pub(crate) fn new(name: &str) -> Settings {
        Settings {
            config: Config {
                body_limit: DEFAULT_BODY_LIMIT,
                heartbeat: DEFAULT_HEARTBEAT,
                body_timeout: DEFAULT_BODY_TIMEOUT,
                hosts: HostPolicy::default(),
                csp: HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY),
            },
            retention: Retention::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            assets: Assets::default(),
            csp: DEFAULT_CONTENT_SECURITY_POLICY.to_owned(),
            net: NetSettings {
                header_timeout: DEFAULT_HEADER_TIMEOUT,
                write_timeout: None,
                max_connections: None,
                max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            },
            limits: AdmissionLimits::default(),
            idle_timeout: None,
            name: name.to_owned(),
            pin: None,
        }
    }

    /// Checks what can only be checked at bind time, and splits the
    /// settings into the server's (config and connections) and the rooms'.
    pub(crate) fn resolve(self) -> io::Result<(Config, Net, RoomSettings)> {
        self.assets.check()?;
        let mut config = self.config;
        config.csp = HeaderValue::from_str(&self.csp).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the Content-Security-Policy {:?} is not a valid header value",
                    self.csp
                ),
            )
        })?;
        let net = self.net.resolve(config.heartbeat);
        let rooms = RoomSettings {
            retention: self.retention,
            max_sessions: self.max_sessions,
            idle_timeout: self.idle_timeout,
            limits: self.limits,
            name: self.name,
            pin: self.pin,
            assets: Arc::new(self.assets),
            own_assets: None,
        };
        Ok((config, net, rooms))
    }
}

impl NetSettings {
    /// The settings, with the defaults that depend on the machine or on
    /// other settings filled in.
    fn resolve(self, heartbeat: Duration) -> Net {
        let limits = Limits {
            total: self
                .max_connections
                .unwrap_or_else(accept::default_max_connections),
            per_address: self.max_connections_per_address,
        };
        Net {
            registry: Registry::new(limits),
            header_timeout: self.header_timeout,
            write_timeout: self
                .write_timeout
                .unwrap_or(heartbeat * DEFAULT_WRITE_TIMEOUT_HEARTBEATS),
        }
    }
}

/// The builder methods of [`Settings`], for a builder type with a
/// `settings` field (`ServerBuilder`, `HostBuilder`).
macro_rules! settings_methods {
    ($builder:ident) => {
        /// Admission limits (see `limits.rs` and `docs/protocol.md` §6.1).
        impl<A: RexApp> $builder<A> {
            /// How fast one session may send messages: past it, `POST /messages`
            /// gets `429 too_many_requests` with `Retry-After`, and the app does
            /// not see the message. Defaults to [`DEFAULT_MESSAGE_RATE`]($crate::DEFAULT_MESSAGE_RATE) (20 a
            /// second, bursts of 40); [`Rate::unlimited`]($crate::Rate::unlimited) turns it off.
            pub fn message_rate(mut self, rate: $crate::Rate) -> Self {
                self.settings.limits.message_rate = rate;
                self
            }

            /// How fast one client address (the TCP peer's IP; forwarding headers
            /// are not trusted) may create sessions: past it, `POST /sessions` gets
            /// `429 too_many_requests` with `Retry-After`. Defaults to
            /// [`DEFAULT_SESSION_RATE`]($crate::DEFAULT_SESSION_RATE) (bursts of 100, then 5 a second).
            pub fn session_rate(mut self, rate: $crate::Rate) -> Self {
                self.settings.limits.session_rate = rate;
                self
            }

            /// How many live sessions one client address may hold; creating one
            /// more gets `429 too_many_requests`. Defaults to
            /// [`DEFAULT_SESSIONS_PER_ADDRESS`]($crate::DEFAULT_SESSIONS_PER_ADDRESS) (256).
            pub fn sessions_per_address(mut self, n: usize) -> Self {
                self.settings.limits.sessions_per_address = n;
                self
            }
        }

        impl<A: RexApp> $builder<A> {
            /// Static files to serve next to the protocol (the app's pages). The
            /// JavaScript client is always served at [`CLIENT_JS_PATH`]($crate::CLIENT_JS_PATH).
            pub fn assets(mut self, assets: $crate::Assets) -> Self {
                self.settings.assets = assets;
                self
            }

            /// The room's display name (`/info`, and discovery's instance name).
            /// Defaults to the app id.
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.settings.name = name.into();
                self
            }

            /// Largest request body accepted, in bytes; larger ones get
            /// `413 too_large`. Defaults to [`DEFAULT_BODY_LIMIT`]($crate::DEFAULT_BODY_LIMIT).
            pub fn body_limit(mut self, bytes: usize) -> Self {
                self.settings.config.body_limit = bytes;
                self
            }

            /// How long an event stream may be silent before the server sends a
            /// heartbeat. Defaults to [`DEFAULT_HEARTBEAT`]($crate::DEFAULT_HEARTBEAT).
            pub fn heartbeat(mut self, period: ::std::time::Duration) -> Self {
                self.settings.config.heartbeat = period;
                self
            }

            /// How much of the log to keep. Defaults to the newest
            /// [`DEFAULT_RETENTION_BYTES`]($crate::DEFAULT_RETENTION_BYTES) (64 MiB) of encoded events;
            /// [`Retention::unlimited`]($crate::Retention::unlimited) keeps everything.
            pub fn retention(mut self, retention: $crate::Retention) -> Self {
                self.settings.retention = retention;
                self
            }

            /// How many sessions may exist; creating one more gets
            /// `503 unavailable`. Defaults to [`DEFAULT_MAX_SESSIONS`]($crate::DEFAULT_MAX_SESSIONS).
            pub fn max_sessions(mut self, n: usize) -> Self {
                self.settings.max_sessions = n;
                self
            }

            /// Ends sessions that stay idle for `timeout`, so a room that was
            /// filled (by guests who left, or by someone creating sessions in bulk)
            /// recovers. Idle means no request authenticated with the session's
            /// token (a message, whatever its outcome, or a snapshot) and no event
            /// stream open with it, for the whole `timeout`: a phone that keeps its
            /// event stream open never expires, however quiet its player. An expired
            /// session's token answers `401 unauthorized` and the app's
            /// [`RexApp::leave`]($crate::RexApp::leave) hook runs. Off by default: sessions then live as
            /// long as the server.
            ///
            /// ```no_run
            /// # use rex::{RexApp, Server};
            /// # async fn example<A: RexApp>(app: A) -> std::io::Result<()> {
            /// use std::time::Duration;
            /// let server = Server::builder(app)
            ///     .session_idle_timeout(Duration::from_secs(10 * 60))
            ///     .bind("0.0.0.0:0")
            ///     .await?;
            /// # Ok(())
            /// # }
            /// ```
            pub fn session_idle_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.settings.idle_timeout = Some(timeout);
                self
            }

            /// Requires `pin` to create a session: a client that sends no PIN or a
            /// wrong one gets `403 forbidden` with a reason that says so. Clients
            /// send it as `pin` in the body of `POST /rex/v0/sessions` or as
            /// `?pin=` in its URL (what a QR code can carry). Reading the public
            /// log (the TV page, spectators) needs no PIN: the PIN keeps strangers
            /// from taking part, not from watching. Leading and trailing spaces a
            /// person may type are ignored.
            pub fn pin(mut self, pin: impl Into<String>) -> Self {
                self.settings.pin = Some(pin.into().trim().to_owned());
                self
            }

            /// How long [`Server::run`]($crate::Server::run) (or `Host::run`) waits for open requests to finish once
            /// shutdown begins, before it closes them. Defaults to
            /// [`DEFAULT_SHUTDOWN_TIMEOUT`]($crate::DEFAULT_SHUTDOWN_TIMEOUT).
            pub fn shutdown_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.settings.shutdown_timeout = timeout;
                self
            }
        }

        /// Security and resource limits: what a client on the network (or a web
        /// page in a phone's browser) may cost the server. See the "Security"
        /// section of `docs/protocol.md`.
        impl<A: RexApp> $builder<A> {
            /// How long a request body may take to arrive once its head has; a
            /// slower one gets `408 request_timeout` and its connection is closed.
            /// Defaults to [`DEFAULT_BODY_TIMEOUT`]($crate::DEFAULT_BODY_TIMEOUT).
            pub fn body_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.settings.config.body_timeout = timeout;
                self
            }

            /// How long a request head (request line and headers) may take to
            /// arrive; after it the connection is closed. Defaults to
            /// [`DEFAULT_HEADER_TIMEOUT`]($crate::DEFAULT_HEADER_TIMEOUT).
            pub fn header_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.settings.net.header_timeout = timeout;
                self
            }

            /// How long a connection may go without the client reading a byte
            /// while the server has something to send (an event stream of a client
            /// that stopped reading); after it the connection is closed and the
            /// client resumes from its last index when it reads again. Defaults to
            /// [`DEFAULT_WRITE_TIMEOUT_HEARTBEATS`]($crate::DEFAULT_WRITE_TIMEOUT_HEARTBEATS) heartbeat periods.
            pub fn write_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.settings.net.write_timeout = Some(timeout);
                self
            }

            /// How many connections may be open at once. When all are taken, the
            /// connection idle the longest is closed to make room; when all are
            /// busy, a new one gets `503 unavailable`. Defaults to seven eighths of
            /// the open-files limit (which the server raises to its hard limit when
            /// it binds), so the server never runs out of descriptors.
            pub fn max_connections(mut self, n: usize) -> Self {
                self.settings.net.max_connections = Some(n.max(1));
                self
            }

            /// How many connections one IP address may have open at once; past it,
            /// that address's longest-idle connection is closed to make room, or,
            /// when all are busy, the new one gets `429 too_many_requests`.
            /// Defaults to [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`]($crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS).
            pub fn max_connections_per_address(mut self, n: usize) -> Self {
                self.settings.net.max_connections_per_address = n.max(1);
                self
            }

            /// Also answers requests whose `Host` is `name` (`"tv.example.org"`),
            /// or, with a leading dot (`".example.org"`), that domain and every
            /// name under it. Without it the server answers only to IP addresses,
            /// `localhost` and `.local` names, and refuses other names with
            /// `403 forbidden`: a web page that rebinds its own name to the
            /// server's address (DNS rebinding) cannot read or write the room.
            pub fn allow_host(mut self, name: impl AsRef<str>) -> Self {
                self.settings.config.hosts.allow(name.as_ref());
                self
            }

            /// Answers requests whatever their `Host` (turns the DNS-rebinding
            /// guard of [`allow_host`](Self::allow_host) off). For a server behind
            /// a reverse proxy that checks names itself.
            pub fn allow_any_host(mut self) -> Self {
                self.settings.config.hosts.any = true;
                self
            }

            /// The `Content-Security-Policy` header of every response. Defaults to
            /// [`DEFAULT_CONTENT_SECURITY_POLICY`]($crate::DEFAULT_CONTENT_SECURITY_POLICY) (only the server's own scripts
            /// and styles, nothing inline, no framing). A policy that is not a
            /// valid header value is an error when the server binds.
            pub fn content_security_policy(mut self, policy: impl Into<String>) -> Self {
                self.settings.csp = policy.into();
                self
            }
        }
    };
}

pub(crate) use settings_methods;
