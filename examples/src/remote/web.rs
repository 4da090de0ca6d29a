//! The browser remote: a touch page for phones and tablets, served by the
//! TV at `/` on its own port.
//!
//! Plain HTML, CSS and JavaScript modules (in `web/`, next to this file),
//! embedded in the binary so the TV stays one file, with no build step. The
//! page imports the JavaScript client every REx server ships at
//! `/rex/v0/client.js`, starts from the TV's snapshot and applies the
//! events after it with `view.js`, the JavaScript twin of
//! [`PlayerView::apply`](super::PlayerView::apply).

/// The page.
const INDEX_HTML: &str = include_str!("web/index.html");
/// The page's script: connecting, drawing, the buttons.
const REMOTE_JS: &str = include_str!("web/remote.js");
/// The player's state and its reducer, mirroring `PlayerView`.
const VIEW_JS: &str = include_str!("web/view.js");
/// The look.
const REMOTE_CSS: &str = include_str!("web/remote.css");
/// The page's icon (`<link rel="icon">`), so no browser asks for a
/// missing `/favicon.ico`.
const ICON_SVG: &str = include_str!("web/icon.svg");

/// The browser remote's files: `/` (the page), `/remote.js`, `/view.js`,
/// `/remote.css` and `/icon.svg`. Serve them with
/// [`ServerBuilder::assets`](rex::ServerBuilder::assets).
pub fn assets() -> rex::Assets {
    rex::Assets::new()
        .file("/", INDEX_HTML)
        .file("/remote.js", REMOTE_JS)
        .file("/view.js", VIEW_JS)
        .file("/remote.css", REMOTE_CSS)
        .file("/icon.svg", ICON_SVG)
}
