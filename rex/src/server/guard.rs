//! Which requests the server answers at all: the `Host` check against DNS
//! rebinding, and the cross-site checks on every `POST` (`Origin`,
//! `Sec-Fetch-Site`, a JSON `Content-Type`). Pure functions over a request's
//! head, so each rule has its own unit test.
//!
//! Why: a room is served over plain HTTP on a LAN with no login of its own.
//! A web page on the internet must not be able to read it (after rebinding
//! its own name to the server's address, which makes it same-origin unless
//! the server checks `Host`) nor write to it (a cross-site form or `fetch`,
//! which the browser sends without asking unless the request needs a CORS
//! preflight — a JSON `Content-Type` does, and REx grants no CORS).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Uri, Version};
use rex_proto::ErrorCode;

/// The names the server answers to, besides the ones that cannot be
/// rebound (IP literals, `localhost`, `.local`).
#[derive(Clone, Debug, Default)]
pub(crate) struct HostPolicy {
    /// Names the app allowed; a leading `.` allows a domain and every name
    /// under it. Lowercase, without a trailing dot.
    pub(crate) allowed: Vec<String>,
    /// Set by `ServerBuilder::allow_any_host`: no `Host` check at all.
    pub(crate) any: bool,
}

impl HostPolicy {
    /// Adds a name (`tv.example.org`, or `.example.org` for a domain).
    pub(crate) fn allow(&mut self, name: &str) {
        self.allowed.push(normalize(name).into_owned());
    }

    fn admits(&self, host: &str) -> bool {
        self.any
            || is_ip_literal(host)
            || host == "localhost"
            || host.ends_with(".localhost")
            || host.ends_with(".local")
            || self
                .allowed
                .iter()
                .any(|name| match name.strip_prefix('.') {
                    Some(domain) => host == domain || host.ends_with(name.as_str()),
                    None => host == name,
                })
    }
}

/// Why a request is refused: the code (and so the status) and a reason.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) reason: String,
}

/// `Sec-Fetch-Site`, named once rather than parsed on every request.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

fn refuse(code: ErrorCode, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
    }
}

/// The check every request passes before it is routed: its `Host`.
pub(crate) fn check(
    policy: &HostPolicy,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if let Some(authority) = request_host(uri, version, headers)? {
        check_host(policy, authority)?;
    }
    Ok(())
}

/// The checks of a state-changing request (every `POST` the server
/// accepts), after `check`: from the server's own pages, declared JSON.
/// (A `POST` to a path that takes none is answered `405` before this, as it
/// changes nothing.)
pub(crate) fn check_state_changing(
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let authority = request_host(uri, version, headers)?;
    check_same_origin(authority, headers)?;
    check_json(headers)
}

/// The request's authority (`host[:port]`): from an absolute-form target if
/// there is one (RFC 9112 §3.2.2), else the one `Host` header. `None` only
/// for an HTTP/1.0 request without `Host`, which names no host to check.
fn request_host<'a>(
    uri: &'a Uri,
    version: Version,
    headers: &'a HeaderMap,
) -> Result<Option<&'a str>, Refusal> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(refuse(
            ErrorCode::BadRequest,
            "the request has more than one `Host` header (RFC 9112 §3.2); send exactly one",
        ));
    }
    if let Some(authority) = uri.authority() {
        return Ok(Some(authority.as_str()));
    }
    match first {
        Some(value) => value.to_str().map(Some).map_err(|_| {
            refuse(
                ErrorCode::BadRequest,
                "the `Host` header is not text; send the server's address",
            )
        }),
        None if version == Version::HTTP_10 => Ok(None),
        None => Err(refuse(
            ErrorCode::BadRequest,
            "the request has no `Host` header, which HTTP/1.1 requires (RFC 9112 §3.2); \
             send the address you connected to",
        )),
    }
}

fn check_host(policy: &HostPolicy, authority: &str) -> Result<(), Refusal> {
    let host = normalize(host_of(authority));
    if policy.admits(&host) {
        return Ok(());
    }
    Err(refuse(
        ErrorCode::Forbidden,
        format!(
            "this server does not answer to the name `{host}` (a guard against DNS rebinding); \
             reach it by IP address, `localhost` or a `.local` name, or let the app allow the \
             name with `ServerBuilder::allow_host(\"{host}\")` (the examples: `--allow-host {host}`)"
        ),
    ))
}

/// The host part of `host[:port]`, brackets kept on an IPv6 literal.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _port)) => host,
        None => authority,
    }
}

fn normalize(host: &str) -> Cow<'_, str> {
    let host = host.trim().trim_end_matches('.');
    // Browsers and clients send lower case: no copy then.
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// IPv4 dotted quads and bracketed IPv6: names no DNS answer can rebind.
fn is_ip_literal(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // A zone id (`fe80::1%25eth0`) is not part of the address.
        let address = inner.split('%').next().unwrap_or(inner);
        return address.parse::<Ipv6Addr>().is_ok();
    }
    host.parse::<Ipv4Addr>().is_ok()
}

/// A state-changing request must come from the server's own pages: an
/// `Origin` that is not `http://<the request's host>` is another site's,
/// and so is a request the browser marks `Sec-Fetch-Site: cross-site`.
/// Requests without either (native clients, curl) are not from a browser
/// page and pass.
fn check_same_origin(authority: Option<&str>, headers: &HeaderMap) -> Result<(), Refusal> {
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        if site.as_bytes().eq_ignore_ascii_case(b"cross-site") {
            return Err(refuse(
                ErrorCode::Forbidden,
                "the browser says this request comes from another site \
                 (`Sec-Fetch-Site: cross-site`); only the room's own pages may change it",
            ));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    if same_origin(origin, authority) {
        return Ok(());
    }
    let shown = origin.to_str().unwrap_or("(not text)");
    Err(refuse(
        ErrorCode::Forbidden,
        format!(
            "this request comes from the page of another site (`Origin: {shown}`); only the \
             room's own pages (served from this address) may change it, and REx grants no CORS"
        ),
    ))
}

fn same_origin(origin: &HeaderValue, authority: Option<&str>) -> bool {
    let (Ok(origin), Some(authority)) = (origin.to_str(), authority) else {
        return false;
    };
    let Some(rest) = origin.strip_prefix("http://") else {
        // `null` (sandboxed frames, files), `https://…` (not this server,
        // which speaks plain HTTP) and anything else.
        return false;
    };
    same_authority(rest, authority)
}

/// Whether two `host[:port]` name the same place: case aside, and with
/// the port made explicit (`:80` when absent), so `Origin: http://tv` and
/// `Host: tv:80` compare equal.
fn same_authority(a: &str, b: &str) -> bool {
    let (a_host, a_port) = with_default_port(a);
    let (b_host, b_port) = with_default_port(b);
    a_host.eq_ignore_ascii_case(b_host) && a_port == b_port
}

/// `host[:port]` split into the host and the port, `80` when absent.
fn with_default_port(authority: &str) -> (&str, &str) {
    let authority = authority.trim();
    let host = host_of(authority);
    match authority[host.len()..].strip_prefix(':') {
        Some(port) => (host, port),
        None => (host, "80"),
    }
}

/// Every `POST` must be declared JSON, even with an empty body: a page of
/// another site can then only send it after a CORS preflight, which this
/// server refuses, whereas a form or a "simple" `fetch` would go through.
fn check_json(headers: &HeaderMap) -> Result<(), Refusal> {
    match headers.get(header::CONTENT_TYPE) {
        Some(value) if is_json(value) => Ok(()),
        Some(value) => {
            let shown = value.to_str().unwrap_or("(not text)");
            Err(refuse(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "the body is declared as `{shown}`; send JSON with \
                     `Content-Type: application/json`"
                ),
            ))
        }
        None => Err(refuse(
            ErrorCode::UnsupportedMediaType,
            "a POST must declare `Content-Type: application/json`, even with an empty body",
        )),
    }
}

/// `application/json` (any parameters) or any `application/*+json` (with
/// a subtype before the suffix, RFC 6839).
pub(crate) fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(value) = content_type.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().as_bytes();
    let starts = |prefix: &[u8]| {
        mime.len() >= prefix.len() && mime[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let ends = |suffix: &[u8]| {
        mime.len() >= suffix.len() && mime[mime.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    mime.eq_ignore_ascii_case(b"application/json")
        || (mime.len() > b"application/+json".len() && starts(b"application/") && ends(b"+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn get(policy: &HostPolicy, host: &'static str) -> Result<(), Refusal> {
        let uri = Uri::from_static("/rex/v0/info");
        check(policy, &uri, Version::HTTP_11, &headers(&[("host", host)]))
    }

    #[test]
    fn hosts_that_cannot_be_rebound_pass() {
        let policy = HostPolicy::default();
        for host in [
            "192.168.1.20:8080",
            "127.0.0.1",
            "[::1]:80",
            "[fe80::1%25eth0]:80",
            "localhost:3000",
            "LocalHost.",
            "app.localhost",
            "living-room.local:8080",
            "Living-Room.LOCAL.",
        ] {
            assert_eq!(get(&policy, host), Ok(()), "{host}");
        }
    }

    #[test]
    fn other_names_are_forbidden_unless_allowed() {
        let mut policy = HostPolicy::default();
        for host in [
            "evil.example",
            "1.2.3.4.nip.io:80",
            "local",
            "localhost.evil",
        ] {
            let refusal = get(&policy, host).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::Forbidden, "{host}");
            assert!(refusal.reason.contains("allow_host"), "{}", refusal.reason);
        }
        policy.allow("TV.example.org");
        policy.allow(".home.arpa");
        assert_eq!(get(&policy, "tv.example.org:8080"), Ok(()));
        assert_eq!(get(&policy, "home.arpa"), Ok(()));
        assert_eq!(get(&policy, "tv.home.arpa"), Ok(()));
        assert!(get(&policy, "xtv.example.org").is_err());
        assert!(get(&policy, "evil-home.arpa").is_err());
        policy.any = true;
        assert_eq!(get(&policy, "evil.example"), Ok(()));
    }

    #[test]
    fn missing_or_repeated_host_is_a_bad_request() {
        let policy = HostPolicy::default();
        let uri = Uri::from_static("/rex/v0/info");
        let none = check(&policy, &uri, Version::HTTP_11, &headers(&[]));
        assert_eq!(none.unwrap_err().code, ErrorCode::BadRequest);
        let http10 = check(&policy, &uri, Version::HTTP_10, &headers(&[]));
        assert_eq!(http10, Ok(()));
        let two = headers(&[("host", "127.0.0.1"), ("host", "127.0.0.1")]);
        let two = check(&policy, &uri, Version::HTTP_11, &two);
        assert_eq!(two.unwrap_err().code, ErrorCode::BadRequest);
    }

    #[test]
    fn an_absolute_target_names_the_host() {
        let policy = HostPolicy::default();
        let uri = Uri::from_static("http://evil.example/rex/v0/info");
        let map = headers(&[("host", "127.0.0.1")]);
        let refusal = check(&policy, &uri, Version::HTTP_11, &map);
        assert_eq!(refusal.unwrap_err().code, ErrorCode::Forbidden);
    }

    fn post(pairs: &[(&'static str, &'static str)]) -> Result<(), Refusal> {
        let uri = Uri::from_static("/rex/v0/messages");
        let mut all = vec![("host", "192.168.1.20:8080")];
        all.extend_from_slice(pairs);
        let map = headers(&all);
        check(&HostPolicy::default(), &uri, Version::HTTP_11, &map)?;
        check_state_changing(&uri, Version::HTTP_11, &map)
    }

    #[test]
    fn posts_from_the_servers_own_pages_pass() {
        let json = ("content-type", "application/json");
        assert_eq!(post(&[json]), Ok(()));
        assert_eq!(
            post(&[json, ("origin", "http://192.168.1.20:8080")]),
            Ok(())
        );
        assert_eq!(post(&[json, ("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(post(&[json, ("sec-fetch-site", "none")]), Ok(()));
    }

    #[test]
    fn posts_from_other_sites_are_forbidden() {
        let json = ("content-type", "application/json");
        for origin in [
            "http://evil.example",
            "http://192.168.1.20:8081",
            "https://192.168.1.20:8080",
            "null",
        ] {
            let refusal = post(&[json, ("origin", origin)]).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::Forbidden, "{origin}");
        }
        let refusal = post(&[json, ("sec-fetch-site", "cross-site")]).unwrap_err();
        assert_eq!(refusal.code, ErrorCode::Forbidden);
    }

    #[test]
    fn default_ports_compare_equal() {
        assert_eq!(with_default_port("TV.local"), ("TV.local", "80"));
        assert_eq!(with_default_port("[::1]:8080"), ("[::1]", "8080"));
        assert!(same_authority("TV.local", "tv.local:80"));
        assert!(same_authority("[::1]", "[::1]:80"));
        assert!(!same_authority("[::1]", "[::1]:8080"));
        assert!(!same_authority("tv", "tv:"));
        assert!(!same_authority("tv.local", "tv.localhost"));
    }

    #[test]
    fn posts_must_declare_json() {
        for missing in [post(&[]), post(&[("content-type", "text/plain")])] {
            assert_eq!(missing.unwrap_err().code, ErrorCode::UnsupportedMediaType);
        }
        assert_eq!(
            post(&[("content-type", "application/vnd.rex+json; charset=utf-8")]),
            Ok(())
        );
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.rex+json",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
