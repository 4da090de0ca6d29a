//! What every example binary needs around its app: logs, a shutdown
//! signal, the URLs to print, and a saved session.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use rex::{Credentials, RexApp, ServerBuilder};

/// Sends `tracing` output to stderr (stdout is for the example's own
/// output), filtered by `RUST_LOG`, or by `default` when it is unset.
/// Coloured only when stderr is a terminal and `NO_COLOR` is unset, so a
/// log piped to a file (`2>&1 | tee log`) holds no escape codes.
pub fn init_tracing(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(color_allowed(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .init();
}

/// Whether to colour output: only on a terminal, and not when `NO_COLOR`
/// is set to anything but the empty string (<https://no-color.org>).
pub fn color_allowed(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Completes on Ctrl-C, or on SIGTERM where there is one: what a server's
/// `run` waits for to shut down gracefully.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// The URLs a server bound to `addr` can be reached at from other devices:
/// the bound address, or each of the machine's IPv4 addresses (loopback
/// left out) when bound to all of them; loopback if there is no other.
pub fn lan_urls(addr: SocketAddr) -> Vec<String> {
    if !addr.ip().is_unspecified() {
        return vec![format!("http://{addr}")];
    }
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips.into_iter()
        .map(|ip| format!("http://{}", SocketAddr::new(ip, addr.port())))
        .collect()
}

/// How a process reaches its own server bound to `addr` (loopback when
/// bound to all addresses).
pub fn local_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Parses a `--pin`: 4 to 12 digits, ASCII only, so a person reads it off
/// a TV and types it on any phone keyboard, and it fits in a URL as is.
pub fn parse_pin(pin: &str) -> Result<String, String> {
    let pin = pin.trim();
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(pin.to_owned())
    } else {
        Err(format!(
            "`{pin}` is not a PIN: use 4 to 12 digits (such as 4711)"
        ))
    }
}

/// `text` from a peer (a name, a chat line, a question's answer) made safe
/// to print on a terminal: every control character (C0 such as ESC and
/// BEL, DEL, C1, and newlines and tabs too) is shown as a visible escape
/// such as `\u{1b}` instead of being sent raw. A raw ESC lets whoever
/// wrote the text retitle the window, clear the screen or move the cursor
/// to forge other lines; a raw newline lets them forge a whole line.
/// Borrows when there is nothing to escape, which is nearly always.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The session saved at `path` by [`save_credentials`], if the file holds
/// one; a file that does not parse is reported and ignored (a new session
/// is made instead).
pub fn load_credentials(path: &Path) -> Option<Credentials> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str(&text) {
        Ok(credentials) => Some(credentials),
        Err(e) => {
            eprintln!("! ignoring {}: {e}", path.display());
            None
        }
    }
}

/// Saves `credentials` at `path` (when both are given), so the next start
/// comes back as the same session; a failure is reported, not fatal. The
/// file is replaced whole: a process killed while saving leaves the old
/// session or the new one, never an empty file.
pub fn save_credentials(credentials: Option<Credentials>, path: Option<&Path>) {
    let (Some(path), Some(credentials)) = (path, credentials) else {
        return;
    };
    let written = serde_json::to_string_pretty(&credentials)
        .map_err(std::io::Error::other)
        .and_then(|json| write_atomically(path, json.as_bytes()));
    if let Err(e) = written {
        eprintln!("! could not save the session to {}: {e}", path.display());
    }
}

/// Writes `bytes` to a file beside `path`, then renames it over `path`
/// (atomic on the same file system).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// What the `--allow-host NAME` flag of every example server does: allows
/// each name on `builder`, besides IP addresses, `localhost` and `.local`
/// names (the server's guard against DNS rebinding; see
/// `ServerBuilder::allow_host`).
pub fn allow_hosts<A: RexApp>(builder: ServerBuilder<A>, names: &[String]) -> ServerBuilder<A> {
    names
        .iter()
        .fold(builder, |builder, name| builder.allow_host(name))
}

#[cfg(test)]
mod tests {
    use super::{color_allowed, parse_pin, printable, write_atomically};

    #[test]
    fn pins_are_four_to_twelve_digits() {
        assert_eq!(parse_pin(" 4711 ").as_deref(), Ok("4711"));
        for bad in ["", "123", "12ab", "1234567890123", "١٢٣٤"] {
            assert!(parse_pin(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn printable_escapes_every_control_character_and_keeps_the_rest() {
        assert_eq!(printable("Zoë 🎉 says hi"), "Zoë 🎉 says hi");
        assert!(matches!(printable("plain"), std::borrow::Cow::Borrowed(_)));
        let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}31m\u{7f}a\nb\tc\r";
        let shown = printable(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(
            shown,
            "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\u{9b}31m\\u{7f}a\\u{a}b\\u{9}c\\u{d}"
        );
    }

    #[test]
    fn saving_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("rex-cli-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("session.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!dir.join("session.json.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(color_allowed(true, None));
        assert!(color_allowed(true, Some(OsStr::new(""))));
        assert!(!color_allowed(true, Some(OsStr::new("1"))));
        assert!(!color_allowed(false, None));
    }
}
