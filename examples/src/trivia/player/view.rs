//! [`PlayerView`]: the terminal player's screen, as a state machine from
//! the room's events to the lines to print.

use rex::{EventIndex, EventMeta, Resync, ResyncCause, SessionId, StreamItem};
use serde_json::Value;

use crate::trivia::protocol::{Standing, TriviaEvent, TriviaEventHandler};
use crate::trivia::show::{self, letter, letter_range, ordinal, standing_line};

/// A question as the player shows it.
#[derive(Clone, Debug)]
struct Asked {
    number: u32,
    total: u32,
    text: String,
    choices: Vec<String>,
    closes_at_ms: u64,
}

/// Where the game is, as far as this player has read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Lobby,
    Starting { questions: u32, seconds: u32 },
    Asking,
    Revealed { correct: u32 },
    Finished,
}

/// This player's private result for the last revealed question.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    number: u32,
    choice: Option<u32>,
    correct: bool,
    points: u32,
    total: u32,
}

/// The player's screen: the room as the log tells it, and the lines to
/// print for each event. Feed it every item of the stream with
/// [`PlayerView::apply`] and print what [`PlayerView::take_lines`] returns.
#[derive(Debug)]
pub struct PlayerView {
    me: SessionId,
    /// Events before this index were shown in an earlier run (or happened
    /// before this player joined): they update the state, silently.
    live_from: EventIndex,
    /// Whether the summary of the replayed state has been shown.
    caught_up: bool,
    /// Everyone who joined, in join order, with their current name.
    players: Vec<(SessionId, String)>,
    host: Option<SessionId>,
    stage: Stage,
    /// The question asked last in this game (open, or revealed).
    question: Option<Asked>,
    /// Who answered the open question.
    answered: Vec<SessionId>,
    /// What this player chose for the open question, when this process
    /// sent it (the public `answered` event keeps the choice secret).
    my_choice: Option<u32>,
    outcome: Option<Outcome>,
    /// This player's score in this game.
    total: u32,
    /// The last scoreboard of this game, to show each player's gain.
    standings: Vec<Standing>,
    /// The log's clock as last known, in milliseconds: the newest event's
    /// time, or the server's clock when the player started.
    now_ms: u64,
    /// Whether the server's log was replaced (a restart): the session is
    /// gone and the player must join again.
    restarted: bool,
    /// Whether the hint on how to answer has been shown.
    hinted: bool,
    lines: Vec<String>,
}

impl PlayerView {
    /// A screen for the session `me`, printing events from `live_from` on.
    /// `now_ms` is the log's clock now (`Info::time`), for the time left on
    /// a question that opened before `live_from`.
    pub fn new(me: SessionId, live_from: EventIndex, now_ms: u64) -> PlayerView {
        let mut view = PlayerView {
            me,
            live_from,
            caught_up: false,
            players: Vec::new(),
            host: None,
            stage: Stage::Lobby,
            question: None,
            answered: Vec::new(),
            my_choice: None,
            outcome: None,
            total: 0,
            standings: Vec::new(),
            now_ms,
            restarted: false,
            hinted: false,
            lines: Vec::new(),
        };
        if live_from == 0 {
            view.catch_up();
        }
        view
    }

    /// Takes in one item of the event stream.
    pub fn apply(&mut self, item: StreamItem<TriviaEvent>) {
        let index = match &item {
            StreamItem::Event(e) => Some(e.meta.index),
            StreamItem::Unknown { meta, .. } => Some(meta.index),
            StreamItem::Resync(_) | StreamItem::Connection(_) => None,
        };
        // The first live event, when the last replayed ones were not ours
        // to see: the summary comes before it.
        if index.is_some_and(|i| i >= self.live_from) {
            self.catch_up();
        }
        self.handle(item);
        if index.is_some_and(|i| i + 1 >= self.live_from) {
            self.catch_up();
        }
    }

    /// Ends the quiet replay: shows what the room looks like now. Does
    /// nothing the second time.
    pub fn catch_up(&mut self) {
        if self.caught_up {
            return;
        }
        self.caught_up = true;
        self.summary();
    }

    /// Whether the replay is over and events are being shown.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up
    }

    /// The lines to print since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// This player's session.
    pub fn me(&self) -> SessionId {
        self.me
    }

    /// This player's name, once the log has said it.
    pub fn my_name(&self) -> Option<&str> {
        self.name_of(self.me)
    }

    /// Whether this player is the host.
    pub fn is_host(&self) -> bool {
        self.host == Some(self.me)
    }

    /// This player's score in the current (or last) game.
    pub fn score(&self) -> u32 {
        self.total
    }

    /// The number of the open question, if one is open.
    pub fn open_question(&self) -> Option<u32> {
        match self.stage {
            Stage::Asking => self.question.as_ref().map(|q| q.number),
            _ => None,
        }
    }

    /// Whether the log said the room restarted (a new epoch): this
    /// player's session is gone, and it should join again. Reading it
    /// clears it.
    pub fn take_restart(&mut self) -> bool {
        std::mem::take(&mut self.restarted)
    }

    /// The `answer` message for `choice`: the question it is for, and the
    /// choice. The number is the last question asked (the server refuses an
    /// answer to a closed one, with its reason), or 1 before the first one
    /// (the server says the game has not started). A choice the question
    /// does not have is refused here, in letters.
    pub fn answer(&self, choice: u32) -> Result<(u32, u32), String> {
        let Some(q) = &self.question else {
            return Ok((1, choice));
        };
        if choice as usize >= q.choices.len() {
            return Err(format!(
                "there is no choice {}; this question has {} (or 1–{})",
                letter(choice as usize),
                letter_range(q.choices.len()),
                q.choices.len()
            ));
        }
        Ok((q.number, choice))
    }

    /// The room accepted this player's answer to question `number`: the
    /// screen can then say which choice it was (the public `answered` event
    /// does not).
    pub fn answer_accepted(&mut self, number: u32, choice: u32) {
        let open = self.open_question() == Some(number);
        if open && self.my_choice.is_none() {
            self.my_choice = Some(choice);
        }
    }

    /// Who is in the room: `in the room: Ada (host), Zoe (you)`.
    pub fn room_line(&self) -> String {
        let names: Vec<String> = self
            .players
            .iter()
            .map(|(session, name)| {
                let tags: Vec<&str> = [
                    (*session == self.me).then_some("you"),
                    (Some(*session) == self.host).then_some("host"),
                ]
                .into_iter()
                .flatten()
                .collect();
                if tags.is_empty() {
                    name.clone()
                } else {
                    format!("{name} ({})", tags.join(", "))
                }
            })
            .collect();
        if names.is_empty() {
            "* nobody is in the room yet".to_owned()
        } else {
            format!("* in the room: {}", names.join(", "))
        }
    }

    fn name_of(&self, session: SessionId) -> Option<&str> {
        self.players
            .iter()
            .find(|(s, _)| *s == session)
            .map(|(_, name)| name.as_str())
    }

    fn name(&self, session: SessionId) -> String {
        self.name_of(session)
            .map_or_else(|| session.to_string(), str::to_owned)
    }

    /// `Ada (the host)`, or `the host` before anyone joined.
    fn host_name(&self) -> String {
        self.host.map_or_else(
            || "the host".to_owned(),
            |h| format!("{} (the host)", self.name(h)),
        )
    }

    /// Prints `line` if the event at `meta` is live.
    fn say(&mut self, meta: &EventMeta, line: String) {
        if meta.index >= self.live_from {
            self.lines.push(line);
        }
    }

    fn saw(&mut self, meta: &EventMeta) {
        self.now_ms = self.now_ms.max(meta.time);
    }

    /// What the room looks like now, after a quiet replay.
    fn summary(&mut self) {
        let mut out = vec![self.room_line()];
        match self.stage {
            Stage::Lobby if self.is_host() => out.push(
                "* you are the host: type `start` to start the game when everyone is in".into(),
            ),
            Stage::Lobby => out.push(format!(
                "* waiting for {} to start the game",
                self.host_name()
            )),
            Stage::Starting { questions, seconds } => out.push(format!(
                "* the game is starting: {questions} questions, {seconds} s each"
            )),
            Stage::Asking => {
                out.push(format!("* your score: {}", self.total));
                if let Some(q) = self.question.clone() {
                    let left_ms = q.closes_at_ms.saturating_sub(self.now_ms);
                    out.extend(self.question_lines(&q, left_ms.div_ceil(1000)));
                }
                if self.answered.contains(&self.me) {
                    out.push("  you answered this one; waiting for the others".into());
                }
            }
            Stage::Revealed { correct } => {
                if let Some(q) = &self.question {
                    out.push(format!(
                        "* question {}/{} is closed; the answer was {}",
                        q.number,
                        q.total,
                        show::choice(&q.choices, correct)
                    ));
                }
                if let Some(o) = self.outcome {
                    out.push(self.outcome_line(&o));
                }
                out.push(format!(
                    "* your score: {}; the next question is coming",
                    self.total
                ));
            }
            Stage::Finished => {
                let standings = self.standings.clone();
                out.extend(self.final_lines(&standings));
            }
        }
        self.lines.extend(out);
    }

    fn question_lines(&mut self, q: &Asked, seconds_left: u64) -> Vec<String> {
        let mut out = vec![
            String::new(),
            format!(
                "Question {}/{} ({seconds_left} s left): {}",
                q.number, q.total, q.text
            ),
            format!("  {}", show::choices_line(&q.choices)),
        ];
        if !self.hinted {
            self.hinted = true;
            out.push(format!(
                "  (type {} or 1–{} and Enter to answer)",
                letter_range(q.choices.len()),
                q.choices.len()
            ));
        }
        out
    }

    fn outcome_line(&self, o: &Outcome) -> String {
        let choices = self
            .question
            .as_ref()
            .filter(|q| q.number == o.number)
            .map(|q| q.choices.as_slice())
            .unwrap_or_default();
        let what = match o.choice {
            _ if o.correct => "right!".to_owned(),
            Some(choice) => format!("wrong: you chose {};", show::choice(choices, choice)),
            None => "no answer in time;".to_owned(),
        };
        format!("  {what} +{} points, your total is {}", o.points, o.total)
    }

    fn you(&self, session: SessionId) -> &'static str {
        if session == self.me {
            "  ← you"
        } else {
            ""
        }
    }

    fn final_lines(&self, standings: &[Standing]) -> Vec<String> {
        let mut out = vec![String::new(), "Final standings:".to_owned()];
        for s in standings {
            out.push(format!("{}{}", standing_line(s, None), self.you(s.session)));
        }
        if let Some(mine) = standings.iter().find(|s| s.session == self.me) {
            let tied = standings.iter().filter(|s| s.rank == mine.rank).count() > 1;
            let place = ordinal(mine.rank);
            let of = standings.len();
            out.push(match (mine.rank, tied) {
                (1, false) => format!("You won with {} points!", mine.score),
                (_, false) => format!("You finished {place} of {of} with {} points.", mine.score),
                (_, true) => format!(
                    "You finished tied for {place} of {of} with {} points.",
                    mine.score
                ),
            });
        }
        out.push(if self.is_host() {
            "* type `start` to play again".to_owned()
        } else {
            format!("* {} can start another game", self.host_name())
        });
        out
    }
}

impl TriviaEventHandler for PlayerView {
    fn joined(&mut self, meta: &EventMeta, session: SessionId, name: String, host: bool) {
        self.saw(meta);
        if host {
            self.host = Some(session);
        }
        let line = if session == self.me {
            format!("* you joined as {name}")
        } else if host {
            format!("* {name} joined (the host)")
        } else {
            format!("* {name} joined")
        };
        self.players.push((session, name));
        self.say(meta, line);
    }

    fn renamed(&mut self, meta: &EventMeta, session: SessionId, name: String) {
        self.saw(meta);
        let line = if session == self.me {
            format!("* you are now {name}")
        } else {
            format!("* {} is now {name}", self.name(session))
        };
        match self.players.iter_mut().find(|(s, _)| *s == session) {
            Some(player) => player.1 = name,
            None => self.players.push((session, name)),
        }
        self.say(meta, line);
    }

    fn started(&mut self, meta: &EventMeta, questions: u32, seconds: u32) {
        self.saw(meta);
        self.stage = Stage::Starting { questions, seconds };
        self.question = None;
        self.answered.clear();
        self.my_choice = None;
        self.outcome = None;
        self.total = 0;
        self.standings.clear();
        self.say(
            meta,
            format!("* the game starts: {questions} questions, {seconds} s each"),
        );
    }

    fn question(
        &mut self,
        meta: &EventMeta,
        number: u32,
        total: u32,
        text: String,
        choices: Vec<String>,
        seconds: u32,
        closes_at_ms: u64,
    ) {
        self.saw(meta);
        let asked = Asked {
            number,
            total,
            text,
            choices,
            closes_at_ms,
        };
        if meta.index >= self.live_from {
            let lines = self.question_lines(&asked, u64::from(seconds));
            self.lines.extend(lines);
        }
        self.stage = Stage::Asking;
        self.question = Some(asked);
        self.answered.clear();
        self.my_choice = None;
    }

    fn answered(&mut self, meta: &EventMeta, _number: u32, session: SessionId) {
        self.saw(meta);
        if !self.answered.contains(&session) {
            self.answered.push(session);
        }
        let line = if session == self.me {
            let chosen = match (self.my_choice, &self.question) {
                (Some(choice), Some(q)) => format!(" {}", show::choice(&q.choices, choice)),
                _ => String::new(),
            };
            format!("  you answered{chosen}; waiting for the others")
        } else {
            format!(
                "  {} answered ({} of {})",
                self.name(session),
                self.answered.len(),
                self.players.len()
            )
        };
        self.say(meta, line);
    }

    fn revealed(&mut self, meta: &EventMeta, _number: u32, correct: u32, counts: Vec<u32>) {
        self.saw(meta);
        self.stage = Stage::Revealed { correct };
        self.my_choice = None;
        let right = counts.get(correct as usize).copied().unwrap_or(0);
        let all: u32 = counts.iter().sum();
        let answer = self.question.as_ref().map_or_else(
            || letter(correct as usize).to_string(),
            |q| show::choice(&q.choices, correct),
        );
        self.say(
            meta,
            format!("  the answer: {answer} ({})", show::right_tally(right, all)),
        );
    }

    fn result(
        &mut self,
        meta: &EventMeta,
        number: u32,
        choice: Option<u32>,
        correct: bool,
        points: u32,
        total: u32,
    ) {
        self.saw(meta);
        let outcome = Outcome {
            number,
            choice,
            correct,
            points,
            total,
        };
        self.total = total;
        self.outcome = Some(outcome);
        let line = self.outcome_line(&outcome);
        self.say(meta, line);
    }

    fn scores(&mut self, meta: &EventMeta, _number: u32, standings: Vec<Standing>) {
        self.saw(meta);
        let mut lines = vec!["  scores:".to_owned()];
        for s in &standings {
            let before = self
                .standings
                .iter()
                .find(|b| b.session == s.session)
                .map_or(0, |b| b.score);
            let gain = s.score.saturating_sub(before);
            lines.push(format!(
                "{}{}",
                standing_line(s, Some(gain)),
                self.you(s.session)
            ));
        }
        if let Some(mine) = standings.iter().find(|s| s.session == self.me) {
            self.total = mine.score;
        }
        self.standings = standings;
        for line in lines {
            self.say(meta, line);
        }
    }

    fn finished(&mut self, meta: &EventMeta, standings: Vec<Standing>) {
        self.saw(meta);
        self.stage = Stage::Finished;
        if let Some(mine) = standings.iter().find(|s| s.session == self.me) {
            self.total = mine.score;
        }
        for line in self.final_lines(&standings) {
            self.say(meta, line);
        }
        self.standings = standings;
    }

    fn unknown(&mut self, meta: &EventMeta, kind: &str, _data: Option<&Value>) {
        self.saw(meta);
        self.say(
            meta,
            format!("* (an event this player does not know: {kind})"),
        );
    }

    fn resync(&mut self, resync: &Resync) {
        if resync.cause == ResyncCause::EpochChanged {
            // The server's reason is about epochs and indexes; the player
            // only needs to know the room is new.
            self.restarted = true;
            self.lines
                .push("* the room restarted; everyone joins it again".to_owned());
        } else {
            self.lines.push(format!(
                "* (missed part of the room: {}; continuing)",
                resync.reason
            ));
        }
        // Whatever was being replayed is cut short; show what is known.
        self.catch_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rex::{Epoch, Event};

    /// Builds a log the way the server would number it.
    struct Log {
        next: EventIndex,
        time: u64,
    }

    impl Log {
        fn new() -> Log {
            Log { next: 0, time: 0 }
        }

        fn at(&mut self, ms: u64) -> &mut Log {
            self.time = ms;
            self
        }

        fn event(&mut self, event: TriviaEvent) -> StreamItem<TriviaEvent> {
            self.private(None, event)
        }

        fn private(
            &mut self,
            to: Option<SessionId>,
            event: TriviaEvent,
        ) -> StreamItem<TriviaEvent> {
            let meta = EventMeta {
                index: self.next,
                time: self.time,
                origin: None,
                to: to.map(|s| vec![s]),
            };
            self.next += 1;
            StreamItem::Event(Event { meta, event })
        }
    }

    fn joined(session: SessionId, name: &str, host: bool) -> TriviaEvent {
        TriviaEvent::Joined {
            session,
            name: name.into(),
            host,
        }
    }

    fn question(number: u32, closes_at_ms: u64) -> TriviaEvent {
        TriviaEvent::Question {
            number,
            total: 3,
            text: format!("Question {number}?"),
            choices: ["red", "green", "blue", "yellow"]
                .map(String::from)
                .to_vec(),
            seconds: 20,
            closes_at_ms,
        }
    }

    fn standing(session: SessionId, name: &str, score: u32, rank: u32) -> Standing {
        Standing {
            session,
            name: name.into(),
            score,
            rank,
        }
    }

    fn ids() -> (SessionId, SessionId) {
        (SessionId::new_random(), SessionId::new_random())
    }

    #[test]
    fn a_live_game_shows_questions_private_results_scores_and_the_place() {
        let (me, ada) = ids();
        let mut log = Log::new();
        let mut view = PlayerView::new(me, 1, 0);
        view.apply(log.event(joined(ada, "Ada", true)));
        // Replayed quietly, then the summary of the lobby.
        assert_eq!(
            view.take_lines(),
            [
                "* in the room: Ada (host)",
                "* waiting for Ada (the host) to start the game"
            ]
        );
        view.apply(log.event(joined(me, "Zoe", false)));
        assert_eq!(view.take_lines(), ["* you joined as Zoe"]);
        assert!(!view.is_host());
        assert_eq!(view.my_name(), Some("Zoe"));
        // Before any question, an answer goes to question 1 and the server
        // explains why it is refused.
        assert_eq!(view.answer(1), Ok((1, 1)));

        view.apply(log.event(TriviaEvent::Started {
            questions: 3,
            seconds: 20,
        }));
        view.apply(log.at(1000).event(question(1, 21_000)));
        assert_eq!(
            view.take_lines(),
            [
                "* the game starts: 3 questions, 20 s each",
                "",
                "Question 1/3 (20 s left): Question 1?",
                "  A) red   B) green   C) blue   D) yellow",
                "  (type A–D or 1–4 and Enter to answer)",
            ]
        );
        assert_eq!(view.open_question(), Some(1));
        assert_eq!(
            view.answer(4),
            Err("there is no choice E; this question has A–D (or 1–4)".into())
        );
        assert_eq!(view.answer(2), Ok((1, 2)));
        view.answer_accepted(1, 2);
        // A second answer is for the server to refuse; the first stands.
        view.answer_accepted(1, 3);
        view.apply(log.at(3000).event(TriviaEvent::Answered {
            number: 1,
            session: me,
        }));
        view.apply(log.event(TriviaEvent::Answered {
            number: 1,
            session: ada,
        }));
        view.apply(log.event(TriviaEvent::Revealed {
            number: 1,
            correct: 2,
            counts: vec![0, 1, 1, 0],
        }));
        view.apply(log.private(
            Some(me),
            TriviaEvent::Result {
                number: 1,
                choice: Some(2),
                correct: true,
                points: 950,
                total: 950,
            },
        ));
        view.apply(log.event(TriviaEvent::Scores {
            number: 1,
            standings: vec![standing(me, "Zoe", 950, 1), standing(ada, "Ada", 0, 2)],
        }));
        assert_eq!(
            view.take_lines(),
            [
                "  you answered C) blue; waiting for the others",
                "  Ada answered (2 of 2)",
                "  the answer: C) blue (1 of 2 right)",
                "  right! +950 points, your total is 950",
                "  scores:",
                "   1. Zoe          950  (+950)  ← you",
                "   2. Ada            0",
            ]
        );
        assert_eq!(view.open_question(), None);

        // Question 2: a wrong answer. The hint is not repeated.
        view.apply(log.at(10_000).event(question(2, 30_000)));
        assert_eq!(view.take_lines().len(), 3);
        view.apply(log.event(TriviaEvent::Revealed {
            number: 2,
            correct: 0,
            counts: vec![1, 1, 0, 0],
        }));
        view.apply(log.private(
            Some(me),
            TriviaEvent::Result {
                number: 2,
                choice: Some(1),
                correct: false,
                points: 0,
                total: 950,
            },
        ));
        view.apply(log.event(TriviaEvent::Scores {
            number: 2,
            standings: vec![standing(ada, "Ada", 1000, 1), standing(me, "Zoe", 950, 2)],
        }));
        assert_eq!(
            view.take_lines(),
            [
                "  the answer: A) red (1 of 2 right)",
                "  wrong: you chose B) green; +0 points, your total is 950",
                "  scores:",
                "   1. Ada         1000  (+1000)",
                "   2. Zoe          950  ← you",
            ]
        );
        // After the reveal, an answer goes to the closed question, for the
        // server to refuse with its reason.
        assert_eq!(view.answer(0), Ok((2, 0)));

        // Question 3: no answer.
        view.apply(log.event(question(3, 50_000)));
        view.apply(log.event(TriviaEvent::Revealed {
            number: 3,
            correct: 0,
            counts: vec![0, 0, 0, 0],
        }));
        view.apply(log.private(
            Some(me),
            TriviaEvent::Result {
                number: 3,
                choice: None,
                correct: false,
                points: 0,
                total: 950,
            },
        ));
        let lines = view.take_lines();
        assert_eq!(
            lines.last().unwrap(),
            "  no answer in time; +0 points, your total is 950"
        );
        view.apply(log.event(TriviaEvent::Finished {
            standings: vec![standing(ada, "Ada", 1000, 1), standing(me, "Zoe", 950, 2)],
        }));
        assert_eq!(
            view.take_lines(),
            [
                "",
                "Final standings:",
                "   1. Ada         1000",
                "   2. Zoe          950  ← you",
                "You finished 2nd of 2 with 950 points.",
                "* Ada (the host) can start another game",
            ]
        );
        assert_eq!(view.score(), 950);
    }

    #[test]
    fn a_returning_player_sees_the_open_question_not_the_history() {
        let (me, ada) = ids();
        let mut log = Log::new();
        let history = vec![
            log.event(joined(me, "Zoe", true)),
            log.event(joined(ada, "Ada", false)),
            log.event(TriviaEvent::Started {
                questions: 3,
                seconds: 20,
            }),
            log.at(1000).event(question(1, 21_000)),
            log.event(TriviaEvent::Answered {
                number: 1,
                session: me,
            }),
            log.event(TriviaEvent::Revealed {
                number: 1,
                correct: 0,
                counts: vec![1, 0, 0, 0],
            }),
            log.private(
                Some(me),
                TriviaEvent::Result {
                    number: 1,
                    choice: Some(0),
                    correct: true,
                    points: 800,
                    total: 800,
                },
            ),
            log.event(TriviaEvent::Scores {
                number: 1,
                standings: vec![standing(me, "Zoe", 800, 1), standing(ada, "Ada", 0, 2)],
            }),
            log.at(25_000).event(question(2, 45_000)),
            log.at(26_000).event(TriviaEvent::Answered {
                number: 2,
                session: me,
            }),
        ];
        // The player comes back at 32.5 s of the log's clock: everything
        // up to index 10 is history.
        let mut view = PlayerView::new(me, log.next, 32_500);
        for item in history {
            view.apply(item);
        }
        assert_eq!(
            view.take_lines(),
            [
                "* in the room: Zoe (you, host), Ada",
                "* your score: 800",
                "",
                "Question 2/3 (13 s left): Question 2?",
                "  A) red   B) green   C) blue   D) yellow",
                "  (type A–D or 1–4 and Enter to answer)",
                "  you answered this one; waiting for the others",
            ]
        );
        assert_eq!(view.open_question(), Some(2));
        // Live again: the next events print.
        view.apply(log.event(TriviaEvent::Answered {
            number: 2,
            session: ada,
        }));
        assert_eq!(view.take_lines(), ["  Ada answered (2 of 2)"]);
    }

    #[test]
    fn the_summary_waits_for_the_replay_or_comes_before_the_first_live_event() {
        let (me, ada) = ids();
        let mut log = Log::new();
        let first = log.event(joined(ada, "Ada", true));
        let second = log.event(joined(me, "Zoe", false));
        // Index 2 was private to somebody else, so this player never sees
        // it; the summary comes before index 3.
        log.private(Some(ada), question(9, 0));
        let live = log.event(TriviaEvent::Renamed {
            session: ada,
            name: "Adeline".into(),
        });
        let mut view = PlayerView::new(me, 3, 0);
        view.apply(first);
        view.apply(second);
        assert!(!view.is_caught_up());
        assert!(view.take_lines().is_empty());
        view.apply(live);
        assert_eq!(
            view.take_lines(),
            [
                "* in the room: Ada (host), Zoe (you)",
                "* waiting for Ada (the host) to start the game",
                "* Ada is now Adeline",
            ]
        );
        // An empty log has nothing to replay.
        let mut view = PlayerView::new(me, 0, 0);
        assert_eq!(
            view.take_lines(),
            [
                "* nobody is in the room yet",
                "* waiting for the host to start the game"
            ]
        );
    }

    #[test]
    fn the_host_is_told_to_start_and_ties_are_said() {
        let (me, ada) = ids();
        let mut log = Log::new();
        let mut view = PlayerView::new(me, 1, 0);
        view.apply(log.event(joined(me, "Zoe", true)));
        assert_eq!(
            view.take_lines(),
            [
                "* in the room: Zoe (you, host)",
                "* you are the host: type `start` to start the game when everyone is in",
            ]
        );
        view.apply(log.event(joined(ada, "Ada", false)));
        view.apply(log.event(TriviaEvent::Finished {
            standings: vec![standing(me, "Zoe", 700, 1), standing(ada, "Ada", 700, 1)],
        }));
        let lines = view.take_lines();
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "You finished tied for 1st of 2 with 700 points.",
                "* type `start` to play again"
            ]
        );
        view.apply(log.event(TriviaEvent::Finished {
            standings: vec![standing(me, "Zoe", 900, 1), standing(ada, "Ada", 700, 2)],
        }));
        assert!(view
            .take_lines()
            .contains(&"You won with 900 points!".to_owned()));
    }

    #[test]
    fn a_new_epoch_asks_to_join_again() {
        let (me, _) = ids();
        let mut view = PlayerView::new(me, 1, 0);
        view.apply(StreamItem::Resync(Resync {
            cause: ResyncCause::Dropped,
            epoch: Epoch::new_random(),
            oldest: 5,
            head: 5,
            reason: "events 0–4 are gone".into(),
        }));
        assert!(!view.take_restart());
        view.take_lines();
        view.apply(StreamItem::Resync(Resync {
            cause: ResyncCause::EpochChanged,
            epoch: Epoch::new_random(),
            oldest: 0,
            head: 0,
            reason: "the server restarted".into(),
        }));
        assert_eq!(
            view.take_lines(),
            ["* the room restarted; everyone joins it again"]
        );
        assert!(view.take_restart());
        assert!(!view.take_restart());
    }
}
