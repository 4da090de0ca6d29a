//! Response headers that tell browsers to be strict with what the server
//! sends: no type sniffing, no `Referer` leaving the room's pages (a URL may
//! carry a token), no framing by another site (clickjacking), and a
//! Content-Security-Policy that lets a page run only the server's own
//! scripts and styles (an injected `<script>` or inline handler does not
//! run). Data answers (JSON, event streams) get a shorter, stricter set.

use http::header::{self, HeaderMap, HeaderValue};

use super::guard;

/// The default `Content-Security-Policy`: everything from the server itself
/// and nothing inline, images also as `data:` URIs (icons), no plugins, no
/// `<base>`, and no framing.
///
/// Setting a style property from a script (`el.style.width = …`) is allowed
/// by `style-src 'self'`; a `style="…"` attribute in the markup and inline
/// `<style>`/`<script>` elements are not. An app whose pages need more sets
/// its own policy with `ServerBuilder::content_security_policy`.
pub const DEFAULT_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The `Content-Security-Policy` of answers that are data, not pages
/// (JSON, NDJSON, SSE): nothing in them may load or run, and nothing may
/// frame them. Stricter than any page policy, and a fifth of its length on
/// every message's answer.
pub(crate) const DATA_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the hardening headers to a response, leaving any the handler set.
///
/// Pages and the files they load get all four: `nosniff`, no `Referer`,
/// no framing (`X-Frame-Options` for browsers that predate
/// `frame-ancestors`) and the app's policy `csp`. Data answers get
/// `nosniff` and [`DATA_CONTENT_SECURITY_POLICY`]: a browser shows them as
/// text, if at all, so they have no links to leak a `Referer` from, and
/// the policy's `frame-ancestors 'none'` already forbids framing them.
pub(crate) fn apply(headers: &mut HeaderMap, csp: &HeaderValue) {
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if headers.get(header::CONTENT_TYPE).is_some_and(is_data) {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(DATA_CONTENT_SECURITY_POLICY));
        return;
    }
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| csp.clone());
}

/// JSON (`application/json`, `application/*+json`), NDJSON and SSE.
fn is_data(content_type: &HeaderValue) -> bool {
    if guard::is_json(content_type) {
        return true;
    }
    let mime = content_type.as_bytes();
    let mime = mime
        .split(|&b| b == b';')
        .next()
        .unwrap_or(mime)
        .trim_ascii();
    mime.eq_ignore_ascii_case(b"application/x-ndjson")
        || mime.eq_ignore_ascii_case(b"text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_a_valid_header_and_forbids_framing() {
        let csp = HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY);
        let mut headers = HeaderMap::new();
        apply(&mut headers, &csp);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
    }

    #[test]
    fn data_answers_get_the_strict_short_policy_and_pages_the_apps() {
        let csp = HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY);
        for data in [
            "application/json",
            "application/x-ndjson",
            "text/event-stream",
            "Application/JSON; charset=utf-8",
            "application/schema+json",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(data));
            apply(&mut headers, &csp);
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{data}");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                DATA_CONTENT_SECURITY_POLICY,
                "{data}"
            );
            assert!(headers.get(header::REFERRER_POLICY).is_none(), "{data}");
        }
        for page in [
            Some("text/html; charset=utf-8"),
            Some("text/javascript"),
            Some("application/+json"),
            None,
        ] {
            let mut headers = HeaderMap::new();
            if let Some(page) = page {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(page));
            }
            apply(&mut headers, &csp);
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], csp, "{page:?}");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{page:?}");
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{page:?}");
        }
    }
}
