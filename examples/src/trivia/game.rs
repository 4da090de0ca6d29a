//! The trivia game: the [`TriviaApp`] the server runs.
//!
//! Lobby → the host starts → for each question: `question` (open for
//! [`TriviaConfig::seconds`]) → `answered` as players answer → `revealed`
//! when the deadline passes or everyone has answered, with a private
//! `result` for each player and the `scores` → after
//! [`TriviaConfig::pause`], the next question → `finished` with the final
//! standings. The host can then start another game with the next questions
//! of the set.
//!
//! The deadline is the app's own scheduled work ([`Context::after`]); an
//! answer is also checked against the clock, so one that arrives after the
//! deadline but before the timer has run is still refused. The game's clock
//! is tokio's, so tests drive it with `tokio::time::pause()`.

use std::collections::HashMap;
use std::time::Duration;

use rex::{Context, Reject, RexApp, Scheduled, SessionId};
use tokio::time::Instant;

use super::protocol::{Standing, TriviaEvent, TriviaMsg, TriviaMsgHandler};
use super::questions::Question;

/// The longest display name, in characters; longer join names are cut.
pub const MAX_NAME_CHARS: usize = 32;
/// Points for a correct answer given at the last moment.
pub const MIN_POINTS: u32 = 500;
/// Points for a correct answer given at once.
pub const MAX_POINTS: u32 = 1000;

/// How a game is played.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriviaConfig {
    /// Questions per game (fewer if the set is smaller).
    pub rounds: usize,
    /// Seconds to answer each question.
    pub seconds: u32,
    /// How long the room looks at a reveal and its scoreboard before the
    /// next question (and at the start before the first one).
    pub pause: Duration,
}

impl Default for TriviaConfig {
    fn default() -> Self {
        TriviaConfig {
            rounds: 10,
            seconds: 20,
            pause: Duration::from_secs(6),
        }
    }
}

/// The points a correct answer earns: [`MAX_POINTS`] at once, falling
/// linearly to [`MIN_POINTS`] at the deadline, so faster scores more.
pub fn points_for(elapsed: Duration, limit: Duration) -> u32 {
    let limit_ms = limit.as_millis().max(1);
    let left_ms = limit_ms.saturating_sub(elapsed.as_millis());
    let bonus = u128::from(MAX_POINTS - MIN_POINTS) * left_ms / limit_ms;
    // `bonus` is at most MAX_POINTS - MIN_POINTS, so it fits.
    MIN_POINTS + u32::try_from(bonus).unwrap_or(0)
}

/// Where the game is, as [`TriviaApp::phase`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the host to start.
    Lobby,
    /// The game started; the first question comes after the pause.
    Starting,
    /// Question `number` is open for answers.
    Asking {
        /// The open question.
        number: u32,
    },
    /// Question `number` was revealed; the next one (or the end) comes
    /// after the pause.
    Revealed {
        /// The question last revealed.
        number: u32,
    },
    /// The game is over; the host may start another.
    Finished,
}

#[derive(Debug)]
struct Player {
    session: SessionId,
    name: String,
    score: u32,
}

/// The open question.
#[derive(Debug)]
struct Round {
    number: u32,
    question: Question,
    opened: Instant,
    limit: Duration,
    /// Each answer, with how long after the opening it arrived.
    answers: HashMap<SessionId, (u32, Duration)>,
    deadline: Scheduled,
}

/// The trivia room: players, scores, and the game in progress.
#[derive(Debug)]
pub struct TriviaApp {
    questions: Vec<Question>,
    config: TriviaConfig,
    /// In join order, which also breaks ties on the scoreboard.
    players: Vec<Player>,
    host: Option<SessionId>,
    phase: Phase,
    round: Option<Round>,
    /// The questions of the running game, taken from `questions`.
    playlist: Vec<Question>,
    /// Where the next game takes its questions from, so a second game in
    /// one evening asks new ones.
    next_question: usize,
    /// Counts games, so a timer of an earlier game does nothing.
    game: u64,
}

impl TriviaApp {
    /// A room that will ask `questions` (in this order; shuffle them first
    /// for variety). `questions` must not be empty.
    pub fn new(questions: Vec<Question>, config: TriviaConfig) -> TriviaApp {
        TriviaApp {
            questions,
            config,
            players: Vec::new(),
            host: None,
            phase: Phase::Lobby,
            round: None,
            playlist: Vec::new(),
            next_question: 0,
            game: 0,
        }
    }

    /// Where the game is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The host: the first session that joined.
    pub fn host(&self) -> Option<SessionId> {
        self.host
    }

    /// A player's score in the current (or last) game.
    pub fn score(&self, session: SessionId) -> Option<u32> {
        self.player(session).map(|p| p.score)
    }

    /// A player's display name.
    pub fn name_of(&self, session: SessionId) -> Option<&str> {
        self.player(session).map(|p| p.name.as_str())
    }

    /// Every player, best first; equal scores share a rank and keep join
    /// order.
    pub fn standings(&self) -> Vec<Standing> {
        let mut order: Vec<&Player> = self.players.iter().collect();
        order.sort_by_key(|p| std::cmp::Reverse(p.score));
        order
            .iter()
            .map(|p| Standing {
                session: p.session,
                name: p.name.clone(),
                score: p.score,
                rank: 1 + order.iter().filter(|q| q.score > p.score).count() as u32,
            })
            .collect()
    }

    fn player(&self, session: SessionId) -> Option<&Player> {
        self.players.iter().find(|p| p.session == session)
    }

    /// Starts a game: scores back to 0, the next questions of the set,
    /// the first one after the pause. The host's `start` message calls
    /// this; the TV can call it through an `AppHandle`
    /// (`handle.run(|app, cx| app.start_game(cx))`).
    pub fn start_game(&mut self, cx: &mut Context<'_, Self>) -> Result<(), Reject> {
        match self.phase {
            Phase::Lobby | Phase::Finished => {}
            Phase::Starting => return Err(Reject::new("the game is already starting")),
            Phase::Asking { number } | Phase::Revealed { number } => {
                return Err(Reject::new(format!(
                    "the game is already running (question {number} of {})",
                    self.playlist.len()
                )))
            }
        }
        if self.questions.is_empty() {
            return Err(Reject::new("this room has no questions to ask"));
        }
        let rounds = self.config.rounds.clamp(1, self.questions.len());
        self.playlist = (0..rounds)
            .map(|i| self.questions[(self.next_question + i) % self.questions.len()].clone())
            .collect();
        self.next_question = (self.next_question + rounds) % self.questions.len();
        for player in &mut self.players {
            player.score = 0;
        }
        self.game += 1;
        self.phase = Phase::Starting;
        cx.emit(TriviaEvent::Started {
            questions: rounds as u32,
            seconds: self.config.seconds,
        });
        let game = self.game;
        cx.after(self.config.pause, move |app, cx| {
            if app.game == game && app.phase == Phase::Starting {
                app.ask(cx, 1);
            }
        });
        Ok(())
    }

    /// Opens question `number` (from 1).
    fn ask(&mut self, cx: &mut Context<'_, Self>, number: u32) {
        let Some(question) = self.playlist.get(number as usize - 1).cloned() else {
            return;
        };
        let limit = Duration::from_secs(u64::from(self.config.seconds));
        let game = self.game;
        let deadline = cx.after(limit, move |app, cx| {
            if app.game == game && app.phase == (Phase::Asking { number }) {
                app.reveal(cx);
            }
        });
        let closes_at_ms = cx.elapsed().as_millis() as u64 + limit.as_millis() as u64;
        self.phase = Phase::Asking { number };
        cx.emit(TriviaEvent::Question {
            number,
            total: self.playlist.len() as u32,
            text: question.text.clone(),
            choices: question.choices.clone(),
            seconds: self.config.seconds,
            closes_at_ms,
        });
        self.round = Some(Round {
            number,
            question,
            opened: Instant::now(),
            limit,
            answers: HashMap::new(),
            deadline,
        });
    }

    /// Closes the open question: the answer for all, a result for each
    /// player, the scoreboard; then the next question after the pause.
    fn reveal(&mut self, cx: &mut Context<'_, Self>) {
        let Some(round) = self.round.take() else {
            return;
        };
        round.deadline.cancel();
        let number = round.number;
        let correct = round.question.answer;
        let mut counts = vec![0u32; round.question.choices.len()];
        for (choice, _) in round.answers.values() {
            if let Some(n) = counts.get_mut(*choice as usize) {
                *n += 1;
            }
        }
        self.phase = Phase::Revealed { number };
        cx.emit(TriviaEvent::Revealed {
            number,
            correct,
            counts,
        });
        let mut results = Vec::with_capacity(self.players.len());
        for player in &mut self.players {
            let answer = round.answers.get(&player.session).copied();
            let right = answer.is_some_and(|(choice, _)| choice == correct);
            let points = match answer {
                Some((_, elapsed)) if right => points_for(elapsed, round.limit),
                _ => 0,
            };
            player.score += points;
            results.push((
                player.session,
                TriviaEvent::Result {
                    number,
                    choice: answer.map(|(choice, _)| choice),
                    correct: right,
                    points,
                    total: player.score,
                },
            ));
        }
        for (session, result) in results {
            cx.emit_to([session], result);
        }
        let standings = self.standings();
        cx.emit(TriviaEvent::Scores { number, standings });

        let game = self.game;
        cx.after(self.config.pause, move |app, cx| {
            if app.game != game || app.phase != (Phase::Revealed { number }) {
                return;
            }
            if (number as usize) < app.playlist.len() {
                app.ask(cx, number + 1);
            } else {
                app.phase = Phase::Finished;
                let standings = app.standings();
                cx.emit(TriviaEvent::Finished { standings });
            }
        });
    }
}

/// A name from a join or rename: trimmed, cut to [`MAX_NAME_CHARS`].
fn clean_name(name: &str) -> String {
    name.trim().chars().take(MAX_NAME_CHARS).collect()
}

impl RexApp for TriviaApp {
    type Protocol = TriviaMsg;

    fn join(
        &mut self,
        cx: &mut Context<'_, Self>,
        session: SessionId,
        name: Option<String>,
    ) -> Result<(), Reject> {
        let name = name
            .map(|n| clean_name(&n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("player-{}", &session.to_string()[..4]));
        let host = self.host.is_none();
        if host {
            self.host = Some(session);
        }
        // A player who joins mid-game starts at 0 and can answer the open
        // question; nothing else to do.
        self.players.push(Player {
            session,
            name: name.clone(),
            score: 0,
        });
        cx.emit(TriviaEvent::Joined {
            session,
            name,
            host,
        });
        Ok(())
    }
}

impl TriviaMsgHandler for TriviaApp {
    fn start(&mut self, cx: &mut Context<'_, Self>, from: SessionId) -> Result<(), Reject> {
        if self.host != Some(from) {
            let host = self
                .host
                .and_then(|h| self.name_of(h))
                .unwrap_or("the first player");
            return Err(Reject::new(format!(
                "only the host ({host}) can start the game"
            )));
        }
        self.start_game(cx)
    }

    fn answer(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        number: u32,
        choice: u32,
    ) -> Result<(), Reject> {
        let seconds = self.config.seconds;
        let open = match self.phase {
            Phase::Lobby => {
                return Err(Reject::new(
                    "the game is not running yet; wait for the host to start it",
                ))
            }
            Phase::Finished => {
                return Err(Reject::new(
                    "the game is over; wait for the host to start a new one",
                ))
            }
            Phase::Starting => {
                return Err(Reject::new(
                    "no question is open yet; the first one is coming",
                ))
            }
            Phase::Revealed { number: last } => {
                return Err(if number <= last {
                    Reject::new(format!(
                        "question {number} is closed; answers had to arrive within {seconds} seconds"
                    ))
                } else {
                    Reject::new(format!(
                        "question {number} is not open yet; wait for it to appear"
                    ))
                })
            }
            Phase::Asking { number: open } => open,
        };
        if self.player(from).is_none() {
            return Err(Reject::new("only players who joined this room can answer"));
        }
        let Some(round) = self.round.as_mut() else {
            return Err(Reject::new("no question is open"));
        };
        if number != open {
            return Err(if number < open {
                Reject::new(format!(
                    "question {number} is closed; the open question is {open}"
                ))
            } else {
                Reject::new(format!(
                    "question {number} is not open yet; the open question is {open}"
                ))
            });
        }
        let elapsed = round.opened.elapsed();
        if elapsed >= round.limit {
            return Err(Reject::new(format!(
                "question {number} is closed; answers had to arrive within {seconds} seconds"
            )));
        }
        if round.answers.contains_key(&from) {
            return Err(Reject::new(format!(
                "you already answered question {number}; the first answer counts"
            )));
        }
        let choices = round.question.choices.len() as u32;
        if choice >= choices {
            return Err(Reject::new(format!(
                "there is no choice {choice}; choose 0–{}",
                choices - 1
            )));
        }
        round.answers.insert(from, (choice, elapsed));
        let everyone = round.answers.len() >= self.players.len();
        cx.emit(TriviaEvent::Answered {
            number,
            session: from,
        });
        if everyone {
            self.reveal(cx);
        }
        Ok(())
    }

    fn rename(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        name: String,
    ) -> Result<(), Reject> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Reject::new("the name is empty; type a name first"));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Reject::new(format!(
                "the name is {chars} characters long; the limit is {MAX_NAME_CHARS}"
            )));
        }
        let Some(player) = self.players.iter_mut().find(|p| p.session == from) else {
            return Err(Reject::new("only players who joined this room can rename"));
        };
        player.name = name.to_owned();
        cx.emit(TriviaEvent::Renamed {
            session: from,
            name: name.to_owned(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rex::testing::TestRoom;

    fn question(text: &str, answer: u32) -> Question {
        Question {
            text: text.to_owned(),
            choices: ["a", "b", "c", "d"].map(String::from).to_vec(),
            answer,
        }
    }

    const SECONDS: u32 = 10;
    const PAUSE: Duration = Duration::from_secs(2);

    /// A room in-process (`rex::testing`): the server's own actor, timers
    /// and all, on the test's paused clock.
    struct Room {
        room: TestRoom<TriviaApp>,
    }

    impl Room {
        fn new(rounds: usize) -> Room {
            let questions = (0..5).map(|i| question(&format!("Q{i}"), i % 4)).collect();
            let app = TriviaApp::new(
                questions,
                TriviaConfig {
                    rounds,
                    seconds: SECONDS,
                    pause: PAUSE,
                },
            );
            Room {
                room: TestRoom::new(app),
            }
        }

        fn join(&mut self, name: &str) -> SessionId {
            self.room.join(name).unwrap()
        }

        /// Sends a message as `from`: `Err` with the app's reason.
        fn send(&mut self, from: SessionId, msg: TriviaMsg) -> Result<(), String> {
            self.room
                .send(from, msg)
                .map(drop)
                .map_err(|r| r.reason().to_owned())
        }

        fn answer(&mut self, from: SessionId, number: u32, choice: u32) -> Result<(), String> {
            self.send(from, TriviaMsg::Answer { number, choice })
        }

        fn phase(&self) -> Phase {
            self.room.app().phase()
        }

        fn score(&self, s: SessionId) -> u32 {
            self.room.app().score(s).unwrap()
        }

        /// Lets `d` pass on the room's clock; due timers run on the way.
        async fn wait(&mut self, d: Duration) {
            self.room.advance(d).await;
        }

        /// The private results in the log for `s`: (number, points, total).
        fn results(&self, s: SessionId) -> Vec<(u32, u32, u32)> {
            self.events()
                .into_iter()
                .filter_map(|(to, e)| match e {
                    TriviaEvent::Result {
                        number,
                        points,
                        total,
                        ..
                    } if to == Some(s) => Some((number, points, total)),
                    _ => None,
                })
                .collect()
        }

        /// The whole log: (the one session a private event is for, event).
        fn events(&self) -> Vec<(Option<SessionId>, TriviaEvent)> {
            self.room
                .log()
                .into_iter()
                .map(|e| {
                    let to = e.to.map(|to| {
                        assert_eq!(to.len(), 1, "trivia's private events are for one player");
                        to[0]
                    });
                    (to, e.event)
                })
                .collect()
        }

        /// Starts the game as the host and waits for question 1.
        async fn start(&mut self, host: SessionId) {
            self.send(host, TriviaMsg::Start).unwrap();
            assert_eq!(self.phase(), Phase::Starting);
            self.wait(PAUSE).await;
            assert_eq!(self.phase(), Phase::Asking { number: 1 });
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn faster_correct_answers_score_more() {
        let limit = Duration::from_secs(10);
        assert_eq!(points_for(Duration::ZERO, limit), MAX_POINTS);
        assert_eq!(points_for(limit, limit), MIN_POINTS);
        assert_eq!(points_for(secs(5.0), limit), 750);
        let mut last = u32::MAX;
        for ms in (0..=10_000).step_by(250) {
            let p = points_for(Duration::from_millis(ms), limit);
            assert!(p < last, "{ms} ms: {p}");
            last = p;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_host_starts_and_only_once() {
        let mut room = Room::new(2);
        let alice = room.join("Alice");
        let bob = room.join("Bob");
        assert_eq!(room.room.app().host(), Some(alice));
        assert_eq!(
            room.send(bob, TriviaMsg::Start).unwrap_err(),
            "only the host (Alice) can start the game"
        );
        assert_eq!(
            room.answer(alice, 1, 0).unwrap_err(),
            "the game is not running yet; wait for the host to start it"
        );
        assert_eq!(room.phase(), Phase::Lobby);
        room.start(alice).await;
        assert_eq!(
            room.send(alice, TriviaMsg::Start).unwrap_err(),
            "the game is already running (question 1 of 2)"
        );
        let joined: Vec<bool> = room
            .events()
            .iter()
            .filter_map(|(_, e)| match e {
                TriviaEvent::Joined { host, .. } => Some(*host),
                _ => None,
            })
            .collect();
        assert_eq!(joined, [true, false]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_closes_the_question_and_late_answers_are_refused() {
        let mut room = Room::new(2);
        let alice = room.join("Alice");
        let bob = room.join("Bob");
        room.start(alice).await;
        // Question 1's answer is 0. Alice answers right after 2 s; Bob does
        // not answer, so the question stays open until the deadline.
        room.wait(secs(2.0)).await;
        room.answer(alice, 1, 0).unwrap();
        room.wait(secs(7.9)).await;
        assert_eq!(room.phase(), Phase::Asking { number: 1 });
        room.wait(secs(0.2)).await;
        assert_eq!(room.phase(), Phase::Revealed { number: 1 });
        assert_eq!(
            room.answer(bob, 1, 0).unwrap_err(),
            "question 1 is closed; answers had to arrive within 10 seconds"
        );
        assert_eq!(room.results(alice), [(1, 900, 900)]);
        assert_eq!(room.results(bob), [(1, 0, 0)]);
        let revealed = room.events().into_iter().find_map(|(_, e)| match e {
            TriviaEvent::Revealed {
                number,
                correct,
                counts,
            } => Some((number, correct, counts)),
            _ => None,
        });
        assert_eq!(revealed, Some((1, 0, vec![1, 0, 0, 0])));

        // After the pause, question 2 (answer 1); an answer to question 1
        // now is refused as closed, one to question 3 as not open.
        room.wait(PAUSE).await;
        assert_eq!(room.phase(), Phase::Asking { number: 2 });
        assert_eq!(
            room.answer(bob, 1, 0).unwrap_err(),
            "question 1 is closed; the open question is 2"
        );
        assert_eq!(
            room.answer(bob, 3, 0).unwrap_err(),
            "question 3 is not open yet; the open question is 2"
        );
        // (Question 2 opened 0.1 s ago: the deadline of question 1 was
        // 0.1 s before the reveal checked above, plus the pause.)
        // Everyone answers: the question closes at once, not at the deadline.
        room.answer(bob, 2, 1).unwrap();
        room.answer(alice, 2, 3).unwrap();
        assert_eq!(room.phase(), Phase::Revealed { number: 2 });
        assert_eq!(room.results(bob), [(1, 0, 0), (2, 995, 995)]);
        // The last reveal is followed by the final standings.
        room.wait(PAUSE).await;
        assert_eq!(room.phase(), Phase::Finished);
        let finished = room.events().into_iter().find_map(|(_, e)| match e {
            TriviaEvent::Finished { standings } => Some(standings),
            _ => None,
        });
        let finished: Vec<(SessionId, u32, u32)> = finished
            .unwrap()
            .into_iter()
            .map(|s| (s.session, s.score, s.rank))
            .collect();
        assert_eq!(finished, [(bob, 995, 1), (alice, 900, 2)]);
        assert_eq!(
            room.answer(bob, 2, 1).unwrap_err(),
            "the game is over; wait for the host to start a new one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn double_answers_and_impossible_choices_are_refused() {
        let mut room = Room::new(1);
        let alice = room.join("Alice");
        let _bob = room.join("Bob");
        room.start(alice).await;
        assert_eq!(
            room.answer(alice, 1, 4).unwrap_err(),
            "there is no choice 4; choose 0–3"
        );
        room.answer(alice, 1, 2).unwrap();
        assert_eq!(
            room.answer(alice, 1, 0).unwrap_err(),
            "you already answered question 1; the first answer counts"
        );
        // The wrong first answer stands.
        room.wait(secs(f64::from(SECONDS))).await;
        assert_eq!(room.results(alice), [(1, 0, 0)]);
        let answered = room
            .events()
            .iter()
            .filter(|(_, e)| matches!(e, TriviaEvent::Answered { .. }))
            .count();
        assert_eq!(answered, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn faster_scores_more_and_the_scoreboard_is_sorted() {
        let mut room = Room::new(1);
        let slow = room.join("Slow");
        let fast = room.join("Fast");
        let wrong = room.join("Wrong");
        room.start(slow).await;
        room.answer(wrong, 1, 3).unwrap();
        room.wait(secs(1.0)).await;
        room.answer(fast, 1, 0).unwrap();
        room.wait(secs(5.0)).await;
        room.answer(slow, 1, 0).unwrap();
        assert_eq!(room.score(fast), 950);
        assert_eq!(room.score(slow), 700);
        assert_eq!(room.score(wrong), 0);
        let scores = room.events().into_iter().find_map(|(to, e)| match e {
            TriviaEvent::Scores { standings, .. } => {
                assert_eq!(to, None);
                Some(standings)
            }
            _ => None,
        });
        let order: Vec<_> = scores.unwrap().iter().map(|s| s.name.clone()).collect();
        assert_eq!(order, ["Fast", "Slow", "Wrong"]);
        // Results are private: one per player, each to that player only.
        let results: Vec<Option<SessionId>> = room
            .events()
            .into_iter()
            .filter(|(_, e)| matches!(e, TriviaEvent::Result { .. }))
            .map(|(to, _)| to)
            .collect();
        assert_eq!(results, [Some(slow), Some(fast), Some(wrong)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_player_who_joins_mid_game_can_play_and_a_returning_one_keeps_the_score() {
        let mut room = Room::new(3);
        let alice = room.join("Alice");
        room.start(alice).await;
        room.answer(alice, 1, 0).unwrap(); // alone: closes at once
        assert_eq!(room.score(alice), 1000);
        room.wait(PAUSE).await;
        // Carol joins during question 2 and answers it.
        let carol = room.join("Carol");
        room.wait(secs(1.0)).await;
        room.answer(carol, 2, 1).unwrap();
        // Alice's phone was away for question 2 (no answer); she comes
        // back with the same session for question 3, score intact.
        room.wait(secs(f64::from(SECONDS))).await;
        assert_eq!(room.results(carol), [(2, 950, 950)]);
        assert_eq!(room.score(alice), 1000);
        // Question 2 closed at its deadline 1 s ago; question 3 opens after
        // the pause, so Alice answers 1 s after it opened.
        room.wait(PAUSE).await;
        room.answer(alice, 3, 2).unwrap();
        room.answer(carol, 3, 0).unwrap();
        assert_eq!(
            room.results(alice),
            [(1, 1000, 1000), (2, 0, 1000), (3, 950, 1950)]
        );
        room.wait(PAUSE).await;
        assert_eq!(room.phase(), Phase::Finished);

        // A new game resets the scores and asks the next questions.
        room.start(alice).await;
        assert_eq!(room.score(alice), 0);
        let texts: Vec<String> = room
            .events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                TriviaEvent::Question { text, .. } => Some(text),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["Q0", "Q1", "Q2", "Q3"]);
    }

    #[tokio::test(start_paused = true)]
    async fn names_are_cleaned_and_renames_checked() {
        let mut room = Room::new(1);
        let long = "x".repeat(40);
        let a = room.join(&format!("  {long}  "));
        assert_eq!(
            room.room.app().name_of(a).map(str::len),
            Some(MAX_NAME_CHARS)
        );
        let b = room.join("   ");
        let name = room.room.app().name_of(b).map(String::from);
        assert!(name.unwrap().starts_with("player-"));
        assert_eq!(
            room.send(a, TriviaMsg::Rename { name: " ".into() })
                .unwrap_err(),
            "the name is empty; type a name first"
        );
        room.send(a, TriviaMsg::Rename { name: "Ann".into() })
            .unwrap();
        assert_eq!(
            room.send(b, TriviaMsg::Start).unwrap_err(),
            "only the host (Ann) can start the game"
        );
    }
}
