//! The HTTP side of the client: where the server is ([`Endpoint`]), one
//! pooled keep-alive hyper client, timeouts, and retry backoff.

use std::fmt;
use std::net::SocketAddr;
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

use super::{ClientConfig, ClientError};

/// Where a REx server is: the scheme, host and port of its base URL.
///
/// Made from a URL (`"http://192.168.1.20:7700"`; a trailing `/` or
/// `/rex/v0` is accepted and dropped), a socket address, or several
/// addresses of one server ([`Endpoint::from_addrs`], what a discovered room
/// gives): the client then uses the first that answers.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:port`, no path.
    base: String,
    /// Other base URLs of the same server, tried in order when `base` does
    /// not answer: a room found by discovery is often reachable at an IPv4
    /// address and an IPv6 link-local one, and only one may work from here.
    fallbacks: Vec<String>,
}

impl Endpoint {
    /// Parses a base URL.
    ///
    /// ```
    /// let endpoint = rex::Endpoint::parse("http://192.168.1.20:7700/rex/v0").unwrap();
    /// assert_eq!(endpoint.as_str(), "http://192.168.1.20:7700");
    /// assert!(rex::Endpoint::parse("192.168.1.20:7700").is_err()); // no scheme
    /// ```
    pub fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.trim().parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(invalid("only http:// is supported")),
            None => return Err(invalid("expected a URL such as http://192.168.1.20:7700")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("it has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user names in the URL are not supported"));
        }
        let path = uri.path().trim_end_matches('/');
        if !path.is_empty() && path != rex_proto::path::BASE {
            return Err(invalid("the path must be empty or /rex/v0"));
        }
        if uri.query().is_some() {
            return Err(invalid("the URL must not have a query"));
        }
        Ok(Endpoint {
            base: format!("http://{authority}"),
            fallbacks: Vec::new(),
        })
    }

    /// The endpoint of a socket address.
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

    /// Every base URL this endpoint may be reached at, in the order they
    /// are tried.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base.as_str()).chain(self.fallbacks.iter().map(String::as_str))
    }

    /// The base URL, `http://host:port`.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    pub(crate) fn uri(&self, path_and_query: &str) -> Result<Uri, ClientError> {
        format!("{}{path_and_query}", self.base)
            .parse()
            .map_err(|_| ClientError::InvalidUrl {
                url: format!("{}{path_and_query}", self.base),
                reason: "not a URL".to_owned(),
            })
    }
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
    pub(crate) endpoint: Endpoint,
    pub(crate) config: ClientConfig,
}

/// A complete answer.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
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
            endpoint,
            config,
        }
    }

    fn request(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.endpoint.uri(path_and_query)?);
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
    /// timeout. No retries here: callers decide what is safe to repeat.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&SessionToken>,
        body: Option<Bytes>,
    ) -> Result<Answer, CallFailure> {
        let req = self
            .request(method, path, token, body)
            .map_err(CallFailure::Other)?;
        let exchange = async {
            let response = self.http.request(req).await.map_err(|e| {
                if e.is_connect() {
                    CallFailure::NotSent(ClientError::transport(
                        format!("could not connect to {}", self.endpoint),
                        e,
                    ))
                } else {
                    CallFailure::Lost(ClientError::transport(
                        format!("the connection to {} failed", self.endpoint),
                        e,
                    ))
                }
            })?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| {
                CallFailure::Lost(ClientError::transport("the answer was cut off", e))
            })?;
            Ok(Answer {
                status,
                body: body.to_bytes(),
            })
        };
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CallFailure::Lost(ClientError::Timeout)),
        }
    }

    /// Opens a streaming request; the caller reads the body. `accept` asks
    /// for a framing other than NDJSON; `last_event_id` resumes the way an
    /// SSE `EventSource` does.
    pub(crate) async fn open(
        &self,
        path: &str,
        token: Option<&SessionToken>,
        accept: Option<&'static str>,
        last_event_id: Option<u64>,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut req = self.request(Method::GET, path, token, None)?;
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
                format!("could not open the event stream at {}", self.endpoint),
                e,
            )),
            Err(_) => Err(ClientError::Timeout),
        }
    }
}

/// The endpoint to use for `endpoint`: itself when it has one address;
/// otherwise the first of its addresses where a REx server answers
/// `GET /info`, tried in order, each within the connect timeout.
pub(crate) async fn first_answering(
    endpoint: Endpoint,
    config: &ClientConfig,
) -> Result<Endpoint, ClientError> {
    if endpoint.fallbacks.is_empty() {
        return Ok(endpoint);
    }
    let probe = ClientConfig {
        request_timeout: config.connect_timeout,
        ..config.clone()
    };
    let mut failures = Vec::new();
    for base in endpoint.candidates() {
        let single = Endpoint {
            base: base.to_owned(),
            fallbacks: Vec::new(),
        };
        let transport = Transport::new(single.clone(), probe.clone());
        match transport
            .call(Method::GET, rex_proto::path::INFO, None, None)
            .await
        {
            Ok(answer) if answer.status == StatusCode::OK => {
                tracing::debug!(%base, "the server answers here");
                return Ok(single);
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
            "http://h/other",
            "http://h/?x=1",
            "ftp://h",
            "http://u@h",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(ClientError::InvalidUrl { .. })),
                "{bad}"
            );
        }
        let addr: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(Endpoint::from_addr(addr).as_str(), "http://[::1]:9");
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
