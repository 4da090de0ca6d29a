//! The trivia room's browser pages, served from the room's own port: the
//! TV screen at `/` and the phone controller at `/play`; on a host of
//! rooms ([`super::hosted`]), the same pages under each room's path (the
//! TV at `/r/<code>/`, the phone at `/r/<code>/play`: every URL the pages
//! use is relative to where they are), and the host's landing page at `/`
//! ([`landing`]), where a TV opens a room and a phone types its code.
//!
//! The pages are plain HTML, CSS and JavaScript modules (in `web/`, next to
//! this file) embedded in the binary, so the TV app stays one file. They
//! import the JavaScript client every REx server ships at
//! `/rex/v0/client.js` and rebuild their whole screen from the room's log,
//! which is why a reloaded phone comes back as the same player on the same
//! question. Two files are made for each room: `join.svg`, the QR code of
//! the join URL the TV shows, and `join.json`, `{"url": …, "pin": …,
//! "code": …}` for the text under it (`pin` is null for a room without
//! one, `code` for the one room of a server, which has none).

use qrcode::render::{svg, unicode};
use qrcode::QrCode;

/// The TV page.
const TV_HTML: &str = include_str!("web/tv.html");
/// The phone page.
const PLAY_HTML: &str = include_str!("web/play.html");
/// The TV page's script.
const TV_JS: &str = include_str!("web/tv.js");
/// The phone page's script.
const PLAY_JS: &str = include_str!("web/play.js");
/// What both scripts share: the room's state as the log builds it, the
/// server's clock, DOM helpers that never parse text as HTML.
const ROOM_JS: &str = include_str!("web/room.js");
/// The look both pages share.
const TRIVIA_CSS: &str = include_str!("web/trivia.css");
/// The pages' icon (`<link rel="icon">`), so no browser asks for a
/// missing `/favicon.ico`.
const ICON_SVG: &str = include_str!("web/icon.svg");
/// The host's landing page.
const LANDING_HTML: &str = include_str!("web/landing.html");
/// The landing page's script.
const LANDING_JS: &str = include_str!("web/landing.js");

/// Where players open the phone page of the room at `room_url`: `/play`,
/// with the room's PIN in the query when it has one, so the QR code lets a
/// phone join without typing it.
pub fn join_url(room_url: &str, pin: Option<&str>) -> String {
    match pin {
        Some(pin) => format!("{room_url}/play?pin={pin}"),
        None => format!("{room_url}/play"),
    }
}

/// Every page and file of the trivia room; `join_url` is where players
/// open the phone page ([`join_url`]), shown on the TV as text and as a QR
/// code; `pin`, the room's PIN if it has one, is shown next to it.
///
/// If `join_url` is too long for a QR code (thousands of characters), the
/// TV shows the text alone.
pub fn assets(join_url: &str, pin: Option<&str>) -> rex::Assets {
    with_join(pages(), join_url, pin, None)
}

/// The pages every room of a host shares (the TV, the phone and what
/// they load); each room's [`room_join`] files go with them.
pub fn pages() -> rex::Assets {
    rex::Assets::new()
        .file("/", TV_HTML)
        .file("/play", PLAY_HTML)
        .file("/tv.js", TV_JS)
        .file("/play.js", PLAY_JS)
        .file("/room.js", ROOM_JS)
        .file("/trivia.css", TRIVIA_CSS)
        .file("/icon.svg", ICON_SVG)
}

/// The join files of each room of a host reached at `host_url`
/// (`http://192.0.2.7:7700`), for [`rex::HostBuilder::room_assets`]: the
/// room's join URL is `<host_url>/r/<code>/play`, with the host's PIN
/// (every room's) when it has one, and the TV shows the code too.
pub fn room_join(
    host_url: &str,
    pin: Option<&str>,
) -> impl Fn(&rex::NewRoom) -> rex::Assets + Send + Sync + 'static {
    let (host_url, pin) = (host_url.to_owned(), pin.map(str::to_owned));
    move |room: &rex::NewRoom| {
        let room_url = format!("{host_url}{}", room.code.path());
        let url = join_url(&room_url, pin.as_deref());
        with_join(rex::Assets::new(), &url, pin.as_deref(), Some(room.code))
    }
}

/// The host's own pages, at its root: the landing page, where a TV opens
/// a room (`POST /rex/v0/rooms`, then its TV page) and a phone types a
/// room's code (checked against the alphabet of codes, then the room's
/// `/rex/v0/info`, whose `404` reason it shows) to go to its phone page.
pub fn landing() -> rex::Assets {
    rex::Assets::new()
        .file("/", LANDING_HTML)
        .file("/landing.js", LANDING_JS)
        .file("/room.js", ROOM_JS)
        .file("/trivia.css", TRIVIA_CSS)
        .file("/icon.svg", ICON_SVG)
}

/// `assets` with the join files of `join_url`.
fn with_join(
    assets: rex::Assets,
    join_url: &str,
    pin: Option<&str>,
    code: Option<rex::RoomCode>,
) -> rex::Assets {
    let join = serde_json::json!({ "url": join_url, "pin": pin, "code": code }).to_string();
    let assets = assets.file("/join.json", join);
    match svg_qr(join_url) {
        Some(svg) => assets.file("/join.svg", svg),
        None => assets,
    }
}

/// The QR code of `url` as an SVG image: black on white with the quiet
/// zone scanners need, scaled by the page. `None` if `url` is too long to
/// fit in a QR code.
pub fn svg_qr(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .min_dimensions(256, 256)
            .build(),
    )
}

/// The QR code of `url` for a terminal, two modules per character. `None`
/// if `url` is too long to fit in a QR code.
///
/// Drawn for the usual light-on-dark terminal: light modules (and the
/// quiet zone around the code) are block characters, dark ones are
/// blanks, so a phone's camera sees dark on light.
pub fn terminal_qr(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_and_the_join_files_are_served() {
        let assets = assets("http://192.0.2.7:8080/play", None);
        let mut paths: Vec<&str> = assets.paths().collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "/",
                "/icon.svg",
                "/join.json",
                "/join.svg",
                "/play",
                "/play.js",
                "/room.js",
                "/trivia.css",
                "/tv.js"
            ]
        );
    }

    #[test]
    fn the_landing_page_knows_the_codes_alphabet() {
        let assets = landing();
        let mut paths: Vec<&str> = assets.paths().collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            ["/", "/icon.svg", "/landing.js", "/room.js", "/trivia.css"]
        );
        let alphabet = std::str::from_utf8(rex::proto::ROOM_CODE_ALPHABET).unwrap();
        assert!(
            LANDING_JS.contains(&format!("\"{alphabet}\"")),
            "landing.js checks codes against {alphabet}"
        );
    }

    #[test]
    fn the_pages_use_urls_relative_to_where_they_are_served() {
        // The same pages serve a server's one room at `/` and a hosted
        // room at `/r/<code>/`.
        for (name, page) in [
            ("tv.html", TV_HTML),
            ("play.html", PLAY_HTML),
            ("landing.html", LANDING_HTML),
        ] {
            for attribute in ["href=\"/", "src=\"/"] {
                assert!(
                    !page.contains(attribute),
                    "{name} has an absolute {attribute}…"
                );
            }
        }
        for (name, script) in [
            ("tv.js", TV_JS),
            ("play.js", PLAY_JS),
            ("landing.js", LANDING_JS),
        ] {
            for absolute in ["from \"/room.js\"", "fetch(\"/"] {
                assert!(!script.contains(absolute), "{name} uses {absolute}…");
            }
        }
    }

    #[test]
    fn the_join_url_carries_the_pin() {
        assert_eq!(
            join_url("http://192.0.2.7:80", None),
            "http://192.0.2.7:80/play"
        );
        assert_eq!(
            join_url("http://192.0.2.7:80", Some("4711")),
            "http://192.0.2.7:80/play?pin=4711"
        );
    }

    #[test]
    fn qr_codes_encode_the_url_or_say_they_cannot() {
        let svg = svg_qr("http://192.0.2.7:8080/play").unwrap();
        assert!(svg.contains("<svg") && svg.contains("#000000"), "{svg}");
        let text = terminal_qr("http://192.0.2.7:8080/play").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Square: one module per column, two per line; a code is 17 + 4v
        // modules wide (v, its version, from 1), with a quiet zone of 4 on
        // each side.
        let width = lines[0].chars().count();
        assert!(width > 25, "width {width}");
        assert_eq!((width - 25) % 4, 0, "width {width}");
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert_eq!(lines.len(), width.div_ceil(2));
        // The quiet zone is light, so the first line is all blocks.
        assert!(lines[0].chars().all(|c| c == '█'), "{}", lines[0]);
        let too_long = format!("http://h/{}", "x".repeat(8000));
        assert_eq!(svg_qr(&too_long), None);
        assert_eq!(terminal_qr(&too_long), None);
    }
}
