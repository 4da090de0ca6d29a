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
//! Every step the game takes by itself (the first question after the
//! start, a question's deadline, the next question after a reveal) is due
//! at a time kept in the game's state as log time ([`Context::elapsed`]),
//! and one piece of the app's scheduled work ([`Context::after`]) waits for
//! it. An answer is also checked against the clock, so one that arrives
//! after the deadline but before the timer has run is still refused. The
//! log clock is tokio's, so tests drive it with `tokio::time::pause()`.
//!
//! The game is [`Durable`]: with a data directory, a restarted room is the
//! game it was (players, scores, the open question and its answers), and
//! the step that was due is due at the same log time, which runs on while
//! the server is down: a question with 12 s left when the room died has
//! 12 s less the downtime left when it is back, or closes at once.

use std::collections::HashMap;
use std::time::Duration;

use rex::{Context, Durable, Reject, RexApp, Scheduled, SessionId};
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for the host to start.
    #[default]
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

#[derive(Debug, Serialize, Deserialize)]
struct Player {
    session: SessionId,
    name: String,
    score: u32,
}

/// The open question.
#[derive(Debug, Serialize, Deserialize)]
struct Round {
    number: u32,
    question: Question,
    /// When it opened, as log time in milliseconds.
    opened_ms: u64,
    /// How long it is open, in milliseconds: kept with the question, so a
    /// room restarted with another `--seconds` still closes it on time.
    limit_ms: u64,
    /// Each answer: the choice, and how many milliseconds after the
    /// opening it arrived.
    answers: HashMap<SessionId, (u32, u64)>,
}

/// What a trivia room is, as [`Durable`] saves it: the players and their
/// scores, the game in progress and when its next step is due. Not the
/// question set or the settings, which the app is built with at start.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TriviaState {
    /// In join order, which also breaks ties on the scoreboard.
    players: Vec<Player>,
    host: Option<SessionId>,
    phase: Phase,
    round: Option<Round>,
    /// The questions of the running game, taken from the set: kept, so a
    /// game goes on with the same questions after a restart.
    playlist: Vec<Question>,
    /// Where the next game takes its questions from in the set, so a
    /// second game in one evening asks new ones.
    next_question: usize,
    /// Counts games, so a timer of an earlier game does nothing.
    game: u64,
    /// The order a [shuffled](TriviaApp::shuffled) room asks the set in,
    /// as the seed of its shuffle, chosen at the first game: kept, so a
    /// restarted room goes on through the same order and a later game
    /// does not repeat questions.
    #[serde(default)]
    order_seed: Option<u64>,
    /// When the game moves on by itself (the first question, the open
    /// question's deadline, the next question or the end), as log time in
    /// milliseconds; `None` in the lobby and after the end.
    due_at_ms: Option<u64>,
}

/// What [`TriviaApp::keeping`] holds: anything, for its `Drop`.
struct Keepsake {
    _held: Box<dyn Send>,
}

impl std::fmt::Debug for Keepsake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keepsake")
    }
}

/// The trivia room: players, scores, and the game in progress.
#[derive(Debug)]
pub struct TriviaApp {
    questions: Vec<Question>,
    config: TriviaConfig,
    /// Ask the set in a random order (`state.order_seed`).
    shuffle: bool,
    /// On a host of rooms: close the room this long after a game's final
    /// standings ([`closing_after_games`](TriviaApp::closing_after_games)).
    close_after: Option<Duration>,
    /// Dropped with the app ([`keeping`](TriviaApp::keeping)).
    keepsake: Option<Keepsake>,
    /// Everything that makes this room this game; saved with every commit.
    state: TriviaState,
    /// The scheduled work waiting for `state.due_at_ms`: of this process,
    /// so not saved; [`Durable::restore`] arms a new one.
    timer: Option<Scheduled>,
}

/// The log's clock, in the milliseconds events' `time` counts.
fn now_ms<A: RexApp>(cx: &Context<'_, A>) -> u64 {
    u64::try_from(cx.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl TriviaApp {
    /// A room that will ask `questions` in this order (see
    /// [`shuffled`](TriviaApp::shuffled)). `questions` must not be empty.
    pub fn new(questions: Vec<Question>, config: TriviaConfig) -> TriviaApp {
        TriviaApp {
            questions,
            config,
            shuffle: false,
            close_after: None,
            keepsake: None,
            state: TriviaState::default(),
            timer: None,
        }
    }

    /// Asks the set in a random order, the same for every game of the
    /// room, across restarts too (the order's seed is part of the saved
    /// state): games do not repeat a question until the set runs out.
    pub fn shuffled(mut self) -> TriviaApp {
        self.shuffle = true;
        self
    }

    /// Closes the room `grace` after each game's final standings
    /// ([`Context::close_room`]), so the screens show them a while and a
    /// hosted room does not outlive its evening. Starting another game
    /// first puts the close off until `grace` after that game's longest
    /// possible end, so a game is never cut short. Only a host of rooms
    /// ([`rex::Host`]) closes rooms; a server's one room stays open.
    pub fn closing_after_games(mut self, grace: Duration) -> TriviaApp {
        self.close_after = Some(grace);
        self
    }

    /// Keeps `keepsake` as long as this app lives and drops it with the
    /// app, when its room stops: how the terminal of a host of rooms
    /// hears that a room closed (a `Drop` that prints a line).
    pub fn keeping(mut self, keepsake: impl Send + 'static) -> TriviaApp {
        self.keepsake = Some(Keepsake {
            _held: Box::new(keepsake),
        });
        self
    }

    /// Asks for the room to close `grace` after `from_now` has passed, if
    /// it closes after its games.
    fn close_later(&self, cx: &mut Context<'_, Self>, from_now: Duration) {
        if let Some(grace) = self.close_after {
            cx.close_room(from_now.saturating_add(grace));
        }
    }

    /// The longest a game of `rounds` questions can run from its start:
    /// the pause before the first question, then each question open for
    /// its time and shown for the pause.
    fn longest_game(&self, rounds: usize) -> Duration {
        let per_question = Duration::from_secs(u64::from(self.config.seconds)) + self.config.pause;
        self.config
            .pause
            .saturating_add(per_question.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX)))
    }

    /// The order the set is asked in, as indexes into `questions`.
    fn order(&mut self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.questions.len()).collect();
        if self.shuffle {
            let seed = *self
                .state
                .order_seed
                .get_or_insert_with(|| fastrand::u64(..));
            fastrand::Rng::with_seed(seed).shuffle(&mut order);
        }
        order
    }

    /// Where the game is.
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// The host: the first session that joined.
    pub fn host(&self) -> Option<SessionId> {
        self.state.host
    }

    /// A player's score in the current (or last) game.
    pub fn score(&self, session: SessionId) -> Option<u32> {
        self.player(session).map(|p| p.score)
    }

    /// A player's display name.
    pub fn name_of(&self, session: SessionId) -> Option<&str> {
        self.player(session).map(|p| p.name.as_str())
    }

    /// When the game next moves on by itself (the open question's
    /// deadline, the next question), as log time; `None` if it waits for
    /// the host.
    pub fn due_at(&self) -> Option<Duration> {
        self.state.due_at_ms.map(Duration::from_millis)
    }

    /// Every player, best first; equal scores share a rank and keep join
    /// order.
    pub fn standings(&self) -> Vec<Standing> {
        let mut order: Vec<&Player> = self.state.players.iter().collect();
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
        self.state.players.iter().find(|p| p.session == session)
    }

    /// Starts a game: scores back to 0, the next questions of the set,
    /// the first one after the pause. The host's `start` message calls
    /// this; the TV can call it through an `AppHandle`
    /// (`handle.run(|app, cx| app.start_game(cx))`).
    pub fn start_game(&mut self, cx: &mut Context<'_, Self>) -> Result<(), Reject> {
        match self.state.phase {
            Phase::Lobby | Phase::Finished => {}
            Phase::Starting => return Err(Reject::new("the game is already starting")),
            Phase::Asking { number } | Phase::Revealed { number } => {
                return Err(Reject::new(format!(
                    "the game is already running (question {number} of {})",
                    self.state.playlist.len()
                )))
            }
        }
        if self.questions.is_empty() {
            return Err(Reject::new("this room has no questions to ask"));
        }
        let order = self.order();
        let state = &mut self.state;
        let rounds = self.config.rounds.clamp(1, order.len());
        // A room restarted with a smaller set may hold a place past its end.
        let first = state.next_question % order.len();
        state.playlist = (0..rounds)
            .map(|i| self.questions[order[(first + i) % order.len()]].clone())
            .collect();
        state.next_question = (first + rounds) % order.len();
        for player in &mut state.players {
            player.score = 0;
        }
        state.game += 1;
        state.phase = Phase::Starting;
        cx.emit(TriviaEvent::Started {
            questions: rounds as u32,
            seconds: self.config.seconds,
        });
        let at = now_ms(cx).saturating_add(millis(self.config.pause));
        self.set_due(cx, Some(at));
        self.close_later(cx, self.longest_game(rounds));
        Ok(())
    }

    /// Sets when the game next moves on by itself, and arms the timer.
    fn set_due(&mut self, cx: &mut Context<'_, Self>, at_ms: Option<u64>) {
        self.state.due_at_ms = at_ms;
        self.arm(cx);
    }

    /// Replaces the timer with one for `state.due_at_ms`: at once if that
    /// time has passed (a restart after a long downtime). The timer does
    /// nothing if the game has moved on meanwhile.
    fn arm(&mut self, cx: &mut Context<'_, Self>) {
        if let Some(timer) = self.timer.take() {
            timer.cancel();
        }
        let Some(at) = self.state.due_at_ms else {
            return;
        };
        let (game, phase) = (self.state.game, self.state.phase);
        let wait = Duration::from_millis(at.saturating_sub(now_ms(cx)));
        self.timer = Some(cx.after(wait, move |app, cx| {
            if app.state.game == game && app.state.phase == phase {
                app.timer = None;
                app.move_on(cx);
            }
        }));
    }

    /// The step that was due: the first question, the reveal, the next
    /// question or the end.
    fn move_on(&mut self, cx: &mut Context<'_, Self>) {
        self.state.due_at_ms = None;
        match self.state.phase {
            Phase::Starting => self.ask(cx, 1),
            Phase::Asking { .. } => self.reveal(cx),
            Phase::Revealed { number } if (number as usize) < self.state.playlist.len() => {
                self.ask(cx, number + 1);
            }
            Phase::Revealed { .. } => {
                self.state.phase = Phase::Finished;
                let standings = self.standings();
                cx.emit(TriviaEvent::Finished { standings });
                self.close_later(cx, Duration::ZERO);
            }
            Phase::Lobby | Phase::Finished => {}
        }
    }

    /// Opens question `number` (from 1).
    fn ask(&mut self, cx: &mut Context<'_, Self>, number: u32) {
        let at = (number as usize).checked_sub(1);
        let Some(question) = at.and_then(|at| self.state.playlist.get(at)).cloned() else {
            return;
        };
        let limit_ms = u64::from(self.config.seconds) * 1000;
        let opened_ms = now_ms(cx);
        let closes_at_ms = opened_ms.saturating_add(limit_ms);
        self.state.phase = Phase::Asking { number };
        cx.emit(TriviaEvent::Question {
            number,
            total: self.state.playlist.len() as u32,
            text: question.text.clone(),
            choices: question.choices.clone(),
            seconds: self.config.seconds,
            closes_at_ms,
        });
        self.state.round = Some(Round {
            number,
            question,
            opened_ms,
            limit_ms,
            answers: HashMap::new(),
        });
        self.set_due(cx, Some(closes_at_ms));
    }

    /// Closes the open question: the answer for all, a result for each
    /// player, the scoreboard; then the next question after the pause.
    fn reveal(&mut self, cx: &mut Context<'_, Self>) {
        let Some(round) = self.state.round.take() else {
            return;
        };
        let number = round.number;
        let correct = round.question.answer;
        let mut counts = vec![0u32; round.question.choices.len()];
        for (choice, _) in round.answers.values() {
            if let Some(n) = counts.get_mut(*choice as usize) {
                *n += 1;
            }
        }
        self.state.phase = Phase::Revealed { number };
        cx.emit(TriviaEvent::Revealed {
            number,
            correct,
            counts,
        });
        let limit = Duration::from_millis(round.limit_ms);
        let mut results = Vec::with_capacity(self.state.players.len());
        for player in &mut self.state.players {
            let answer = round.answers.get(&player.session).copied();
            let right = answer.is_some_and(|(choice, _)| choice == correct);
            let points = match answer {
                Some((_, after_ms)) if right => points_for(Duration::from_millis(after_ms), limit),
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
        let at = now_ms(cx).saturating_add(millis(self.config.pause));
        self.set_due(cx, Some(at));
    }
}

/// The room survives a restart: see [`TriviaState`] for what is kept.
impl Durable for TriviaApp {
    type State = TriviaState;

    fn state(&self) -> &TriviaState {
        &self.state
    }

    /// Puts the game back and re-arms the step that was due, for what is
    /// left of its time on the log clock (at once if it passed while the
    /// room was down).
    ///
    /// A room that closes after its games asks again (the host does not
    /// keep the close): the full grace after a finished game, and as at a
    /// start for a game in progress.
    fn restore(&mut self, cx: &mut Context<'_, Self>, state: TriviaState) {
        self.state = state;
        self.arm(cx);
        match self.state.phase {
            Phase::Lobby => {}
            Phase::Finished => self.close_later(cx, Duration::ZERO),
            _ => self.close_later(cx, self.longest_game(self.state.playlist.len())),
        }
    }
}

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
        let host = self.state.host.is_none();
        if host {
            self.state.host = Some(session);
        }
        // A player who joins mid-game starts at 0 and can answer the open
        // question; nothing else to do.
        self.state.players.push(Player {
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
        if self.state.host != Some(from) {
            let host = self
                .state
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
        let now = now_ms(cx);
        let open = match self.state.phase {
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
        let Some(round) = self.state.round.as_mut() else {
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
        let elapsed_ms = now.saturating_sub(round.opened_ms);
        if elapsed_ms >= round.limit_ms {
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
        round.answers.insert(from, (choice, elapsed_ms));
        let everyone = round.answers.len() >= self.state.players.len();
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
        let Some(player) = self.state.players.iter_mut().find(|p| p.session == from) else {
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
mod tests;
