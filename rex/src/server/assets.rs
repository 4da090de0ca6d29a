//! Static files served from the same port as the protocol: an app's pages
//! (the TV screen, the phone controller) and the JavaScript client every
//! REx server ships at `/rex/v0/client.js`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;

/// The JavaScript client (an ES module), served at [`CLIENT_JS_PATH`].
pub(crate) const CLIENT_JS: &str = include_str!("js/client.js");
/// Its TypeScript declarations, served at [`CLIENT_DTS_PATH`].
pub(crate) const CLIENT_DTS: &str = include_str!("js/client.d.ts");
/// Where every REx server serves the JavaScript client.
pub const CLIENT_JS_PATH: &str = "/rex/v0/client.js";
/// Where every REx server serves the client's TypeScript declarations.
pub const CLIENT_DTS_PATH: &str = "/rex/v0/client.d.ts";

/// Files an app serves next to the protocol: embedded in the binary (with
/// `include_bytes!` / `include_str!`), so a TV app is one file.
///
/// Each file is served at its exact path for `GET` and `HEAD`, with its
/// content type, an `ETag` (answering `If-None-Match` with `304`) and
/// `Cache-Control: no-cache`, so browsers revalidate rather than run a
/// stale page after the app is updated. Paths under `/rex/` belong to the
/// protocol and cannot be used.
///
/// ```no_run
/// # async fn example<A: rex::RexApp>(app: A) -> std::io::Result<()> {
/// let assets = rex::Assets::new()
///     .file("/", b"<!doctype html><title>TV</title><script type=module src=/tv.js></script>")
///     .file("/tv.js", b"import { RexClient } from '/rex/v0/client.js';");
/// let server = rex::Server::builder(app).assets(assets).bind("0.0.0.0:0").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
    /// The first bad path given, reported when the server binds.
    invalid: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Asset {
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    pub(crate) etag: String,
}

impl Asset {
    fn new(content_type: &'static str, body: Bytes) -> Asset {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        Asset {
            content_type,
            etag: format!("\"{:016x}-{:x}\"", hasher.finish(), body.len()),
            body,
        }
    }
}

impl Assets {
    /// No files.
    pub fn new() -> Assets {
        Assets::default()
    }

    /// Serves `body` at `path` (`"/"`, `"/play"`, `"/tv.js"`), with the
    /// content type its extension implies (`text/html` without one).
    ///
    /// `body` is anything that owns or borrows bytes for as long as the
    /// server runs: an embedded file (`include_bytes!`, `include_str!`, a
    /// `b"…"` literal), or one made at startup (a `String`, a `Vec<u8>`),
    /// which the server keeps and frees with the `Assets`.
    pub fn file(self, path: &str, body: impl AsRef<[u8]> + Send + Sync + 'static) -> Assets {
        let content_type = content_type_of(path);
        self.file_with_type(path, content_type, body)
    }

    /// Serves `body` at `path` with the given content type.
    pub fn file_with_type(
        mut self,
        path: &str,
        content_type: &'static str,
        body: impl AsRef<[u8]> + Send + Sync + 'static,
    ) -> Assets {
        if !path.starts_with('/') || path.starts_with("/rex/") || path == "/rex" {
            self.invalid.get_or_insert_with(|| path.to_owned());
            return self;
        }
        // `from_owner` keeps the body itself (no copy, no leak): a static
        // one stays where it is, an owned one is dropped with the last
        // clone of these `Assets`.
        self.files.insert(
            path.to_owned(),
            Asset::new(content_type, Bytes::from_owner(body)),
        );
        self
    }

    /// The paths served, for logs.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub(crate) fn check(&self) -> std::io::Result<()> {
        match &self.invalid {
            None => Ok(()),
            Some(path) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("asset path `{path}` must start with `/` and not be under `/rex/`, which the protocol uses"),
            )),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Asset> {
        self.files.get(path)
    }
}

/// The built-in files every server serves.
pub(crate) fn builtin(path: &str) -> Option<Asset> {
    match path {
        CLIENT_JS_PATH => Some(Asset::new(
            "text/javascript; charset=utf-8",
            Bytes::from_static(CLIENT_JS.as_bytes()),
        )),
        CLIENT_DTS_PATH => Some(Asset::new(
            "application/typescript; charset=utf-8",
            Bytes::from_static(CLIENT_DTS.as_bytes()),
        )),
        _ => None,
    }
}

fn content_type_of(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or("");
    let extension = file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        None | Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        Some("ts") => "application/typescript; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_extensions_and_paths_are_checked() {
        assert_eq!(content_type_of("/"), "text/html; charset=utf-8");
        assert_eq!(content_type_of("/play"), "text/html; charset=utf-8");
        assert_eq!(
            content_type_of("/app.v2.JS"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type_of("/logo.svg"), "image/svg+xml");
        assert!(Assets::new().file("/", b"x").check().is_ok());
        assert!(Assets::new().file("/rex/v0/x", b"x").check().is_err());
        assert!(Assets::new().file("play", b"x").check().is_err());
    }

    #[test]
    fn owned_bodies_are_served_as_given() {
        let svg = format!("<svg>{}</svg>", "x".repeat(3));
        let assets = Assets::new()
            .file("/join.svg", svg)
            .file("/join.json", br#"{"url":"http://a/play"}"#.to_vec())
            .file("/static.txt", "static");
        assert!(assets.check().is_ok());
        let svg = assets.get("/join.svg").unwrap();
        assert_eq!(svg.content_type, "image/svg+xml");
        assert_eq!(&svg.body[..], b"<svg>xxx</svg>");
        let json = assets.get("/join.json").unwrap();
        assert_eq!(json.content_type, "application/json");
        assert_eq!(&json.body[..], br#"{"url":"http://a/play"}"#);
        assert_eq!(&assets.get("/static.txt").unwrap().body[..], b"static");
    }

    #[test]
    fn an_owned_body_is_freed_with_the_last_clone() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        struct Tracked(Vec<u8>, Arc<AtomicBool>);
        impl AsRef<[u8]> for Tracked {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
        impl Drop for Tracked {
            fn drop(&mut self) {
                self.1.store(true, Ordering::SeqCst);
            }
        }

        let dropped = Arc::new(AtomicBool::new(false));
        let assets = Assets::new().file("/qr.svg", Tracked(b"<svg/>".to_vec(), dropped.clone()));
        let copy = assets.clone();
        drop(assets);
        assert!(!dropped.load(Ordering::SeqCst));
        assert_eq!(&copy.get("/qr.svg").unwrap().body[..], b"<svg/>");
        drop(copy);
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn etags_change_with_content() {
        let a = Asset::new("text/plain", Bytes::from_static(b"a"));
        let b = Asset::new("text/plain", Bytes::from_static(b"b"));
        assert_ne!(a.etag, b.etag);
        assert!(builtin(CLIENT_JS_PATH)
            .is_some_and(|a| a.body.starts_with(b"// REx JavaScript client")));
    }
}
