//! The trivia protocol: what a phone sends ([`TriviaMsg`]) and what the room
//! shows ([`TriviaEvent`]).
//!
//! Every event carries what a TV page or a phone page needs to draw it, so a
//! page that reads the log from index 0 (or resumes after a lost
//! connection) can rebuild the whole screen without asking anything else.
//! Question numbers start at 1; choices are indexed from 0.

use rex::{RexEvent, RexMessage, SessionId};
use serde::{Deserialize, Serialize};

/// What a phone can say to the room: the trivia protocol, whose events
/// are [`TriviaEvent`]s.
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
#[rex(app = "trivia", events = TriviaEvent, schema)]
pub enum TriviaMsg {
    /// Start the game (or a new one, after the final standings). Only the
    /// host — the first session that joined the room — may start it.
    Start,
    /// Answer the open question.
    Answer {
        /// The question's `number`, as its `question` event gave it; an
        /// answer meant for an earlier question is refused, not counted for
        /// the current one.
        number: u32,
        /// The index of the chosen answer in the question's `choices`.
        choice: u32,
    },
    /// Change your display name.
    Rename {
        /// The new name; 1 to 32 characters.
        name: String,
    },
}

/// One line of a scoreboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, rex::schemars::JsonSchema)]
#[schemars(crate = "rex::schemars")]
pub struct Standing {
    /// The player.
    pub session: SessionId,
    /// Their display name.
    pub name: String,
    /// Their total score.
    pub score: u32,
    /// Their place, from 1; players with the same score share a place.
    pub rank: u32,
}

/// What the room shows.
#[derive(Clone, Debug, PartialEq, Eq, RexEvent)]
#[rex(schema)]
pub enum TriviaEvent {
    /// A player joined the room (in the lobby or in the middle of a game;
    /// either way they can play).
    Joined {
        /// Who joined.
        session: SessionId,
        /// Their display name.
        name: String,
        /// Whether they are the host, the one who starts the game.
        host: bool,
    },
    /// A player changed their name.
    Renamed {
        /// Who.
        session: SessionId,
        /// The new name.
        name: String,
    },
    /// The host started a game; every score is back to 0.
    Started {
        /// How many questions this game has.
        questions: u32,
        /// Seconds to answer each question.
        seconds: u32,
    },
    /// A question is open for answers.
    Question {
        /// Its number in this game, from 1.
        number: u32,
        /// How many questions the game has.
        total: u32,
        /// The question.
        text: String,
        /// The possible answers; `answer` messages name one by its index.
        choices: Vec<String>,
        /// Seconds to answer.
        seconds: u32,
        /// When answers stop being accepted, in the log's `time` clock
        /// (milliseconds since the server started), so a page can show a
        /// countdown that survives a reconnect.
        closes_at_ms: u64,
    },
    /// A player answered the open question. Public, so the TV can show who
    /// is done; the choice stays secret until the reveal.
    Answered {
        /// The question's number.
        number: u32,
        /// Who answered.
        session: SessionId,
    },
    /// The question closed (deadline, or everyone answered): the correct
    /// answer, for everyone.
    Revealed {
        /// The question's number.
        number: u32,
        /// The index of the correct choice.
        correct: u32,
        /// How many players picked each choice, by index.
        counts: Vec<u32>,
    },
    /// Private to one player: how they did on the question just revealed.
    /// Every player in the room gets one, answered or not.
    Result {
        /// The question's number.
        number: u32,
        /// What they chose; `None` if they did not answer in time.
        choice: Option<u32>,
        /// Whether they chose the correct answer.
        correct: bool,
        /// The points earned: 0 for a wrong or missing answer; for a
        /// correct one, more the faster it came.
        points: u32,
        /// Their total score after this question.
        total: u32,
    },
    /// The scoreboard after a question, best first.
    Scores {
        /// The question just revealed.
        number: u32,
        /// Every player, best first.
        standings: Vec<Standing>,
    },
    /// The game is over: the final standings, best first. The host may
    /// start another game.
    Finished {
        /// Every player, best first.
        standings: Vec<Standing>,
    },
}
