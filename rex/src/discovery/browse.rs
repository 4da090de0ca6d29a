//! The client side: browse `_rex._tcp.local.` and report the rooms of one
//! app as they appear and leave.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{stream, Stream, StreamExt};
use mdns_sd::{Receiver, ResolvedService, ScopedIp, ServiceEvent};
use rex_proto::{path, Epoch, PROTOCOL_VERSION};

use super::advertise::instance_of;
use super::{
    is_link_local_v6, Daemon, Discovery, DiscoveryError, SERVICE_TYPE, TXT_APP, TXT_EPOCH,
    TXT_NAME, TXT_PATH, TXT_PROTO, TXT_ROOMS,
};

/// A REx server found on the network.
///
/// Pass it (or a reference) to [`Client::connect`](crate::Client::connect)
/// or [`Client::builder`](crate::Client::builder): the client tries its
/// addresses in order and keeps the first that answers. A host of rooms
/// ([`hosts_rooms`](Room::hosts_rooms)) is not a room to join: open a room
/// on it ([`HostClient`](crate::client::HostClient), `rex room new URL`) and
/// join that.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Room {
    /// The room's display name (`Living Room TV`).
    pub name: String,
    /// Its DNS-SD instance name, unique on the network: the name, or the
    /// name with a suffix (`Living Room TV (2)`) when two rooms share it.
    pub instance: String,
    /// The app id (`trivia`).
    pub app: String,
    /// The protocol version it speaks.
    pub protocol: u32,
    /// The base path of the protocol (`/rex/v0`). What comes before a
    /// trailing `/rex/v0` is the server's path prefix, part of its
    /// [`url`](Room::url) (empty for a server at the root).
    pub path: String,
    /// The epoch of its log (changes when it restarts), if it said.
    pub epoch: Option<Epoch>,
    /// Where it listens, in the order to try them: IPv4 first, then IPv6,
    /// link-local last (with the scope id of the interface it was seen on).
    pub addrs: Vec<SocketAddr>,
    /// Its TCP port.
    pub port: u16,
    /// The host name it advertised (`rex-1a2b3c4d.local.`).
    pub host: String,
    /// Whether it is a host of rooms (it advertised `rooms=1`): its URL
    /// opens rooms (`POST /rex/v0/rooms`, `rex room new URL`), each with a
    /// URL of its own, rather than being a room.
    pub hosts_rooms: bool,
}

impl Room {
    /// The base URL of its first address, `http://10.0.0.2:7700` (with the
    /// server's path prefix, if it advertised one).
    pub fn url(&self) -> Option<String> {
        self.addrs
            .first()
            .map(|a| format!("http://{a}{}", self.prefix()))
    }

    /// The path before `/rex/v0` in [`Room::path`]: empty for a server at
    /// the root of its address.
    fn prefix(&self) -> &str {
        self.path.strip_suffix(path::BASE).unwrap_or("")
    }
}

#[cfg(feature = "client")]
impl crate::IntoEndpoint for Room {
    fn into_endpoint(self) -> Result<crate::Endpoint, crate::ClientError> {
        (&self).into_endpoint()
    }
}

#[cfg(feature = "client")]
impl crate::IntoEndpoint for &Room {
    fn into_endpoint(self) -> Result<crate::Endpoint, crate::ClientError> {
        crate::Endpoint::from_addrs(self.addrs.iter().copied())?.append_path(self.prefix())
    }
}

/// A room that left the network (its server said goodbye, or its records
/// expired).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LostRoom {
    /// Its DNS-SD instance name (as in [`Room::instance`]).
    pub instance: String,
    /// Its display name.
    pub name: String,
    /// Its app id.
    pub app: String,
}

/// What a [`DiscoveryStream`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A room appeared, or what it advertises changed (new addresses, or a
    /// restart with a new epoch); `instance` identifies it.
    Found(Room),
    /// A room that was found left.
    Lost(LostRoom),
}

/// The rooms of an app as they appear and leave; made by [`discover`] or
/// [`Discovery::discover`]. Dropping it stops browsing and shuts its mDNS
/// daemon down; [`close`](DiscoveryStream::close) does so and waits.
pub struct DiscoveryStream {
    inner: Pin<Box<dyn Stream<Item = DiscoveryEvent> + Send>>,
    daemon: Daemon,
    interfaces: Vec<String>,
}

impl fmt::Debug for DiscoveryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscoveryStream")
            .field("interfaces", &self.interfaces)
            .finish_non_exhaustive()
    }
}

impl Stream for DiscoveryStream {
    type Item = DiscoveryEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl DiscoveryStream {
    /// The network interfaces it listens on.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// Stops browsing and waits until the mDNS daemon has shut down.
    pub async fn close(self) {
        self.daemon.shutdown().await;
    }
}

/// Streams the rooms of app `app` on the local network (all interfaces) as
/// they appear and leave. Rooms of other apps and of other protocol versions
/// are left out (logged at debug level). Use [`Discovery::discover`] to
/// choose interfaces or list every app.
///
/// ```no_run
/// # async fn example() -> Result<(), rex::discovery::DiscoveryError> {
/// use futures_util::StreamExt;
/// use rex::discovery::DiscoveryEvent;
///
/// let mut rooms = rex::discover("trivia")?;
/// while let Some(event) = rooms.next().await {
///     match event {
///         DiscoveryEvent::Found(room) => println!("+ {} {:?}", room.name, room.addrs),
///         DiscoveryEvent::Lost(room) => println!("- {}", room.name),
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub fn discover(app: &str) -> Result<DiscoveryStream, DiscoveryError> {
    Discovery::new().discover(Some(app))
}

/// The first room of app `app` found on the local network within
/// `timeout`, or an error naming the app, the interfaces and the wait
/// ("no REx server for app 'trivia' answered on interfaces eth0, wlan0
/// within 5 s; …").
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let room = rex::discover_one("trivia", std::time::Duration::from_secs(5)).await?;
/// println!("joining {} at {}", room.name, room.url().unwrap_or_default());
/// # Ok(())
/// # }
/// ```
pub async fn discover_one(app: &str, timeout: Duration) -> Result<Room, DiscoveryError> {
    Discovery::new().discover_one(Some(app), timeout).await
}

impl Discovery {
    /// Streams the rooms of `app` (or of every app, for `None`) on this
    /// selection's interfaces; see [`discover`].
    pub fn discover(&self, app: Option<&str>) -> Result<DiscoveryStream, DiscoveryError> {
        let interfaces = self.interface_names();
        if interfaces.is_empty() {
            return Err(DiscoveryError::NoInterface {
                wanted: self
                    .interfaces
                    .clone()
                    .unwrap_or_else(|| vec!["any".to_owned()]),
                available: Discovery::new().interface_names(),
            });
        }
        let daemon = self.daemon()?;
        let events = daemon
            .get()
            .browse(SERVICE_TYPE)
            .map_err(|e| DiscoveryError::Daemon {
                reason: format!("could not browse for {SERVICE_TYPE}: {e}"),
            })?;
        let browse = Browse {
            events,
            app: app.map(str::to_owned),
            rooms: HashMap::new(),
        };
        let inner = stream::unfold(browse, |mut browse| async move {
            let event = browse.next().await?;
            Some((event, browse))
        });
        Ok(DiscoveryStream {
            inner: Box::pin(inner),
            daemon,
            interfaces,
        })
    }

    /// The first room of `app` (or of any app, for `None`) found within
    /// `timeout`; see [`discover_one`].
    pub async fn discover_one(
        &self,
        app: Option<&str>,
        timeout: Duration,
    ) -> Result<Room, DiscoveryError> {
        let mut rooms = self.discover(app)?;
        let first = tokio::time::timeout(timeout, async {
            while let Some(event) = rooms.next().await {
                if let DiscoveryEvent::Found(room) = event {
                    return Some(room);
                }
            }
            None
        })
        .await;
        let interfaces = rooms.interfaces.clone();
        rooms.close().await;
        match first {
            Ok(Some(room)) => Ok(room),
            Ok(None) => Err(DiscoveryError::Daemon {
                reason: "the mDNS daemon stopped while browsing".to_owned(),
            }),
            Err(_) => Err(DiscoveryError::NotFound {
                app: app.map(str::to_owned),
                interfaces,
                timeout,
            }),
        }
    }
}

/// The state of one browse: what the daemon reports, filtered to one app,
/// and the rooms reported so far (to report changes and losses once).
struct Browse {
    events: Receiver<ServiceEvent>,
    app: Option<String>,
    rooms: HashMap<String, Room>,
}

impl Browse {
    async fn next(&mut self) -> Option<DiscoveryEvent> {
        loop {
            match self.events.recv_async().await.ok()? {
                ServiceEvent::ServiceResolved(service) => {
                    let fullname = service.get_fullname().to_owned();
                    let Some(room) = self.room(&service) else {
                        continue;
                    };
                    if self.rooms.get(&fullname) == Some(&room) {
                        continue;
                    }
                    self.rooms.insert(fullname, room.clone());
                    return Some(DiscoveryEvent::Found(room));
                }
                ServiceEvent::ServiceRemoved(_, fullname) => {
                    if let Some(room) = self.rooms.remove(&fullname) {
                        return Some(DiscoveryEvent::Lost(LostRoom {
                            instance: room.instance,
                            name: room.name,
                            app: room.app,
                        }));
                    }
                }
                _ => {}
            }
        }
    }

    /// The room a resolved service describes, if it is one this browse
    /// wants.
    fn room(&self, service: &ResolvedService) -> Option<Room> {
        let fullname = service.get_fullname();
        let Some(app) = service.get_property_val_str(TXT_APP) else {
            tracing::debug!(%fullname, "ignoring a _rex._tcp service without an `app` TXT record");
            return None;
        };
        if self.app.as_deref().is_some_and(|wanted| wanted != app) {
            tracing::debug!(%fullname, app, "ignoring a room of another app");
            return None;
        }
        let protocol = service
            .get_property_val_str(TXT_PROTO)
            .and_then(|p| p.parse::<u32>().ok());
        if protocol != Some(PROTOCOL_VERSION) {
            tracing::debug!(%fullname, ?protocol, "ignoring a room of another protocol version");
            return None;
        }
        let base = service.get_property_val_str(TXT_PATH).unwrap_or(path::BASE);
        if !is_base_path(base) {
            tracing::debug!(%fullname, path = base, "ignoring a room whose path is not a URL path ending in /rex/v0");
            return None;
        }
        let instance = instance_of(fullname);
        let port = service.get_port();
        let addrs = order_addrs(service.get_addresses().iter(), port);
        if addrs.is_empty() {
            tracing::debug!(%fullname, "ignoring a room without addresses");
            return None;
        }
        Some(Room {
            name: service
                .get_property_val_str(TXT_NAME)
                .map_or_else(|| instance.clone(), str::to_owned),
            instance,
            app: app.to_owned(),
            protocol: PROTOCOL_VERSION,
            path: base.to_owned(),
            epoch: service
                .get_property_val_str(TXT_EPOCH)
                .and_then(|e| e.parse().ok()),
            addrs,
            port,
            host: service.get_hostname().to_owned(),
            hosts_rooms: service.get_property_val_str(TXT_ROOMS) == Some("1"),
        })
    }
}

/// Whether `path` (a `path` TXT record) is protocol v0's base path, after
/// an optional prefix that can go in a URL as it is: `/rex/v0`,
/// `/games/quiz/rex/v0`. Anything else (a query, spaces, dot segments)
/// could not be joined to an address safely.
fn is_base_path(path: &str) -> bool {
    let Some(prefix) = path.strip_suffix(path::BASE) else {
        return false;
    };
    (prefix.is_empty() || prefix.starts_with('/'))
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@%".contains(&b))
        && !prefix.split('/').any(|s| s == "." || s == "..")
}

/// Socket addresses in the order to try them: IPv4 (loopback last), then
/// IPv6 with a global or unique-local address, then IPv6 link-local with
/// its scope id.
fn order_addrs<'a>(addrs: impl Iterator<Item = &'a ScopedIp>, port: u16) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = addrs
        .map(|ip| match ip {
            ScopedIp::V6(v6) if is_link_local_v6(&IpAddr::V6(*v6.addr())) => {
                SocketAddr::V6(SocketAddrV6::new(*v6.addr(), port, 0, v6.scope_id().index))
            }
            other => SocketAddr::new(other.to_ip_addr(), port),
        })
        .collect();
    out.sort_by_key(|a| {
        let rank = match a.ip() {
            IpAddr::V4(v4) if !v4.is_loopback() => 0,
            IpAddr::V4(_) => 1,
            ip if is_link_local_v6(&ip) => 3,
            _ => 2,
        };
        (rank, *a)
    });
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_tried_ipv4_first_then_ipv6_link_local_last() {
        let ips: Vec<ScopedIp> = ["fe80::1", "127.0.0.1", "fd00::5", "10.0.0.2"]
            .iter()
            .map(|s| ScopedIp::from(s.parse::<IpAddr>().unwrap()))
            .collect();
        let ordered = order_addrs(ips.iter(), 7700);
        let shown: Vec<String> = ordered.iter().map(|a| a.ip().to_string()).collect();
        assert_eq!(shown, ["10.0.0.2", "127.0.0.1", "fd00::5", "fe80::1"]);
        assert!(ordered.iter().all(|a| a.port() == 7700));
    }

    #[test]
    fn only_paths_that_end_in_the_protocols_base_are_used() {
        for ok in [
            "/rex/v0",
            "/games/quiz/rex/v0",
            "/r/KXQF/rex/v0",
            "/a%20b/rex/v0",
        ] {
            assert!(is_base_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/rex/v1",
            "rex/v0",
            "x/rex/v0",
            "/a b/rex/v0",
            "/a?b/rex/v0",
            "/a#b/rex/v0",
            "/../rex/v0",
            "/a/\u{1b}/rex/v0",
        ] {
            assert!(!is_base_path(bad), "{bad}");
        }
    }

    #[test]
    fn a_room_with_a_prefix_is_reached_under_it() {
        let room = Room {
            name: "Quiz".into(),
            instance: "Quiz".into(),
            app: "trivia".into(),
            protocol: PROTOCOL_VERSION,
            path: "/games/quiz/rex/v0".into(),
            epoch: None,
            addrs: vec![
                "10.0.0.2:7700".parse().unwrap(),
                "[fd00::2]:7700".parse().unwrap(),
            ],
            port: 7700,
            host: "rex-1.local.".into(),
            hosts_rooms: false,
        };
        assert_eq!(
            room.url().as_deref(),
            Some("http://10.0.0.2:7700/games/quiz")
        );
        let at_root = Room {
            path: path::BASE.into(),
            ..room.clone()
        };
        assert_eq!(at_root.url().as_deref(), Some("http://10.0.0.2:7700"));
        #[cfg(feature = "client")]
        {
            use crate::IntoEndpoint;
            let endpoint = (&room).into_endpoint().unwrap();
            assert_eq!(
                endpoint.candidates().collect::<Vec<_>>(),
                [
                    "http://10.0.0.2:7700/games/quiz",
                    "http://[fd00::2]:7700/games/quiz"
                ]
            );
            assert_eq!(
                at_root.into_endpoint().unwrap().as_str(),
                "http://10.0.0.2:7700"
            );
        }
    }
}
