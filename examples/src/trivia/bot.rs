//! A trivia player driven by code: the `--demo` bots and the tests' players.
//!
//! A bot is a typed client ([`TriviaMsgClient`]) that follows the log and answers each
//! question through its generated stub, after a delay
//! and with a choice that its `decide` function picks. Bots know the
//! answer key (they are in the same process as the question set), so
//! `decide` sets how often they are right; how random that is is up to the
//! caller, which keeps this library free of a random number generator.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rex::{ClientError, SessionId, StreamItem};

use super::protocol::{Standing, TriviaEvent, TriviaMsgClient};
use super::questions::Question;

/// A typed client of the trivia protocol.
pub type TriviaClient = TriviaMsgClient;

/// A question as a bot sees it, with the correct answer looked up in the
/// key.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    /// The question's number, from 1.
    pub number: u32,
    /// The question.
    pub text: &'a str,
    /// The possible answers.
    pub choices: &'a [String],
    /// Seconds to answer.
    pub seconds: u32,
    /// The correct choice, if the key has this question.
    pub correct: Option<u32>,
}

/// What a bot was told about one question, privately.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotResult {
    /// The question's number.
    pub number: u32,
    /// What it chose, if it answered in time.
    pub choice: Option<u32>,
    /// Whether that was right.
    pub correct: bool,
    /// The points earned.
    pub points: u32,
    /// The total after this question.
    pub total: u32,
}

/// How a bot's game went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotReport {
    /// The bot's session.
    pub session: SessionId,
    /// Its private `result` events, in order.
    pub results: Vec<BotResult>,
    /// The reasons of answers the room refused (an answer that came too
    /// late, say).
    pub rejected: Vec<String>,
    /// The final standings, as the `finished` event gave them.
    pub standings: Vec<Standing>,
}

/// The answer key: the correct choice of each question, by its text.
pub fn answer_key(questions: &[Question]) -> HashMap<String, u32> {
    questions
        .iter()
        .map(|q| (q.text.clone(), q.answer))
        .collect()
}

/// Plays until the game finishes: answers each question with what
/// `decide` returns (a delay and a choice; `None` to let it pass), and
/// collects the private results. Reads the log from where the session was
/// created, so it must be called before the game starts, or with a session
/// restored from earlier in the same game.
pub async fn play(
    client: TriviaClient,
    key: &HashMap<String, u32>,
    mut decide: impl FnMut(&Asked<'_>) -> Option<(Duration, u32)>,
) -> Result<BotReport, ClientError> {
    let session = client.session().ok_or(ClientError::NoSession)?;
    let mut report = BotReport {
        session,
        results: Vec::new(),
        rejected: Vec::new(),
        standings: Vec::new(),
    };
    let mut events = client.events_from(client.joined_at().unwrap_or(0));
    while let Some(item) = events.next().await {
        let StreamItem::Event(event) = item? else {
            continue;
        };
        match event.event {
            TriviaEvent::Started { .. } => {
                report.results.clear();
                report.rejected.clear();
            }
            TriviaEvent::Question {
                number,
                text,
                choices,
                seconds,
                ..
            } => {
                let asked = Asked {
                    number,
                    text: &text,
                    choices: &choices,
                    seconds,
                    correct: key.get(&text).copied(),
                };
                let Some((delay, choice)) = decide(&asked) else {
                    continue;
                };
                tokio::time::sleep(delay).await;
                match client.answer(number, choice).await {
                    Ok(_) => {}
                    Err(ClientError::Rejected { reason }) => report.rejected.push(reason),
                    Err(e) => return Err(e),
                }
            }
            TriviaEvent::Result {
                number,
                choice,
                correct,
                points,
                total,
            } => report.results.push(BotResult {
                number,
                choice,
                correct,
                points,
                total,
            }),
            TriviaEvent::Finished { standings } => {
                report.standings = standings;
                return Ok(report);
            }
            _ => {}
        }
    }
    Ok(report)
}
