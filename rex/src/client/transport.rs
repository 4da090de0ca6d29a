//! The HTTP side of the client: where the server is ([`Endpoint`]), one
//! pooled keep-alive hyper client, timeouts, and retry backoff.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rex_proto::SessionToken;

use super::moved::{self, is_redirect, moved_base, Route, MAX_REDIRECTS};
use super::{ClientConfig, ClientError};

/// Where a REx server is: the base URL its protocol lives under.
///
/// Made from a URL (`"http://192.168.1.20:7700"`), a socket address, or
/// several addresses of one server ([`Endpoint::from_addrs`], what a
/// discovered room gives): the client then uses the first that answers.
///
/// A base URL may carry a path: a hosted room's
/// (`http://192.168.1.20:7700/r/KXQF`), or whatever prefix a reverse proxy
/// serves the server under (`http://example.lan/games/quiz`). Every request
/// goes under it (`…/r/KXQF/rex/v0/events`). A trailing `/` and a trailing
/// `/rex/v0` are accepted and dropped, so a room's URL can be given as it
/// is shown, or as the protocol's base.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:port` and the path prefix (`/r/KXQF`, or nothing),
    /// without a trailing `/`.
    base: String,
    /// Other base URLs of the same server (the same path on other
    /// addresses), tried in order when `base` does not answer: a room found
    /// by discovery is often reachable at an IPv4 address and an IPv6
    /// link-local one, and only one may work from here.
    fallbacks: Vec<String>,
}

impl Endpoint {
    /// Parses a base URL: `http://`, a host and port, and optionally a path
    /// prefix. No query, fragment or user name.
    ///
    /// ```
    /// use rex::Endpoint;
    ///
    /// let endpoint = Endpoint::parse("http://192.168.1.20:7700/rex/v0").unwrap();
    /// assert_eq!(endpoint.as_str(), "http://192.168.1.20:7700");
    ///
    /// // A hosted room: the room's path is kept, whichever way it is written.
    /// let room = Endpoint::parse("http://192.168.1.20:7700/r/KXQF/").unwrap();
    /// assert_eq!(room.as_str(), "http://192.168.1.20:7700/r/KXQF");
    /// assert_eq!(room.path(), "/r/KXQF");
    /// assert_eq!(Endpoint::parse("http://192.168.1.20:7700/r/KXQF/rex/v0").unwrap(), room);
    ///
    /// assert!(Endpoint::parse("192.168.1.20:7700").is_err()); // no scheme
    /// ```
    pub fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let text = url.trim();
        // `Uri` drops a fragment without a word; a base URL has no use for
        // one, and keeping quiet about it would hide a mistyped URL.
        if text.contains('#') {
            return Err(invalid("the URL must not have a fragment (#…)"));
        }
        let uri: Uri = text.parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(invalid("only http:// is supported")),
            None => return Err(invalid("expected a URL such as http://192.168.1.20:7700")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("it has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user names in the URL are not supported"));
        }
        if uri.query().is_some() {
            return Err(invalid("the URL must not have a query"));
        }
        let path = base_path(uri.path()).map_err(invalid)?;
        Ok(Endpoint {
            base: format!("http://{authority}{path}"),
            fallbacks: Vec::new(),
        })
    }

    /// The endpoint of a socket address (a server at the root of it).
    pub fn from_addr(addr: SocketAddr) -> Endpoint {
        Endpoint {
            base: format!("http://{addr}"),
            fallbacks: Vec::new(),
        }
    }

    /// The endpoint of a server reachable at several addresses, tried in
    /// the order given until one answers (at connect). An IPv6 link-local
    /// address needs its scope id (the interface) to be reachable.
    ///
    /// ```
    /// # use rex::Endpoint;
    /// let endpoint = Endpoint::from_addrs(["10.0.0.2:7700".parse().unwrap(), "[fe80::2%3]:7700".parse().unwrap()]).unwrap();
    /// assert_eq!(endpoint.as_str(), "http://10.0.0.2:7700");
    /// assert_eq!(endpoint.candidates().count(), 2);
    /// ```
    pub fn from_addrs(
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Endpoint, ClientError> {
        let mut all = addrs.into_iter().map(|a| format!("http://{a}"));
        let base = all.next().ok_or_else(|| ClientError::InvalidUrl {
            url: String::new(),
            reason: "no address to connect to".to_owned(),
        })?;
        Ok(Endpoint {
            base,
            fallbacks: all.collect(),
        })
    }

    /// This endpoint with `path` added to its base URL, on every address:
    /// a room of a host (`/r/KXQF`, [`RoomCreated::path`](crate::proto::RoomCreated::path)),
    /// or the prefix a discovered server advertised. `path` starts with
    /// `/`; a trailing `/` or `/rex/v0` is dropped as in
    /// [`Endpoint::parse`].
    ///
    /// ```
    /// # use rex::Endpoint;
    /// let host = Endpoint::from_addrs(["10.0.0.2:7700".parse().unwrap(), "[fd00::2]:7700".parse().unwrap()]).unwrap();
    /// let room = host.append_path("/r/KXQF").unwrap();
    /// assert_eq!(room.as_str(), "http://10.0.0.2:7700/r/KXQF");
    /// assert_eq!(room.candidates().last(), Some("http://[fd00::2]:7700/r/KXQF"));
    /// assert!(host.append_path("r/KXQF").is_err()); // not a path
    /// ```
    pub fn append_path(&self, path: &str) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: format!("{}{path}", self.base),
            reason: reason.to_owned(),
        };
        if !path.is_empty() && !path.starts_with('/') {
            return Err(invalid("a path to add must start with /"));
        }
        // Checked and normalised as the path of a URL; the addresses need
        // no checking again (an IPv6 scope id is no URL syntax, but it is
        // how a link-local address is reached).
        let checked = Endpoint::parse(&format!("http://h{path}")).map_err(|e| match e {
            ClientError::InvalidUrl { reason, .. } => invalid(&reason),
            other => other,
        })?;
        let path = checked.path();
        Ok(Endpoint {
            base: format!("{}{path}", self.base),
            fallbacks: self
                .fallbacks
                .iter()
                .map(|b| format!("{b}{path}"))
                .collect(),
        })
    }

    /// Every base URL this endpoint may be reached at, in the order they
    /// are tried.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base.as_str()).chain(self.fallbacks.iter().map(String::as_str))
    }

    /// The base URL: `http://host:port` and the path prefix, if any
    /// (`http://host:port/r/KXQF`), without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// The path prefix of the base URL (`/r/KXQF`), or `""` for a server
    /// at the root of its address.
    pub fn path(&self) -> &str {
        moved::path_of(&self.base)
    }

    /// The URL of `path_and_query` (`/rex/v0/events?start=3`) under the
    /// base.
    #[cfg(test)]
    pub(crate) fn uri(&self, path_and_query: &str) -> Result<Uri, ClientError> {
        uri(&self.base, path_and_query)
    }

    /// The same addresses, with the candidate `first` tried first and the
    /// others after it in their order (round from the start).
    fn starting_at(&self, first: usize) -> Endpoint {
        let all: Vec<&str> = self.candidates().collect();
        let first = first.min(all.len().saturating_sub(1));
        let mut order = all[first..]
            .iter()
            .chain(&all[..first])
            .map(|b| (*b).to_owned());
        Endpoint {
            base: order.next().unwrap_or_else(|| self.base.clone()),
            fallbacks: order.collect(),
        }
    }

    /// This endpoint with `others` (base URLs of the same room elsewhere)
    /// added to its fallbacks, those it has already left out.
    pub(crate) fn with_fallbacks(mut self, others: impl IntoIterator<Item = String>) -> Endpoint {
        for other in others {
            if !self.candidates().any(|c| c == other) {
                self.fallbacks.push(other);
            }
        }
        self
    }

    /// An endpoint of one base URL, already checked.
    pub(crate) fn single(base: &str) -> Endpoint {
        Endpoint {
            base: base.to_owned(),
            fallbacks: Vec::new(),
        }
    }
}

/// The URL of `path_and_query` (`/rex/v0/events?start=3`) under `base`.
fn uri(base: &str, path_and_query: &str) -> Result<Uri, ClientError> {
    // A base never ends with `/` and every path starts with one.
    let url = format!("{base}{path_and_query}");
    url.parse().map_err(|_| ClientError::InvalidUrl {
        url,
        reason: "not a URL".to_owned(),
    })
}

/// The path prefix of a base URL given with `path`: without a trailing `/`
/// or `/rex/v0` (so `/`, `/rex/v0` and `/rex/v0/` are the root, and
/// `/r/KXQF/rex/v0` is `/r/KXQF`). Dot segments are refused: servers and
/// proxies do not agree on what they mean.
fn base_path(path: &str) -> Result<&str, &'static str> {
    let path = path.trim_end_matches('/');
    let path = path
        .strip_suffix(rex_proto::path::BASE)
        .unwrap_or(path)
        .trim_end_matches('/');
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("the path must not contain `.` or `..` segments");
    }
    Ok(path)
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fallbacks.is_empty() {
            f.debug_tuple("Endpoint").field(&self.base).finish()
        } else {
            f.debug_list().entries(self.candidates()).finish()
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// Anything a client can connect to: a URL string, a socket address, or an
/// [`Endpoint`].
pub trait IntoEndpoint {
    /// Converts to an endpoint, or says why it cannot.
    fn into_endpoint(self) -> Result<Endpoint, ClientError>;
}

impl IntoEndpoint for Endpoint {
    fn into_endpoint(self) -> Result<Endpoint, ClientError> {
        Ok(self)
    }
}

impl IntoEndpoint for &str {
    fn into_endpoint(self) -> Result<Endpoint, ClientError> {
        Endpoint::parse(self)
    }
}

impl IntoEndpoint for String {
    fn into_endpoint(self) -> Result<Endpoint, ClientError> {
        Endpoint::parse(&self)
    }
}

impl IntoEndpoint for &String {
    fn into_endpoint(self) -> Result<Endpoint, ClientError> {
        Endpoint::parse(self)
    }
}

impl IntoEndpoint for SocketAddr {
    fn into_endpoint(self) -> Result<Endpoint, ClientError> {
        Ok(Endpoint::from_addr(self))
    }
}

/// One pooled HTTP/1.1 client and the settings every request uses.
pub(crate) struct Transport {
    /// Keep-alive pool for requests with a short answer.
    http: HyperClient<HttpConnector, Full<Bytes>>,
    /// No pool: every event stream gets a fresh connection. A stream holds
    /// its connection for as long as it lives anyway, and a stream that is
    /// reconnecting after a cut or a stall must not land on an idle pooled
    /// connection that may be just as dead.
    streams: HyperClient<HttpConnector, Full<Bytes>>,
    /// The endpoint the client was made for (its answering address first):
    /// what it goes back to when the base a redirect named stops answering.
    pub(crate) endpoint: Endpoint,
    /// Where requests go now. Shared by every request and stream of the
    /// client, so one redirect moves them all (`docs/protocol.md` §16).
    route: Mutex<Route>,
    pub(crate) config: ClientConfig,
}

/// A complete answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    /// The `Location` header, which a redirect carries.
    location: Option<HeaderValue>,
}

impl Transport {
    pub(crate) fn new(endpoint: Endpoint, config: ClientConfig) -> Transport {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.connect_timeout));
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector.clone());
        let streams = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Transport {
            http,
            streams,
            route: Mutex::new(Route::new(&endpoint)),
            endpoint,
            config,
        }
    }

    fn route(&self) -> std::sync::MutexGuard<'_, Route> {
        self.route.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The base URL requests go to now: the one the last redirect named,
    /// or the endpoint's address in use.
    pub(crate) fn base(&self) -> String {
        self.route().base().to_owned()
    }

    /// `base` stopped answering (no connection, a cut, a `503`): the next
    /// request goes back to the endpoint (see [`Route::failed`]).
    fn failed_at(&self, base: &str) {
        let mut route = self.route();
        route.failed(base);
        if route.base() != base {
            tracing::debug!(from = %base, to = %route.base(), "the base stopped answering; going back");
        }
    }

    /// The base a redirect of a request of `path` sent to `base` leads
    /// to, remembered for every later request; or why it is not followed:
    /// a `Location` that is not the same room elsewhere
    /// ([`ClientError::Protocol`]), or one redirect too many
    /// ([`ClientError::Moved`]).
    fn follow(
        &self,
        base: &str,
        path: &str,
        status: StatusCode,
        location: Option<&HeaderValue>,
        body: &[u8],
        hops: &mut u32,
    ) -> Result<String, ClientError> {
        let Some(location) = location else {
            return Err(ClientError::Protocol {
                reason: format!("{base}{path} answered {status} without a Location to go to"),
            });
        };
        let location = location.to_str().map_err(|_| ClientError::Protocol {
            reason: format!("{base}{path} answered {status} with a Location that is not text"),
        })?;
        if *hops >= MAX_REDIRECTS {
            let said = match ClientError::from_response(status.as_u16(), body) {
                ClientError::Moved { reason } => reason,
                _ => format!("{status}"),
            };
            return Err(ClientError::Moved {
                reason: format!(
                    "{said} (gave up after {MAX_REDIRECTS} redirects in a row, the last to {location})"
                ),
            });
        }
        let moved =
            moved_base(base, path, location).map_err(|reason| ClientError::Protocol { reason })?;
        *hops += 1;
        tracing::debug!(from = %base, to = %moved, "the room is served elsewhere; following");
        self.route().moved(moved.clone());
        Ok(moved)
    }

    fn request(
        &self,
        base: &str,
        method: Method,
        path_and_query: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri(base, path_and_query)?);
        if let Some(token) = token {
            let value =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    ClientError::Protocol {
                        reason: "the session token is not a valid header value".to_owned(),
                    }
                })?;
            builder = builder.header(header::AUTHORIZATION, value);
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| ClientError::Protocol {
                reason: format!("could not build the request: {e}"),
            })
    }

    /// Sends one request and reads the whole answer, within the request
    /// timeout for each exchange. No retries here: callers decide what is
    /// safe to repeat. A redirect to the room's owner is followed (the
    /// same request, token and body, up to [`MAX_REDIRECTS`] times) and
    /// remembered; a base that does not answer is left for the endpoint.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
    ) -> Result<Answer, CallFailure> {
        let mut base = self.base();
        let mut hops = 0;
        loop {
            let answer = match self
                .exchange(&base, method.clone(), path, token, body.clone())
                .await
            {
                Ok(answer) => answer,
                Err(failure) => {
                    if !matches!(failure, CallFailure::Other(_)) {
                        self.failed_at(&base);
                    }
                    return Err(failure);
                }
            };
            if !is_redirect(answer.status) {
                if answer.status == StatusCode::SERVICE_UNAVAILABLE {
                    self.failed_at(&base);
                }
                return Ok(answer);
            }
            base = self
                .follow(
                    &base,
                    path,
                    answer.status,
                    answer.location.as_ref(),
                    &answer.body,
                    &mut hops,
                )
                .map_err(CallFailure::Other)?;
        }
    }

    /// One request to `base` and its whole answer.
    async fn exchange(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
    ) -> Result<Answer, CallFailure> {
        let req = self
            .request(base, method, path, token, body)
            .map_err(CallFailure::Other)?;
        let exchange = async {
            let response = self.http.request(req).await.map_err(|e| {
                if e.is_connect() {
                    CallFailure::NotSent(ClientError::transport(
                        format!("could not connect to {base}"),
                        e,
                    ))
                } else {
                    CallFailure::Lost(ClientError::transport(
                        format!("the connection to {base} failed"),
                        e,
                    ))
                }
            })?;
            let status = response.status();
            let location = response.headers().get(header::LOCATION).cloned();
            let body = response.into_body().collect().await.map_err(|e| {
                CallFailure::Lost(ClientError::transport("the answer was cut off", e))
            })?;
            Ok(Answer {
                status,
                body: body.to_bytes(),
                location,
            })
        };
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CallFailure::Lost(ClientError::Timeout)),
        }
    }

    /// Opens a streaming request; the caller reads the body. `accept` asks
    /// for a framing other than NDJSON; `last_event_id` resumes the way an
    /// SSE `EventSource` does. Redirects are followed and remembered as in
    /// [`Transport::call`].
    pub(crate) async fn open(
        &self,
        path: &str,
        token: Option<&SessionToken>,
        accept: Option<&'static str>,
        last_event_id: Option<u64>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut base = self.base();
        let mut hops = 0;
        loop {
            let response = match self
                .open_at(&base, path, token, accept, last_event_id)
                .await
            {
                Ok(response) => response,
                Err(e @ ClientError::InvalidUrl { .. } | e @ ClientError::Protocol { .. }) => {
                    return Err(e)
                }
                Err(e) => {
                    self.failed_at(&base);
                    return Err(e);
                }
            };
            let status = response.status();
            if !is_redirect(status) {
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    self.failed_at(&base);
                }
                return Ok(response);
            }
            let location = response.headers().get(header::LOCATION).cloned();
            // The body of a redirect is a short error; it only matters for
            // the reason of a `Moved`, so a slow or cut one is no answer.
            let body =
                tokio::time::timeout(self.config.request_timeout, response.into_body().collect())
                    .await;
            let body = match body {
                Ok(Ok(body)) => body.to_bytes(),
                _ => Bytes::new(),
            };
            base = self.follow(&base, path, status, location.as_ref(), &body, &mut hops)?;
        }
    }

    async fn open_at(
        &self,
        base: &str,
        path: &str,
        token: Option<&SessionToken>,
        accept: Option<&'static str>,
        last_event_id: Option<u64>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut req = self.request(base, Method::GET, path, token, None)?;
        if let Some(accept) = accept {
            req.headers_mut()
                .insert(header::ACCEPT, HeaderValue::from_static(accept));
        }
        if let Some(last) = last_event_id {
            req.headers_mut()
                .insert("last-event-id", HeaderValue::from(last));
        }
        match tokio::time::timeout(self.config.request_timeout, self.streams.request(req)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(ClientError::transport(
                format!("could not open the event stream at {base}"),
                e,
            )),
            Err(_) => Err(ClientError::Timeout),
        }
    }
}

/// The endpoint to use for `endpoint`: itself when it has one address;
/// otherwise the same addresses, starting with the first where a REx
/// server answers `GET` on `probe_path` (`/rex/v0/info` for a room,
/// `/rex/v0/host` for a host), tried in order, each within the connect
/// timeout. The others stay as fallbacks for when it stops answering.
pub(crate) async fn first_answering(
    endpoint: Endpoint,
    config: &ClientConfig,
    probe_path: &str,
) -> Result<Endpoint, ClientError> {
    if endpoint.fallbacks.is_empty() {
        return Ok(endpoint);
    }
    let probe = ClientConfig {
        request_timeout: config.connect_timeout,
        ..config.clone()
    };
    let mut failures = Vec::new();
    for (i, base) in endpoint.candidates().enumerate() {
        let transport = Transport::new(Endpoint::single(base), probe.clone());
        match transport.call(Method::GET, probe_path, None, None).await {
            Ok(answer) if answer.status == StatusCode::OK => {
                tracing::debug!(%base, "the server answers here");
                return Ok(endpoint.starting_at(i));
            }
            Ok(answer) => failures.push(format!("{base} answered {}", answer.status)),
            Err(failure) => failures.push(format!("{base}: {}", failure.into_error())),
        }
    }
    Err(ClientError::Transport {
        reason: format!(
            "none of the server's addresses answered ({}); check that this device is on the same network",
            failures.join("; ")
        ),
        source: None,
    })
}

/// Why a call produced no answer.
pub(crate) enum CallFailure {
    /// The request never left (connection refused or timed out): always
    /// safe to retry.
    NotSent(ClientError),
    /// The request may have reached the server but the answer was lost.
    Lost(ClientError),
    /// Not a network failure (a bad URL, a token that is not a header).
    Other(ClientError),
}

impl CallFailure {
    pub(crate) fn into_error(self) -> ClientError {
        match self {
            CallFailure::NotSent(e) | CallFailure::Lost(e) | CallFailure::Other(e) => e,
        }
    }
}

/// How a client retries: bounded attempts with exponential backoff and
/// jitter, so a room full of phones that lost Wi-Fi together does not come
/// back in lockstep.
///
/// ```
/// use std::time::Duration;
///
/// // Give up sooner than the default (8 attempts over about 12 s).
/// let policy = rex::RetryPolicy {
///     max_attempts: 4,
///     initial_backoff: Duration::from_millis(50),
///     max_backoff: Duration::from_secs(1),
/// };
/// # let _ = policy;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a call is tried in all (1 = no retry).
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between tries.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 100 ms doubling up to 5 s (about 12 s of retrying).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 for the first retry): the
    /// exponential step, scaled by a random factor in [0.5, 1].
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let step = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_backoff);
        // Jitter from the OS's random source, via a v4 UUID.
        let random = (uuid::Uuid::new_v4().as_u128() & 0xFFFF) as f64 / 65_535.0;
        step.mul_f64(0.5 + random / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_base_urls_and_refuse_others() {
        for ok in [
            "http://127.0.0.1:7700",
            "http://127.0.0.1:7700/",
            "http://h:1/rex/v0",
            " http://[::1]:80 ",
            "http://h/other",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Endpoint::parse("http://h:1/rex/v0/").unwrap().as_str(),
            "http://h:1"
        );
        for bad in [
            "127.0.0.1:7700",
            "https://h",
            "http://h/?x=1",
            "http://h/r/KXQF?x=1",
            "http://h/r/KXQF#play",
            "http://h#",
            "ftp://h",
            "http://u@h",
            "http://u@h/r/KXQF",
            "http://h/r/../KXQF",
            "http://h/./r",
            "http://h/r/KX QF",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(ClientError::InvalidUrl { .. })),
                "{bad}"
            );
        }
        let addr: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(Endpoint::from_addr(addr).as_str(), "http://[::1]:9");
        assert_eq!(Endpoint::from_addr(addr).path(), "");
    }

    #[test]
    fn a_room_url_keeps_its_path_whichever_way_it_is_written() {
        for given in [
            "http://h:1/r/KXQF",
            "http://h:1/r/KXQF/",
            "http://h:1/r/KXQF//",
            "http://h:1/r/KXQF/rex/v0",
            "http://h:1/r/KXQF/rex/v0/",
            " http://h:1/r/KXQF ",
        ] {
            let endpoint = Endpoint::parse(given).unwrap();
            assert_eq!(endpoint.as_str(), "http://h:1/r/KXQF", "{given}");
            assert_eq!(endpoint.path(), "/r/KXQF", "{given}");
            assert_eq!(endpoint.to_string(), "http://h:1/r/KXQF", "{given}");
        }
        // The code is kept as given: the host reads it in either case.
        assert_eq!(
            Endpoint::parse("http://h:1/r/kxqf/").unwrap().as_str(),
            "http://h:1/r/kxqf"
        );
        // Any prefix a reverse proxy adds, percent-escapes included.
        let proxied = Endpoint::parse("http://example.lan/games/quiz%20night/").unwrap();
        assert_eq!(proxied.as_str(), "http://example.lan/games/quiz%20night");
        assert_eq!(proxied.path(), "/games/quiz%20night");
        // Only a whole trailing `/rex/v0` is the protocol's base.
        assert_eq!(
            Endpoint::parse("http://h/x/rex/v01").unwrap().path(),
            "/x/rex/v01"
        );
        assert_eq!(Endpoint::parse("http://h/").unwrap().path(), "");
    }

    #[test]
    fn every_request_goes_under_the_base_path() {
        let room = Endpoint::parse("http://127.0.0.1:7700/r/KXQF/").unwrap();
        for (path, url) in [
            (
                rex_proto::path::INFO,
                "http://127.0.0.1:7700/r/KXQF/rex/v0/info",
            ),
            (
                "/rex/v0/events?start=3&epoch=e",
                "http://127.0.0.1:7700/r/KXQF/rex/v0/events?start=3&epoch=e",
            ),
        ] {
            assert_eq!(room.uri(path).unwrap().to_string(), url);
        }
        let root = Endpoint::parse("http://127.0.0.1:7700").unwrap();
        assert_eq!(
            root.uri(rex_proto::path::SESSIONS).unwrap().to_string(),
            "http://127.0.0.1:7700/rex/v0/sessions"
        );
        // What the follower asks for, under the prefix.
        let request = super::super::follow::Request {
            start: 5,
            epoch: None,
            last_event_id: None,
        };
        assert_eq!(
            room.uri(&request.path_and_query()).unwrap().to_string(),
            "http://127.0.0.1:7700/r/KXQF/rex/v0/events?start=5"
        );
    }

    #[test]
    fn a_path_added_to_several_addresses_goes_on_each() {
        let host = Endpoint::from_addrs([
            "10.0.0.2:7700".parse().unwrap(),
            "[fe80::2%3]:7700".parse().unwrap(),
        ])
        .unwrap();
        let room = host.append_path("/r/KXQF/").unwrap();
        assert_eq!(
            room.candidates().collect::<Vec<_>>(),
            [
                "http://10.0.0.2:7700/r/KXQF",
                "http://[fe80::2%3]:7700/r/KXQF"
            ]
        );
        assert_eq!(room.path(), "/r/KXQF");
        // On a base that already has a path, the new one goes after it.
        let proxied = Endpoint::parse("http://h/games").unwrap();
        assert_eq!(
            proxied.append_path("/r/KXQF").unwrap().as_str(),
            "http://h/games/r/KXQF"
        );
        assert_eq!(host.append_path("").unwrap(), host);
        assert_eq!(host.append_path("/rex/v0").unwrap(), host);
        for bad in ["r/KXQF", "/r/KXQF?x", "/r/../x", "/r/K Q"] {
            assert!(
                matches!(host.append_path(bad), Err(ClientError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for retry in 0..20 {
            let b = p.backoff(retry);
            let step = Duration::from_millis(100)
                .saturating_mul(1 << retry.min(16))
                .min(p.max_backoff);
            assert!(
                b >= step / 2 && b <= step,
                "retry {retry}: {b:?} vs {step:?}"
            );
        }
    }
}
