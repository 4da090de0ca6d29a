//! Saved sessions of `rex send`: one JSON file mapping each server's base
//! URL to the credentials of the session the tool uses there.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::Credentials;

/// The sessions file: `--session-file`, else `$XDG_STATE_HOME/rex/sessions.json`,
/// else `~/.local/state/rex/sessions.json`.
pub(super) fn default_path() -> Result<PathBuf, String> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(state).join("rex").join("sessions.json"));
    }
    match std::env::var_os("HOME").filter(|s| !s.is_empty()) {
        Some(home) => Ok(PathBuf::from(home)
            .join(".local")
            .join("state")
            .join("rex")
            .join("sessions.json")),
        None => Err(
            "neither XDG_STATE_HOME nor HOME is set; say where to keep the session with --session-file"
                .to_owned(),
        ),
    }
}

/// The saved sessions, by server base URL.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    path: PathBuf,
    by_server: BTreeMap<String, Credentials>,
}

impl Sessions {
    /// Reads the file; a missing file is no sessions, an unreadable one an
    /// error naming it.
    pub(super) fn load(path: &Path) -> Result<Sessions, String> {
        let by_server = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the sessions file {} is not valid ({e}); delete it or pass another --session-file",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Sessions {
            path: path.to_owned(),
            by_server,
        })
    }

    pub(super) fn get(&self, server: &str) -> Option<&Credentials> {
        self.by_server.get(server)
    }

    /// Records `credentials` for `server` and writes the file (readable by
    /// its owner only: it holds secret tokens).
    pub(super) fn save(&mut self, server: &str, credentials: Credentials) -> Result<(), String> {
        if self.by_server.get(server) == Some(&credentials) {
            return Ok(());
        }
        self.by_server.insert(server.to_owned(), credentials);
        let json = serde_json::to_string_pretty(&self.by_server).map_err(|e| e.to_string())?;
        write_private(&self.path, json.as_bytes())
            .map_err(|e| format!("cannot save the session to {}: {e}", self.path.display()))
    }
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    io::Write::write_all(&mut options.open(path)?, contents)
}
