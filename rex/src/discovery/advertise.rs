//! The server side: announce a room with DNS-SD until shutdown, then say
//! goodbye.

use std::net::{IpAddr, SocketAddr};

use mdns_sd::{DaemonEvent, IfKind, Receiver, ServiceInfo};
use rex_proto::{path, Epoch, PROTOCOL_VERSION};

use super::{
    Daemon, Discovery, DiscoveryError, ANNOUNCE_TIMEOUT, SERVICE_TYPE, STOP_TIMEOUT, TXT_APP,
    TXT_EPOCH, TXT_NAME, TXT_PATH, TXT_PROTO, TXT_ROOMS,
};

/// The longest DNS label, and so the longest instance (room) name.
const MAX_LABEL: usize = 63;

/// A room being advertised on the local network.
///
/// Made by [`Advertisement::start`] (or for you by
/// [`Server::run_advertised`](crate::Server::run_advertised)), or from its
/// parts with [`Advertisement::builder`] (a host of rooms, say).
/// [`stop`](Advertisement::stop) sends the goodbye, so browsers see the room
/// leave at once, and shuts the mDNS daemon down; dropping it does the same
/// without waiting.
#[derive(Debug)]
#[must_use = "the room is advertised only while the Advertisement lives"]
pub struct Advertisement {
    daemon: Option<Daemon>,
    /// The name registered, which the daemon knows the service by.
    fullname: String,
    /// The instance name announced: the room's name, or the name with a
    /// suffix if another device on the network already used it.
    instance: String,
}

/// What to advertise, made by [`Advertisement::builder`]: a server's app
/// id, display name and address, and optionally its epoch and whether it
/// is a host of rooms.
///
/// ```no_run
/// # async fn example() -> Result<(), rex::DiscoveryError> {
/// use rex::discovery::{Advertisement, Discovery};
///
/// // A host of trivia rooms listening on port 7700 of every IPv4 address.
/// let advertisement = Advertisement::builder("trivia", "Quiz Host", "0.0.0.0:7700".parse().unwrap())
///     .hosts_rooms(true)
///     .start(&Discovery::new())
///     .await?;
/// # advertisement.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "nothing is advertised until `start` is called"]
pub struct AdvertisementBuilder {
    app: String,
    name: String,
    addr: SocketAddr,
    /// `None` for a server without one log of its own (a host of rooms):
    /// the `epoch` TXT record is then left out.
    epoch: Option<Epoch>,
    /// Announced as `rooms=1`, so browsers can tell a host, whose URL
    /// opens rooms, from a room, whose URL is joined.
    hosts_rooms: bool,
}

impl AdvertisementBuilder {
    /// The epoch of the server's log, advertised so that browsers see a
    /// restart (the `epoch` TXT record). Left out by default.
    pub fn epoch(mut self, epoch: Epoch) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// Whether the server is a host of rooms (default `false`): it then
    /// advertises the TXT record `rooms=1`, and browsers report it in
    /// [`Room::hosts_rooms`](crate::discovery::Room::hosts_rooms). Its URL
    /// is where rooms are opened (`POST /rex/v0/rooms`), not one to join.
    pub fn hosts_rooms(mut self, hosts_rooms: bool) -> Self {
        self.hosts_rooms = hosts_rooms;
        self
    }

    /// Advertises and waits until it has been announced on at least one
    /// interface; see [`Advertisement::start`] for the addresses used and
    /// the errors.
    pub async fn start(self, discovery: &Discovery) -> Result<Advertisement, DiscoveryError> {
        Advertisement::start_room(&self, discovery).await
    }
}

impl Advertisement {
    /// Advertises `server` (its app id, room name, port and epoch) and
    /// waits until the room has been announced on at least one interface
    /// (about 1 s: the name is probed first, and a clash on the network is
    /// resolved by adding a suffix such as ` (2)`).
    ///
    /// The advertised addresses follow what the server is bound to: every
    /// address of the selected interfaces for `0.0.0.0` (IPv4 only) or
    /// `[::]`, just that address otherwise.
    ///
    /// Fails with a reason a person can act on when the daemon cannot start,
    /// refuses the service (errors it reports only on its monitor channel
    /// surface here), no interface matches, or nothing was announced within
    /// 5 s.
    ///
    /// ```no_run
    /// # use rex::{RexApp, Server};
    /// # use rex::discovery::{Advertisement, Discovery};
    /// # async fn example<A: RexApp>(app: A) -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder(app).name("Living Room TV").bind("0.0.0.0:0").await?;
    /// let advertisement = Advertisement::start(&server, &Discovery::new()).await?;
    /// println!("advertised as {}", advertisement.instance_name());
    /// server.run(async move {
    ///     tokio::signal::ctrl_c().await.ok();
    ///     advertisement.stop().await;
    /// }).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "server")]
    pub async fn start<A: crate::RexApp>(
        server: &crate::Server<A>,
        discovery: &Discovery,
    ) -> Result<Advertisement, DiscoveryError> {
        Advertisement::builder(
            <A::Protocol as rex_proto::Protocol>::APP,
            server.name(),
            server.local_addr(),
        )
        .epoch(server.epoch())
        .start(discovery)
        .await
    }

    /// Starts describing what to advertise from its parts: the app id, the
    /// display name (the DNS-SD instance name) and the address the server
    /// is bound to. For a server other than a [`Server`](crate::Server)
    /// (a host of rooms); a `Server` calls [`Advertisement::start`].
    pub fn builder(
        app: impl Into<String>,
        name: impl Into<String>,
        addr: SocketAddr,
    ) -> AdvertisementBuilder {
        AdvertisementBuilder {
            app: app.into(),
            name: name.into(),
            addr,
            epoch: None,
            hosts_rooms: false,
        }
    }

    /// The instance name the room is announced as: its name, or its name
    /// with a suffix (`Living Room TV (2)`) if another device already used
    /// it.
    pub fn instance_name(&self) -> &str {
        &self.instance
    }

    /// Withdraws the room (the DNS-SD goodbye) and shuts the mDNS daemon
    /// down, waiting (at most a few seconds) for both.
    pub async fn stop(mut self) {
        let Some(daemon) = self.daemon.take() else {
            return;
        };
        match daemon.get().unregister(&self.fullname) {
            Ok(status) => {
                if tokio::time::timeout(STOP_TIMEOUT, status.recv_async())
                    .await
                    .is_err()
                {
                    tracing::warn!(instance = %self.instance, "the mDNS goodbye was not confirmed in time");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not withdraw the room from mDNS"),
        }
        daemon.shutdown().await;
        tracing::info!(instance = %self.instance, "no longer advertised");
    }

    async fn start_room(
        room: &AdvertisementBuilder,
        discovery: &Discovery,
    ) -> Result<Self, DiscoveryError> {
        check_name(&room.name)?;
        let mut discovery = discovery.clone();
        // A server bound to 0.0.0.0 cannot be reached over IPv6: do not
        // advertise addresses that would not answer.
        if room.addr.ip() == IpAddr::from([0, 0, 0, 0]) {
            discovery.ipv4_only = true;
        }
        let bound = Some(room.addr.ip()).filter(|ip| !ip.is_unspecified());
        let interfaces = match bound {
            Some(ip) => interfaces_with(ip),
            None => discovery.interface_names(),
        };
        if interfaces.is_empty() {
            return Err(DiscoveryError::NoInterface {
                wanted: match (bound, &discovery.interfaces) {
                    (Some(ip), _) => vec![format!("the one with address {ip}")],
                    (None, Some(names)) => names.clone(),
                    (None, None) => vec!["any".to_owned()],
                },
                available: Discovery::new().interface_names(),
            });
        }

        let daemon = discovery.daemon()?;
        let daemon_error = |e: mdns_sd::Error| DiscoveryError::Daemon {
            reason: e.to_string(),
        };
        // Monitor before registering, so no event about the service is lost.
        let monitor = daemon.get().monitor().map_err(daemon_error)?;
        if let Some(ip) = bound {
            // Announce only where the server can be reached.
            daemon
                .get()
                .disable_interface(IfKind::All)
                .map_err(daemon_error)?;
            daemon
                .get()
                .enable_interface(IfKind::Addr(ip))
                .map_err(daemon_error)?;
        }
        let info = service_info(room, bound, &discovery)?;
        let fullname = info.get_fullname().to_owned();
        daemon
            .get()
            .register(info)
            .map_err(|e| DiscoveryError::Advertise {
                name: room.name.clone(),
                reason: e.to_string(),
            })?;

        let instance = match tokio::time::timeout(ANNOUNCE_TIMEOUT, announced(&monitor)).await {
            Ok(Ok(announced)) => instance_of(&announced),
            Ok(Err(reason)) => {
                daemon.shutdown().await;
                return Err(DiscoveryError::Advertise {
                    name: room.name.clone(),
                    reason,
                });
            }
            Err(_) => {
                daemon.shutdown().await;
                return Err(DiscoveryError::NotAnnounced {
                    name: room.name.clone(),
                    interfaces,
                    timeout: ANNOUNCE_TIMEOUT,
                });
            }
        };
        if instance != room.name {
            tracing::info!(name = %room.name, %instance, "another device uses this room name; advertised with a suffix");
        }
        tracing::info!(%instance, app = %room.app, port = room.addr.port(), interfaces = %interfaces.join(", "), "advertised on the local network");
        // Keep reporting what the daemon says later (renames after a clash,
        // errors); the task ends when the daemon shuts down.
        tokio::spawn(async move {
            while let Ok(event) = monitor.recv_async().await {
                match event {
                    DaemonEvent::Error(e) => tracing::warn!(error = %e, "mDNS advertisement"),
                    DaemonEvent::NameChange(change) => {
                        tracing::info!(from = %change.original, to = %change.new_name, "mDNS name changed after a clash")
                    }
                    other => tracing::trace!(?other, "mDNS daemon event"),
                }
            }
        });
        Ok(Advertisement {
            daemon: Some(daemon),
            fullname,
            instance,
        })
    }
}

#[cfg(feature = "server")]
impl<A: crate::RexApp> crate::Server<A> {
    /// Like [`Server::run`](crate::Server::run), and advertises the room on
    /// the local network meanwhile (see [`Advertisement::start`]): clients
    /// find it with [`discover`](crate::discover). When `shutdown`
    /// completes, the room is withdrawn first (browsers see it leave), then
    /// the server shuts down gracefully.
    ///
    /// Fails before serving if the room cannot be advertised; the error
    /// says why. A server that should not be found (tests, a kiosk behind
    /// a URL) calls `run` instead.
    ///
    /// ```no_run
    /// # use rex::{RexApp, Server};
    /// # use rex::discovery::Discovery;
    /// # async fn example<A: RexApp>(app: A) -> std::io::Result<()> {
    /// let server = Server::builder(app).name("Living Room TV").bind("0.0.0.0:0").await?;
    /// server
    ///     .run_advertised(&Discovery::new(), async { tokio::signal::ctrl_c().await.ok(); })
    ///     .await
    /// # }
    /// ```
    pub async fn run_advertised(
        self,
        discovery: &Discovery,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let advertisement = Advertisement::start(&self, discovery).await?;
        self.run(async move {
            shutdown.await;
            advertisement.stop().await;
        })
        .await
    }
}

#[cfg(feature = "server")]
impl<A: crate::RexApp> crate::Host<A> {
    /// Like [`Host::run`](crate::Host::run), and advertises the host on the
    /// local network meanwhile, with its name and the TXT record `rooms=1`
    /// (a host has no epoch of its own): browsers report it with
    /// [`Room::hosts_rooms`](crate::discovery::Room::hosts_rooms). When
    /// `shutdown` completes, the host is withdrawn first, then it shuts
    /// down gracefully. Fails before serving if the host cannot be
    /// advertised; the error says why.
    ///
    /// ```no_run
    /// # use rex::{Host, NewRoom, RexApp};
    /// # use rex::discovery::Discovery;
    /// # async fn example<A: RexApp + Default>() -> std::io::Result<()> {
    /// let host = Host::builder(|_room: &NewRoom| Ok(A::default())).name("Quiz night").bind("0.0.0.0:0").await?;
    /// host.run_advertised(&Discovery::new(), async { tokio::signal::ctrl_c().await.ok(); })
    ///     .await
    /// # }
    /// ```
    pub async fn run_advertised(
        self,
        discovery: &Discovery,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let advertisement = Advertisement::builder(
            <A::Protocol as rex_proto::Protocol>::APP,
            self.name(),
            self.local_addr(),
        )
        .hosts_rooms(true)
        .start(discovery)
        .await?;
        self.run(async move {
            shutdown.await;
            advertisement.stop().await;
        })
        .await
    }
}

impl Drop for Advertisement {
    fn drop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            // Without waiting: the daemon sends the goodbye, then exits (the
            // commands run in order); `Daemon`'s drop queues the exit.
            let _ = daemon.get().unregister(&self.fullname);
        }
    }
}

/// Waits for the first announcement; `Err` with the daemon's reason if it
/// reports an error first.
async fn announced(monitor: &Receiver<DaemonEvent>) -> Result<String, String> {
    loop {
        match monitor.recv_async().await {
            Ok(DaemonEvent::Announce(fullname, _where)) => return Ok(fullname),
            Ok(DaemonEvent::Error(e)) => return Err(e.to_string()),
            Ok(DaemonEvent::NameChange(change)) => {
                tracing::debug!(from = %change.original, to = %change.new_name, "mDNS name clash resolved")
            }
            Ok(_) => {}
            Err(_) => return Err("the mDNS daemon stopped".to_owned()),
        }
    }
}

/// Builds the service: type with the app's subtype, TXT records, host name
/// and addresses.
fn service_info(
    room: &AdvertisementBuilder,
    bound: Option<IpAddr>,
    discovery: &Discovery,
) -> Result<ServiceInfo, DiscoveryError> {
    let ty = if is_label(&room.app) {
        format!("_{}._sub.{SERVICE_TYPE}", room.app)
    } else {
        tracing::warn!(app = %room.app, "the app id is not a DNS label (letters, digits, '-'; at most 62); advertising without the app subtype");
        SERVICE_TYPE.to_owned()
    };
    let proto = PROTOCOL_VERSION.to_string();
    let txt = txt_records(room, &proto);
    let txt: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A host name of its own per server (from the epoch, or at random for
    // a server without one), so two servers on one machine never clash
    // over it.
    let unique = room.epoch.map_or_else(uuid::Uuid::new_v4, |e| e.0);
    let host = format!("rex-{}.local.", &unique.simple().to_string()[..8]);
    let addrs: Vec<IpAddr> = bound.into_iter().collect();
    let info = ServiceInfo::new(
        &ty,
        &room.name,
        &host,
        &addrs[..],
        room.addr.port(),
        &txt[..],
    )
    .map_err(|e| DiscoveryError::Advertise {
        name: room.name.clone(),
        reason: e.to_string(),
    })?;
    let mut info = if bound.is_none() {
        // Every address of the selected interfaces, kept up to date.
        info.enable_addr_auto()
    } else {
        info
    };
    info.set_requires_probe(!discovery.no_probing);
    Ok(info)
}

/// The TXT records of an advertisement (`docs/protocol.md`, "Discovery").
fn txt_records(room: &AdvertisementBuilder, proto: &str) -> Vec<(&'static str, String)> {
    let mut txt = vec![
        (TXT_APP, room.app.clone()),
        (TXT_PROTO, proto.to_owned()),
        (TXT_PATH, path::BASE.to_owned()),
    ];
    if let Some(epoch) = room.epoch {
        txt.push((TXT_EPOCH, epoch.to_string()));
    }
    txt.push((TXT_NAME, room.name.clone()));
    if room.hosts_rooms {
        txt.push((TXT_ROOMS, "1".to_owned()));
    }
    txt
}

/// Room names become DNS-SD instance names: one DNS label.
fn check_name(name: &str) -> Result<(), DiscoveryError> {
    let invalid = |reason: String| DiscoveryError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.trim().is_empty() {
        return Err(invalid(
            "it is empty; give the room a name with ServerBuilder::name".to_owned(),
        ));
    }
    if name.len() > MAX_LABEL {
        return Err(invalid(format!(
            "it is {} bytes long and DNS-SD instance names are at most {MAX_LABEL}; shorten it",
            name.len()
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "it contains control characters; remove them".to_owned(),
        ));
    }
    Ok(())
}

/// Whether `s` can be a DNS label after a leading `_` (for the subtype).
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() < MAX_LABEL
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The instance part of `Name._rex._tcp.local.`, with DNS escapes undone.
pub(super) fn instance_of(fullname: &str) -> String {
    let instance = fullname
        .strip_suffix(SERVICE_TYPE)
        .and_then(|s| s.strip_suffix('.'))
        .unwrap_or(fullname);
    let mut out = String::with_capacity(instance.len());
    let mut chars = instance.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The names of the interfaces that have `ip`.
fn interfaces_with(ip: IpAddr) -> Vec<String> {
    let mut names: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.ip() == ip)
        .map(|i| i.name)
        .collect();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_unescaped_and_suffixes_kept() {
        assert_eq!(
            instance_of("Living Room TV (2)._rex._tcp.local."),
            "Living Room TV (2)"
        );
        assert_eq!(
            instance_of(r"Dr\. Who\\s room._rex._tcp.local."),
            r"Dr. Who\s room"
        );
    }

    #[test]
    fn names_that_cannot_be_instance_names_say_what_to_do() {
        assert!(check_name("Living Room TV").is_ok());
        let long = "x".repeat(64);
        let e = check_name(&long).unwrap_err().to_string();
        assert!(e.contains("64 bytes") && e.contains("shorten"), "{e}");
        assert!(check_name(" ").is_err());
        assert!(is_label("trivia") && is_label("my-app2"));
        assert!(!is_label("my.app") && !is_label("") && !is_label("-x"));
    }
}
