//! Response headers that tell browsers to be strict with what the server
//! sends: no type sniffing, no `Referer` leaving the room's pages (a URL may
//! carry a token), no framing by another site (clickjacking), and a
//! Content-Security-Policy that lets a page run only the server's own
//! scripts and styles (an injected `<script>` or inline handler does not
//! run).

use http::header::{self, HeaderMap, HeaderValue};

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

/// Adds the hardening headers to a response, leaving any the handler set.
pub(crate) fn apply(headers: &mut HeaderMap, csp: &HeaderValue) {
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    // For browsers that predate `frame-ancestors`.
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| csp.clone());
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
}
