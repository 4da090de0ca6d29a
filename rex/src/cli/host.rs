//! Hosts of rooms: `rex room new URL` opens a room on one, and `rex info`
//! on a host's URL describes the host (a host's root has no `/info`: that
//! is each room's).

use clap::{Args, Subcommand};
use rex_proto::{CreateRoom, HostInfo};
use serde_json::{json, Map, Value};

use super::{visible, Console, Failure, BOLD, DIM, KIND};
use crate::client::HostClient;
use crate::ClientError;

/// `rex room …`.
#[derive(Debug, Subcommand)]
pub(super) enum RoomCommand {
    /// Open a room on a host of rooms and print its URL and code.
    New(NewArgs),
}

#[derive(Debug, Args)]
pub(super) struct NewArgs {
    /// The host's URL, `http://192.168.1.20:7700` (`rex discover` marks
    /// hosts).
    url: String,
    /// The room's display name (default: the host's).
    #[arg(long)]
    name: Option<String>,
    /// A setting of the app's for this room; VALUE is JSON (`3`, `true`,
    /// `["a","b"]`), or else taken as a string. Repeat for several; a
    /// later KEY replaces an earlier one.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
}

pub(super) async fn room(console: &mut Console<'_>, command: RoomCommand) -> Result<(), Failure> {
    match command {
        RoomCommand::New(args) => new(console, args).await,
    }
}

async fn new(console: &mut Console<'_>, args: NewArgs) -> Result<(), Failure> {
    let request = CreateRoom {
        name: args.name,
        settings: settings(&args.settings)?,
    };
    let host = HostClient::connect(args.url.as_str()).await?;
    let created = match host.create_room(&request).await {
        Ok(created) => created,
        Err(e) => return Err(refused(console, &args.url, e)?),
    };
    let url = host.room_endpoint(&created)?.to_string();
    if console.json {
        let mut value =
            serde_json::to_value(&created).map_err(|e| Failure::Message(e.to_string()))?;
        value["url"] = json!(url);
        return console.json_line(&value);
    }
    writeln!(
        console.out,
        "{}  {} {}",
        console.paint(BOLD, created.room),
        console.paint(BOLD, &created.name),
        console.paint(DIM, format!("(app {})", created.app)),
    )?;
    writeln!(
        console.out,
        "  {}  {}",
        console.paint(DIM, "url"),
        visible::visible(&url)
    )?;
    Ok(())
}

/// `--set KEY=VALUE`s as the body's settings: each VALUE as JSON if it is
/// JSON, else as a string (so `--set theme=dark` needs no quotes).
fn settings(pairs: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut settings = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Failure::Message(format!(
                "--set takes KEY=VALUE, not `{pair}`; e.g. --set rounds=3"
            )));
        };
        if key == "name" {
            return Err(Failure::Message(
                "the room's name is given with --name, not --set name=…".to_owned(),
            ));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        settings.insert(key.to_owned(), value);
    }
    Ok(settings)
}

/// What to say when the host refuses to open a room: its reason, and, for
/// a URL that is no host, what to do. In `--json` mode the
/// refusal goes to stdout as `{"error", "reason"}`, as for `rex send`.
fn refused(console: &mut Console<'_>, url: &str, error: ClientError) -> Result<Failure, Failure> {
    if console.json {
        if let Some(code) = error.code() {
            let reason = error.to_string();
            let reason = reason.strip_prefix(&format!("{code}: ")).unwrap_or(&reason);
            console.json_line(&json!({"error": code, "reason": reason}))?;
            return Ok(Failure::Reported);
        }
    }
    let advice = match &error {
        ClientError::NotFound { .. } | ClientError::MethodNotAllowed { .. } => Some(format!(
            "is {url} a host of rooms? `rex info {url}` says what it is (a room's URL, \
             …/r/CODE, is joined, not used to open rooms)"
        )),
        // The host's own reasons for 429 and 503 already say when to try
        // again; advice here would only repeat them.
        _ => None,
    };
    Ok(match advice {
        Some(advice) => Failure::Message(format!("{error}; {advice}")),
        None => error.into(),
    })
}

/// `rex info URL` where `/rex/v0/info` answered `404`: if the URL is a
/// host's, describes the host; otherwise the `404` is the answer.
pub(super) async fn info(
    console: &mut Console<'_>,
    url: &str,
    not_found: ClientError,
) -> Result<(), Failure> {
    let host = HostClient::connect(url).await?;
    let info = match host.info().await {
        Ok(info) => info,
        // Neither a room nor a host: say what `/info` said.
        Err(ClientError::NotFound { .. }) => return Err(not_found.into()),
        Err(e) => return Err(e.into()),
    };
    let url = host.endpoint().to_string();
    if console.json {
        let mut value = serde_json::to_value(&info).map_err(|e| Failure::Message(e.to_string()))?;
        value["hosts_rooms"] = json!(true);
        return console.json_line(&value);
    }
    print_host(console, &url, &info)
}

fn print_host(console: &mut Console<'_>, url: &str, info: &HostInfo) -> Result<(), Failure> {
    let mut rows = vec![
        ("url", url.to_owned()),
        ("protocol", info.protocol.to_string()),
        ("rooms", format!("{} of {}", info.rooms, info.max_rooms)),
    ];
    if !info.peers.is_empty() {
        rows.push(("peers", info.peers.join(", ")));
    }
    let note = format!("(app {}, a host of rooms)", info.app);
    console.described(&info.name, &note, &rows)?;
    writeln!(
        console.out,
        "create a room with {}",
        console.paint(KIND, format!("rex room new {url}"))
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_json_or_else_strings() {
        let pairs = [
            "rounds=3",
            "theme=dark",
            "teams=[\"red\",\"blue\"]",
            "strict=true",
            "motto=a=b",
            "quoted=\"3\"",
            "empty=",
        ]
        .map(String::from);
        let Ok(parsed) = settings(&pairs) else {
            panic!("valid settings");
        };
        assert_eq!(
            Value::Object(parsed),
            json!({
                "rounds": 3,
                "theme": "dark",
                "teams": ["red", "blue"],
                "strict": true,
                "motto": "a=b",
                "quoted": "3",
                "empty": "",
            })
        );
        for bad in ["rounds", "=3", "name=Quiz"] {
            assert!(settings(&[bad.to_owned()]).is_err(), "{bad}");
        }
        let later = ["rounds=3", "rounds=5"].map(String::from);
        assert!(matches!(settings(&later), Ok(s) if s["rounds"] == 5));
    }
}
