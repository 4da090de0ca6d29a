//! Rooms that move between hosts (`docs/protocol.md` §16), without I/O:
//! which base a `307 moved` leads to ([`moved_base`]), and where requests
//! go now and after a failure ([`Route`]).
//!
//! A host that is not a room's owner answers `307` with the owner's base
//! URL followed by the request's own path and query. The client sends the
//! request again there and keeps the new base for everything after. The
//! rule is strict on purpose: the request carries the session's token, so
//! a redirect may change the address (the host), never the path (the
//! room), and a host cannot send the token anywhere else.

use http::uri::Uri;
use http::StatusCode;

use super::Endpoint;

/// How many redirects one request follows; one more is
/// [`ClientError::Moved`](super::ClientError::Moved).
pub(crate) const MAX_REDIRECTS: u32 = 5;

/// Whether `status` moves the request elsewhere with the same method and
/// body (`307`, and `308` which says the same for good).
pub(crate) fn is_redirect(status: StatusCode) -> bool {
    status == StatusCode::TEMPORARY_REDIRECT || status == StatusCode::PERMANENT_REDIRECT
}

/// The base a redirect leads to: a request of `path_and_query`
/// (`/rex/v0/events?start=3`) sent under `base` (`http://h:1/r/KXQF`)
/// was answered with `location`. The answer is `location` without the
/// request's own path and query (`http://h2:7/r/KXQF`); or, if `location`
/// is not an absolute `http://` URL with exactly the same path and query
/// as the request, the reason it is refused, naming it.
pub(crate) fn moved_base(
    base: &str,
    path_and_query: &str,
    location: &str,
) -> Result<String, String> {
    let room = path_of(base);
    let refuse = |why: &str| {
        format!(
            "the server redirected to `{location}`, which {why}; a room that moves keeps its path \
             ({room}{path_and_query}) on another http:// address, so the redirect was not followed"
        )
    };
    let uri: Uri = location.parse().map_err(|_| refuse("is not a URL"))?;
    // `Uri` drops a fragment without a word; a redirect that carries one
    // is not a request path.
    if location.contains('#') {
        return Err(refuse("has a fragment"));
    }
    if uri.scheme_str() != Some("http") {
        return Err(refuse("is not an absolute http:// URL"));
    }
    let authority = match uri.authority() {
        Some(a) if !a.as_str().is_empty() => a,
        _ => return Err(refuse("names no host")),
    };
    if authority.as_str().contains('@') {
        return Err(refuse("has a user name"));
    }
    let wanted = format!("{room}{path_and_query}");
    match uri.path_and_query() {
        Some(got) if got.as_str() == wanted => Ok(format!("http://{authority}{room}")),
        _ => Err(refuse(
            "is not this request's path and query under this room's path",
        )),
    }
}

/// The path of a base URL (`/r/KXQF`), `""` for a root.
pub(crate) fn path_of(base: &str) -> &str {
    let after_scheme = base.strip_prefix("http://").unwrap_or(base);
    // An authority has no `/`: the path starts at the first one.
    after_scheme
        .find('/')
        .map_or("", |slash| &after_scheme[slash..])
}

/// Where a client's requests go: the base a redirect named last, or else
/// one of the endpoint's candidates; and where they go when that base
/// stops answering.
///
/// A base learnt from a redirect is kept until it fails (the connection is
/// refused or cut, or it answers `503`); then requests go back to the
/// candidate they were at, which redirects them to the room's new owner.
/// A candidate that fails gives way to the next one, in turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    /// The endpoint's bases, in the order they are tried.
    candidates: Vec<String>,
    /// The candidate in use, or to go back to.
    at: usize,
    /// The base the last redirect named, while it answers.
    moved: Option<String>,
}

impl Route {
    /// Starts at the endpoint's first candidate.
    pub(crate) fn new(endpoint: &Endpoint) -> Route {
        Route {
            candidates: endpoint.candidates().map(str::to_owned).collect(),
            at: 0,
            moved: None,
        }
    }

    /// Where requests go now.
    pub(crate) fn base(&self) -> &str {
        match &self.moved {
            Some(moved) => moved,
            // `candidates` holds at least the endpoint's base, and `at`
            // stays below its length.
            None => self.candidates.get(self.at).map_or("", String::as_str),
        }
    }

    /// A redirect named `base`: requests go there from now on.
    pub(crate) fn moved(&mut self, base: String) {
        self.moved = Some(base);
    }

    /// `base` stopped answering. If requests still go there, they go back
    /// to the candidate they came from (after a redirect) or on to the
    /// next one; a failure of a base already left behind changes nothing
    /// (another request has moved on).
    pub(crate) fn failed(&mut self, base: &str) {
        if self.base() != base {
            return;
        }
        if self.moved.take().is_none() && !self.candidates.is_empty() {
            self.at = (self.at + 1) % self.candidates.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "http://10.0.0.5:7700/r/KXQF";

    #[test]
    fn a_redirect_to_the_same_path_elsewhere_gives_the_new_base() {
        for (base, sent, location, new) in [
            (
                ROOM,
                "/rex/v0/events?start=42",
                "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=42",
                "http://10.0.0.7:7700/r/KXQF",
            ),
            (
                ROOM,
                "/rex/v0/messages",
                "http://[fd00::7]:80/r/KXQF/rex/v0/messages",
                "http://[fd00::7]:80/r/KXQF",
            ),
            // The code as the client wrote it: the host keeps the path.
            (
                "http://h:1/r/kxqf",
                "/rex/v0/info",
                "http://g:2/r/kxqf/rex/v0/info",
                "http://g:2/r/kxqf",
            ),
            // A server at the root of its address; a scheme in capitals.
            (
                "http://h:1",
                "/rex/v0/host",
                "HTTP://g:2/rex/v0/host",
                "http://g:2",
            ),
            // Back to the same host: allowed (the limit of 5 stops loops).
            (ROOM, "/rex/v0/info", &format!("{ROOM}/rex/v0/info"), ROOM),
        ] {
            assert_eq!(
                moved_base(base, sent, location).as_deref(),
                Ok(new),
                "{location}"
            );
        }
    }

    #[test]
    fn a_redirect_anywhere_else_is_refused_naming_the_location() {
        let sent = "/rex/v0/events?start=42&epoch=e";
        for location in [
            // Another room, another prefix, no room at all.
            "http://10.0.0.7:7700/r/MNPR/rex/v0/events?start=42&epoch=e",
            "http://10.0.0.7:7700/games/r/KXQF/rex/v0/events?start=42&epoch=e",
            "http://10.0.0.7:7700/rex/v0/events?start=42&epoch=e",
            // Another request, or the same with another query.
            "http://10.0.0.7:7700/r/KXQF/rex/v0/info",
            "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=0&epoch=e",
            "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=42",
            "http://10.0.0.7:7700/r/KXQF/rex/v0/events?start=42&epoch=e&token=x",
            // More under the request's path.
            "http://10.0.0.7:7700/r/KXQF/x/rex/v0/events?start=42&epoch=e",
            // Not absolute, not http, a user name, a fragment, not a URL.
            "/r/KXQF/rex/v0/events?start=42&epoch=e",
            "//10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
            "https://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
            "ftp://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
            "http://me@10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e",
            "http://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e#x",
            "http://10.0.0.7/r/KXQF/rex/v0/events?start=42&epoch=e x",
            "",
        ] {
            let refused = moved_base(ROOM, sent, location).unwrap_err();
            assert!(
                refused.contains(&format!("`{location}`"))
                    && refused.contains("/r/KXQF/rex/v0/events"),
                "{location}: {refused}"
            );
        }
    }

    #[test]
    fn only_307_and_308_are_followed() {
        for (status, follow) in [
            (307, true),
            (308, true),
            (301, false),
            (302, false),
            (303, false),
            (200, false),
        ] {
            assert_eq!(
                is_redirect(StatusCode::from_u16(status).unwrap()),
                follow,
                "{status}"
            );
        }
    }

    fn route(candidates: &[&str]) -> Route {
        Route {
            candidates: candidates.iter().map(|c| (*c).to_owned()).collect(),
            at: 0,
            moved: None,
        }
    }

    #[test]
    fn a_moved_base_is_kept_until_it_fails_then_the_first_candidate_again() {
        let mut r = route(&[ROOM]);
        assert_eq!(r.base(), ROOM);
        r.moved("http://b:1/r/KXQF".into());
        assert_eq!(r.base(), "http://b:1/r/KXQF");
        // A late failure of the base left behind changes nothing.
        r.failed(ROOM);
        assert_eq!(r.base(), "http://b:1/r/KXQF");
        r.failed("http://b:1/r/KXQF");
        assert_eq!(r.base(), ROOM);
        // With one candidate, a failure there stays there.
        r.failed(ROOM);
        assert_eq!(r.base(), ROOM);
    }

    #[test]
    fn candidates_are_tried_in_turn_and_a_redirect_returns_to_the_one_it_came_from() {
        let (a, b, c) = ("http://a:1/r/K", "http://b:1/r/K", "http://c:1/r/K");
        let mut r = route(&[a, b, c]);
        r.failed(a);
        assert_eq!(r.base(), b);
        r.moved("http://owner:1/r/K".into());
        r.failed("http://owner:1/r/K");
        assert_eq!(r.base(), b, "back to the candidate that redirected");
        r.failed(b);
        assert_eq!(r.base(), c);
        r.failed(c);
        assert_eq!(r.base(), a, "and round again");
    }

    #[test]
    fn a_route_starts_at_the_endpoints_first_address() {
        let endpoint = Endpoint::from_addrs([
            "10.0.0.2:7700".parse().unwrap(),
            "[fd00::2]:7700".parse().unwrap(),
        ])
        .unwrap()
        .append_path("/r/KXQF")
        .unwrap();
        let mut r = Route::new(&endpoint);
        assert_eq!(r.base(), "http://10.0.0.2:7700/r/KXQF");
        r.failed("http://10.0.0.2:7700/r/KXQF");
        assert_eq!(r.base(), "http://[fd00::2]:7700/r/KXQF");
        assert_eq!(path_of(r.base()), "/r/KXQF");
        assert_eq!(path_of("http://h:1"), "");
    }
}
