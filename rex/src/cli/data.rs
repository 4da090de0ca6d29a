//! `rex data DIR`: what a room's data directory holds, read offline (the
//! server must be stopped: a running server keeps the directory locked).

use std::path::Path;

use rex_proto::EventRecord;
use serde_json::json;

use super::{print_event, short, Console, Failure, BOLD, DIM};
use crate::server::store::{inspect, StoreError};

pub(super) fn data(console: &mut Console<'_>, dir: &Path, last: usize) -> Result<(), Failure> {
    let found = inspect(dir, last).map_err(|e| Failure::Message(explain(&e)))?;
    let events: Vec<EventRecord> = found
        .last
        .iter()
        .map(|e| {
            serde_json::from_slice(&e.line).map_err(|err| {
                Failure::Message(format!(
                    "event {} in {} is not an event record: {err}",
                    e.index,
                    dir.display()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if console.json {
        let sessions: Vec<_> = found
            .sessions
            .iter()
            .map(|(id, name)| json!({"session": id, "name": name}))
            .collect();
        return console.json_line(&json!({
            "app": found.meta.app,
            "epoch": found.meta.epoch,
            "started_unix_ms": found.meta.started_unix_ms,
            "oldest": found.oldest,
            "head": found.head,
            "clock_ms": found.clock_ms,
            "state": found.state.map(|(head, bytes)| json!({"head": head, "bytes": bytes})),
            "sessions": sessions,
            "last": events,
        }));
    }
    let title = format!(
        "{} {}",
        console.paint(BOLD, dir.display().to_string()),
        console.paint(DIM, format!("(app {})", found.meta.app))
    );
    writeln!(console.out, "{title}")?;
    let state = match found.state {
        Some((head, bytes)) => format!("{bytes} bytes, at index {head}"),
        None => "none saved".to_owned(),
    };
    let rows = [
        ("epoch", found.meta.epoch.to_string()),
        (
            "log",
            format!(
                "head {}, oldest {} ({} kept)",
                found.head,
                found.oldest,
                found.head - found.oldest
            ),
        ),
        (
            "clock",
            format!(
                "{}.{:03}s since the epoch began",
                found.clock_ms / 1000,
                found.clock_ms % 1000
            ),
        ),
        ("state", state),
        ("sessions", found.sessions.len().to_string()),
    ];
    for (label, value) in rows {
        writeln!(
            console.out,
            "  {}  {}",
            console.paint(DIM, format!("{label:<8}")),
            value
        )?;
    }
    for (id, name) in &found.sessions {
        // A name is whatever a client sent: painted (so made visible).
        let name = name.as_deref().unwrap_or("(no name)");
        writeln!(
            console.out,
            "    {}  {}",
            console.paint(DIM, short(&id.to_string())),
            console.paint(BOLD, name)
        )?;
    }
    if !events.is_empty() {
        writeln!(
            console.out,
            "  {}",
            console.paint(DIM, format!("last {} events", events.len()))
        )?;
        for record in &events {
            print_event(console, record)?;
        }
    }
    Ok(())
}

fn explain(e: &StoreError) -> String {
    match e {
        StoreError::Locked { .. } => format!(
            "{e} (`rex data` reads a data directory offline; `rex info URL` describes a running room)"
        ),
        _ => e.to_string(),
    }
}
