//! The terminal trivia player, as a library: what the screen shows for each
//! event ([`PlayerView`]), what a typed line means ([`parse_line`]), and
//! the loop that joins the two to a [`TriviaClient`] ([`play`]).
//!
//! The `trivia-player` example binary adds only the command line,
//! discovery and the session file, so the tests drive this same code with
//! a channel for a keyboard and read what it would print.
//!
//! A player follows the log from index 0 every time it starts: events
//! before [`PlayerView::new`]'s `live_from` only rebuild the state
//! quietly, then one summary says what the room looks like now (who is
//! there, the open question and the time left, your score), and later
//! events are printed as they come. A player who quits and comes back with
//! the same session therefore sees where the game is, not its history.

mod view;

use std::pin::pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use rex::ClientError;

use super::bot::TriviaClient;
use super::show;

pub use view::PlayerView;

/// What to type, for `/help` and for a line that means nothing.
pub const HELP: &str = "type a letter (A, B, …) or a number (1, 2, …) and Enter to answer; \
`start` starts the game (the host only); `/name NEW` renames you; `/who` lists the room; \
`/quit` leaves";

/// How long the stream may stay silent during the quiet replay before the
/// replay counts as done although `live_from` was not reached: the last
/// events before it were private to somebody else, so they never come.
const SETTLE: Duration = Duration::from_millis(300);

/// What a typed line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Answer the open question with this choice (its index, from 0).
    Answer(u32),
    /// Start the game (only the host may).
    Start,
    /// Change your display name.
    Rename(String),
    /// List who is in the room.
    Who,
    /// Show what to type.
    Help,
    /// Leave.
    Quit,
}

/// What a typed line means: `b` or `B` or `2` answers with the second
/// choice, `start` starts the game, `/name NEW` renames, `/who`, `/help`,
/// `/quit`. A blank line is `Ok(None)`; anything else is an error that
/// says what to type.
pub fn parse_line(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = line.strip_prefix('/') {
        let (verb, arg) = match rest.split_once(char::is_whitespace) {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (rest, ""),
        };
        return match verb.to_lowercase().as_str() {
            "quit" | "q" | "exit" => Ok(Some(Command::Quit)),
            "start" => Ok(Some(Command::Start)),
            "who" => Ok(Some(Command::Who)),
            "help" | "?" => Ok(Some(Command::Help)),
            "name" | "nick" if arg.is_empty() => Err("usage: /name NEW".to_owned()),
            "name" | "nick" => Ok(Some(Command::Rename(arg.to_owned()))),
            other => Err(format!("unknown command /{other}; {HELP}")),
        };
    }
    if line.eq_ignore_ascii_case("start") {
        return Ok(Some(Command::Start));
    }
    if line == "?" || line.eq_ignore_ascii_case("help") {
        return Ok(Some(Command::Help));
    }
    let mut chars = line.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if let Some(choice) = show::index_of_letter(c) {
            return Ok(Some(Command::Answer(choice)));
        }
    }
    match line.parse::<u32>() {
        Ok(0) => Err("choices are numbered from 1 (A is 1)".to_owned()),
        Ok(n) => Ok(Some(Command::Answer(n - 1))),
        Err(_) => Err(format!("`{line}` is not an answer; {HELP}")),
    }
}

/// Plays as `client`'s session until `/quit` or the end of `lines`: prints
/// the room through `out`, one line at a time, and sends what the lines
/// ask for. Refusals print the room's reason (`! question 3 is closed; …`).
/// When the room restarts (its log is replaced), joins it again with the
/// same name and says so.
///
/// Returns an error when the server cannot be reached (after the client's
/// retries) or the event stream ends for good.
pub async fn play(
    client: &TriviaClient,
    lines: impl Stream<Item = String>,
    mut out: impl FnMut(String),
) -> Result<(), ClientError> {
    // Lines carry names and texts other players chose: whatever they
    // typed reaches this terminal as visible characters, never as escapes.
    let mut out = move |line: String| out(crate::cli::printable(&line).into_owned());
    let mut lines = pin!(lines);
    loop {
        let me = client.session().ok_or(ClientError::NoSession)?;
        let info = client.info().await?;
        // A session this client created: everything up to its own `joined`
        // is the past. A restored one: everything up to now.
        let live_from = client.joined_at().map_or(info.head, |joined| joined + 1);
        let mut view = PlayerView::new(me, live_from, info.time);
        let mut events = client.events_from(0);
        let mut last_error = None;
        loop {
            for line in view.take_lines() {
                out(line);
            }
            if view.take_restart() {
                let name = view.my_name().map(str::to_owned);
                out(format!(
                    "* joining it again as {}",
                    name.as_deref().unwrap_or("a new player")
                ));
                client.rejoin(name).await?;
                break;
            }
            tokio::select! {
                item = events.next() => match item {
                    Some(Ok(item)) => view.apply(item),
                    Some(Err(e)) => {
                        out(format!("! {e}"));
                        last_error = Some(e);
                    }
                    None => {
                        return Err(last_error.unwrap_or(ClientError::Protocol {
                            reason: "the room's event stream ended".to_owned(),
                        }))
                    }
                },
                () = tokio::time::sleep(SETTLE), if !view.is_caught_up() => view.catch_up(),
                line = lines.next() => {
                    let Some(line) = line else {
                        return Ok(());
                    };
                    match parse_line(&line) {
                        Ok(None) => {}
                        Ok(Some(Command::Quit)) => return Ok(()),
                        Ok(Some(command)) => run(client, &mut view, command, &mut out).await,
                        Err(problem) => out(format!("! {problem}")),
                    }
                }
            }
        }
    }
}

/// Carries out one typed command.
async fn run(
    client: &TriviaClient,
    view: &mut PlayerView,
    command: Command,
    out: &mut impl FnMut(String),
) {
    let sent = match command {
        Command::Answer(choice) => {
            let (number, choice) = match view.answer(choice) {
                Ok(answer) => answer,
                Err(problem) => return out(format!("! {problem}")),
            };
            let sent = client.answer(number, choice).await;
            if sent.is_ok() {
                view.answer_accepted(number, choice);
            }
            sent
        }
        Command::Start => client.start().await,
        Command::Rename(name) => client.rename(name).await,
        Command::Who => return out(view.room_line()),
        Command::Help => return out(HELP.to_owned()),
        Command::Quit => return,
    };
    match sent {
        Ok(_) => {}
        Err(ClientError::Rejected { reason }) => out(format!("! {reason}")),
        Err(e) => out(format!("! could not send it: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_commands() {
        use Command::*;
        let cases: [(&str, Command); 12] = [
            ("a", Answer(0)),
            ("B", Answer(1)),
            (" d ", Answer(3)),
            ("1", Answer(0)),
            ("4", Answer(3)),
            ("start", Start),
            ("START", Start),
            ("/start", Start),
            ("/name  Zoe Q ", Rename("Zoe Q".into())),
            ("/who", Who),
            ("/quit", Quit),
            ("?", Help),
        ];
        for (line, command) in cases {
            assert_eq!(parse_line(line), Ok(Some(command)), "{line:?}");
        }
        assert_eq!(parse_line("   "), Ok(None));
        assert_eq!(parse_line("/name"), Err("usage: /name NEW".into()));
        assert_eq!(
            parse_line("0"),
            Err("choices are numbered from 1 (A is 1)".into())
        );
        let e = parse_line("paris").unwrap_err();
        assert!(
            e.starts_with("`paris` is not an answer; type a letter"),
            "{e}"
        );
        let e = parse_line("/dance").unwrap_err();
        assert!(e.starts_with("unknown command /dance; "), "{e}");
        assert!(parse_line("-1").is_err());
    }
}
