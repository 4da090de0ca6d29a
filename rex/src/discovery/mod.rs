//! Finding rooms on the local network with mDNS / DNS-SD (feature
//! `discovery`, on by default).
//!
//! A server advertises itself as a DNS-SD service of type `_rex._tcp.local.`
//! with a subtype for its app (`_<app>._sub._rex._tcp.local.`), its room's
//! display name as the instance name, and TXT records `app`, `proto`,
//! `path`, `epoch` and `name`, and `rooms=1` for a host of rooms
//! (`docs/protocol.md`, "Discovery"). Standard
//! tools see it: `avahi-browse -rt _rex._tcp` on Linux, `dns-sd -B _rex._tcp`
//! on macOS.
//!
//! - Server side: [`Server::run_advertised`](crate::Server::run_advertised)
//!   serves and advertises until shutdown, then says goodbye; or
//!   [`Advertisement::start`] for more control, or
//!   [`Advertisement::builder`] for a server that is not a `Server` (a
//!   host of rooms).
//! - Client side: [`discover`] streams the rooms of one app as they appear
//!   ([`DiscoveryEvent::Found`]) and leave ([`DiscoveryEvent::Lost`]);
//!   [`discover_one`] waits for the first. A found [`Room`] can be passed
//!   to [`Client::connect`](crate::Client::connect), which tries its
//!   addresses in order.
//!
//! [`Discovery`] holds the settings both sides share: which network
//! interfaces to use (all by default) and whether to use IPv6.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let room = rex::discover_one("chat", Duration::from_secs(5)).await?;
//! println!("found {} at {:?}", room.name, room.addrs);
//! let client = rex::Client::<rex::Dynamic>::connect(&room).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Each advertisement and each browse runs its own `mdns-sd` daemon (one
//! thread), which this module always shuts down explicitly: when the
//! advertisement stops or the stream is dropped.

mod advertise;
mod browse;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon};

pub use advertise::{Advertisement, AdvertisementBuilder};
pub use browse::{discover, discover_one, DiscoveryEvent, DiscoveryStream, LostRoom, Room};

/// The DNS-SD service type of every REx server.
pub const SERVICE_TYPE: &str = "_rex._tcp.local.";

/// TXT key: the app id (`/info`'s `app`).
pub const TXT_APP: &str = "app";
/// TXT key: the protocol version ([`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION)).
pub const TXT_PROTO: &str = "proto";
/// TXT key: the base path of the protocol (`/rex/v0`).
pub const TXT_PATH: &str = "path";
/// TXT key: the epoch of the server's log.
pub const TXT_EPOCH: &str = "epoch";
/// TXT key: the room's display name, in full (the instance name may carry a
/// suffix added to resolve a name clash).
pub const TXT_NAME: &str = "name";
/// TXT key: `1` when the server is a host of rooms, whose URL opens rooms
/// (`POST /rex/v0/rooms`) rather than being one; absent otherwise
/// ([`AdvertisementBuilder::hosts_rooms`], [`Room::hosts_rooms`]).
pub const TXT_ROOMS: &str = "rooms";

/// How long [`Advertisement::start`] waits for the first announcement
/// (probing the name takes about 1 s).
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long stopping waits for the daemon's goodbye and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Discovery settings shared by advertising and browsing: the network
/// interfaces to use and whether to use IPv6.
///
/// The default uses every interface, IPv4 and IPv6, and probes the room's
/// name before announcing it (so a clash is resolved with a suffix).
///
/// ```
/// use rex::discovery::Discovery;
///
/// // A TV box whose Wi-Fi is wlan0 and whose other interfaces lead nowhere.
/// let discovery = Discovery::new().interfaces(["wlan0"]).ipv4_only();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Interface names to use; `None` for all.
    interfaces: Option<Vec<String>>,
    ipv4_only: bool,
    /// Probing is what makes a name clash end in a suffix rather than two
    /// rooms answering for one name; it costs about a second at start.
    no_probing: bool,
}

impl Discovery {
    /// All interfaces, IPv4 and IPv6, with probing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses only these network interfaces (by name: `"eth0"`, `"wlan0"`,
    /// `"lo"`), for devices with interfaces that lead nowhere useful.
    pub fn interfaces<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.interfaces = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Uses IPv4 only.
    pub fn ipv4_only(mut self) -> Self {
        self.ipv4_only = true;
        self
    }

    /// Whether to probe the room's name before announcing it (default
    /// `true`). Without probing an advertisement starts in milliseconds
    /// instead of about a second, but a name clash is no longer resolved:
    /// turn it off only where names are known to be unique (tests).
    pub fn probing(mut self, probe: bool) -> Self {
        self.no_probing = !probe;
        self
    }

    /// Starts a daemon restricted to the selected interfaces. Selections
    /// apply in order, the last match winning, and are queued before any
    /// browse or registration, so nothing is sent on an excluded interface.
    fn daemon(&self) -> Result<Daemon, DiscoveryError> {
        let daemon = ServiceDaemon::new().map_err(|e| DiscoveryError::Daemon {
            reason: e.to_string(),
        })?;
        let daemon = Daemon {
            inner: daemon,
            stopped: false,
        };
        let select = |result: mdns_sd::Result<()>| {
            result.map_err(|e| DiscoveryError::Daemon {
                reason: format!("could not select the network interfaces: {e}"),
            })
        };
        if let Some(names) = &self.interfaces {
            select(daemon.get().disable_interface(IfKind::All))?;
            let kinds: Vec<IfKind> = names.iter().map(|n| IfKind::Name(n.clone())).collect();
            select(daemon.get().enable_interface(kinds))?;
        }
        if self.ipv4_only {
            select(daemon.get().disable_interface(IfKind::IPv6))?;
        }
        Ok(daemon)
    }

    /// The names of the interfaces this selection uses, for messages.
    fn interface_names(&self) -> Vec<String> {
        let mut names: Vec<String> = if_addrs::get_if_addrs()
            .unwrap_or_default()
            .into_iter()
            .filter(|i| !(self.ipv4_only && i.ip().is_ipv6()))
            .filter(|i| {
                self.interfaces
                    .as_ref()
                    .is_none_or(|wanted| wanted.contains(&i.name))
            })
            .map(|i| i.name)
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A running mDNS daemon, shut down when dropped (dropping a bare
/// `ServiceDaemon` would leave its thread running).
struct Daemon {
    inner: ServiceDaemon,
    /// Set by [`Daemon::shutdown`], so `drop` does not ask twice.
    stopped: bool,
}

impl Daemon {
    fn get(&self) -> &ServiceDaemon {
        &self.inner
    }

    /// Stops the daemon and waits (bounded) until its thread has exited.
    async fn shutdown(mut self) {
        self.stopped = true;
        match self.inner.shutdown() {
            Ok(status) => {
                if tokio::time::timeout(STOP_TIMEOUT, status.recv_async())
                    .await
                    .is_err()
                {
                    tracing::warn!("the mDNS daemon did not confirm its shutdown in time");
                }
            }
            Err(e) => tracing::debug!(error = %e, "the mDNS daemon had already stopped"),
        }
    }
}

impl fmt::Debug for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Daemon")
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.stopped {
            // Fire and forget: the thread exits once it reads the command.
            let _ = self.inner.shutdown();
        }
    }
}

/// Why advertising or discovering failed. Each message says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The mDNS daemon could not start or be configured.
    Daemon {
        /// What went wrong.
        reason: String,
    },
    /// The room's name cannot be advertised as it is.
    InvalidName {
        /// The name.
        name: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The daemon refused the advertisement (an error it reported on its
    /// monitor channel).
    Advertise {
        /// The room's name.
        name: String,
        /// The daemon's error.
        reason: String,
    },
    /// No network interface matches the selection.
    NoInterface {
        /// The interfaces asked for.
        wanted: Vec<String>,
        /// The interfaces this device has.
        available: Vec<String>,
    },
    /// The advertisement was not announced on any interface in time.
    NotAnnounced {
        /// The room's name.
        name: String,
        /// The interfaces tried.
        interfaces: Vec<String>,
        /// How long it waited.
        timeout: Duration,
    },
    /// [`discover_one`] found no room of the app in time.
    NotFound {
        /// The app id looked for (`None`: any app).
        app: Option<String>,
        /// The interfaces it listened on.
        interfaces: Vec<String>,
        /// How long it waited.
        timeout: Duration,
    },
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::Daemon { reason } => write!(f, "mDNS discovery failed: {reason}"),
            DiscoveryError::InvalidName { name, reason } => {
                write!(f, "cannot advertise the room name '{name}': {reason}")
            }
            DiscoveryError::Advertise { name, reason } => write!(
                f,
                "the mDNS daemon refused to advertise room '{name}': {reason}"
            ),
            DiscoveryError::NoInterface { wanted, available } => write!(
                f,
                "no network interface matches the discovery selection ({}); this device has: {}",
                wanted.join(", "),
                list_or_none(available)
            ),
            DiscoveryError::NotAnnounced {
                name,
                interfaces,
                timeout,
            } => write!(
                f,
                "could not announce room '{name}' on interfaces {} within {}; \
                 check that the network is up, or run without discovery",
                list_or_none(interfaces),
                seconds(*timeout)
            ),
            DiscoveryError::NotFound {
                app,
                interfaces,
                timeout,
            } => {
                match app {
                    Some(app) => write!(f, "no REx server for app '{app}'")?,
                    None => f.write_str("no REx server")?,
                }
                write!(
                    f,
                    " answered on interfaces {} within {}; check that the server runs with \
                     discovery on and that this device is on the same network \
                     (guest Wi-Fi often blocks multicast), or give its URL",
                    list_or_none(interfaces),
                    seconds(*timeout)
                )
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

impl From<DiscoveryError> for std::io::Error {
    fn from(e: DiscoveryError) -> Self {
        std::io::Error::other(e)
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// `5 s`, `1.5 s`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Whether `ip` is an IPv6 link-local address (fe80::/10), which needs a
/// scope id to be reached.
fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_app_the_interfaces_and_the_wait() {
        let e = DiscoveryError::NotFound {
            app: Some("trivia".into()),
            interfaces: vec!["eth0".into(), "wlan0".into()],
            timeout: Duration::from_secs(5),
        };
        assert!(
            e.to_string().starts_with(
                "no REx server for app 'trivia' answered on interfaces eth0, wlan0 within 5 s;"
            ),
            "{e}"
        );
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn link_local_is_recognised() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fd00::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"10.0.0.1".parse().unwrap()));
    }
}
