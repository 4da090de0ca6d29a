//! The game's rules, played in-process on the paused clock.

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
    rounds: usize,
}

impl Room {
    /// The app as a server process builds it at start.
    fn app(rounds: usize) -> TriviaApp {
        let questions = (0..5).map(|i| question(&format!("Q{i}"), i % 4)).collect();
        TriviaApp::new(
            questions,
            TriviaConfig {
                rounds,
                seconds: SECONDS,
                pause: PAUSE,
            },
        )
    }

    fn new(rounds: usize) -> Room {
        Room {
            room: TestRoom::new(Room::app(rounds)),
            rounds,
        }
    }

    /// A room that saves its state with every call, as with `--data`.
    fn durable(rounds: usize) -> Room {
        Room {
            room: TestRoom::durable(Room::app(rounds)),
            rounds,
        }
    }

    /// The room killed, down for `downtime`, and started again with a new
    /// app value from its store.
    fn restart_after(self, downtime: Duration) -> Room {
        let rounds = self.rounds;
        Room {
            room: self.room.restart_after(Room::app(rounds), downtime),
            rounds,
        }
    }

    /// Now, on the log clock.
    fn now(&self) -> Duration {
        self.room.elapsed()
    }

    /// The log time of the last event of kind `kind`.
    fn time_of_last(&self, kind: &str) -> Option<u64> {
        use rex::RexEvent as _;
        self.room
            .log()
            .into_iter()
            .rev()
            .find(|e| e.event.kind() == kind)
            .map(|e| e.time)
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

// Restarts: the room as `--data` keeps it, killed and started again.

#[tokio::test(start_paused = true)]
async fn a_question_open_at_a_restart_keeps_its_answers_and_closes_at_its_time() {
    let mut room = Room::durable(2);
    let alice = room.join("Alice");
    let bob = room.join("Bob");
    room.start(alice).await;
    let closes = room.room.app().due_at().unwrap();
    assert_eq!(closes, room.now() + Duration::from_secs(u64::from(SECONDS)));
    // Alice answers right after 2 s (900 points, once revealed); 7 s are
    // left when the room dies, and it is down for 5 s.
    room.wait(secs(2.0)).await;
    room.answer(alice, 1, 0).unwrap();
    room.wait(secs(1.0)).await;
    let (epoch, head) = (room.room.epoch(), room.room.head());
    let mut room = room.restart_after(secs(5.0));
    assert_eq!((room.room.epoch(), room.room.head()), (epoch, head));
    assert_eq!(room.phase(), Phase::Asking { number: 1 });
    assert_eq!(room.room.app().due_at(), Some(closes), "the same deadline");
    assert_eq!(
        room.answer(alice, 1, 2).unwrap_err(),
        "you already answered question 1; the first answer counts"
    );
    // 2 s are left: the question is still open 1.9 s on, closed at 2 s.
    room.wait(secs(1.9)).await;
    assert_eq!(room.phase(), Phase::Asking { number: 1 });
    room.wait(secs(0.1)).await;
    assert_eq!(room.phase(), Phase::Revealed { number: 1 });
    assert_eq!(room.time_of_last("revealed"), Some(millis(closes)));
    assert_eq!(room.results(alice), [(1, 900, 900)]);
    assert_eq!(room.results(bob), [(1, 0, 0)]);
    // The game goes on: question 2 after the pause.
    room.wait(PAUSE).await;
    assert_eq!(room.phase(), Phase::Asking { number: 2 });
}

#[tokio::test(start_paused = true)]
async fn an_answer_after_a_restart_counts_the_downtime_against_the_player() {
    let mut room = Room::durable(1);
    let alice = room.join("Alice");
    let _bob = room.join("Bob");
    room.start(alice).await;
    room.wait(secs(1.0)).await;
    // Down 4 s: Alice answers right 5 s after the question opened.
    let mut room = room.restart_after(secs(4.0));
    room.answer(alice, 1, 0).unwrap();
    room.wait(secs(f64::from(SECONDS))).await;
    assert_eq!(room.results(alice), [(1, 750, 750)]);
    assert_eq!(room.score(alice), 750);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_passed_while_the_room_was_down_closes_the_question_at_once() {
    let mut room = Room::durable(2);
    let alice = room.join("Alice");
    let bob = room.join("Bob");
    room.start(alice).await;
    room.answer(bob, 1, 0).unwrap();
    let mut room = room.restart_after(secs(60.0));
    // An answer that arrives before the due work runs is refused by the
    // clock, not counted.
    assert_eq!(
        room.answer(alice, 1, 0).unwrap_err(),
        "question 1 is closed; answers had to arrive within 10 seconds"
    );
    room.wait(Duration::ZERO).await;
    assert_eq!(room.phase(), Phase::Revealed { number: 1 });
    assert_eq!(room.results(bob), [(1, 1000, 1000)]);
    assert_eq!(room.results(alice), [(1, 0, 0)]);
    assert_eq!(room.time_of_last("revealed"), Some(millis(room.now())));
}

#[tokio::test(start_paused = true)]
async fn the_pauses_before_and_between_questions_survive_a_restart() {
    let mut room = Room::durable(2);
    let alice = room.join("Alice");
    room.send(alice, TriviaMsg::Start).unwrap();
    let first_at = room.room.app().due_at().unwrap();
    // Down for half the start's pause: question 1 at its time.
    let mut room = room.restart_after(PAUSE / 2);
    assert_eq!(room.phase(), Phase::Starting);
    room.wait(PAUSE / 2 - secs(0.1)).await;
    assert_eq!(room.phase(), Phase::Starting);
    room.wait(secs(0.1)).await;
    assert_eq!(room.phase(), Phase::Asking { number: 1 });
    assert_eq!(room.time_of_last("question"), Some(millis(first_at)));
    // Alone, Alice's answer closes it; the room dies during the reveal's
    // pause and question 2 comes when it was due.
    room.answer(alice, 1, 0).unwrap();
    let second_at = room.room.app().due_at().unwrap();
    let mut room = room.restart_after(secs(0.5));
    assert_eq!(room.phase(), Phase::Revealed { number: 1 });
    room.wait(PAUSE - secs(0.5)).await;
    assert_eq!(room.phase(), Phase::Asking { number: 2 });
    assert_eq!(room.time_of_last("question"), Some(millis(second_at)));
    // And after the last reveal, the end; a restart in the lobby-like
    // finished state arms nothing.
    room.answer(alice, 2, 1).unwrap();
    let mut room = room.restart_after(PAUSE * 3);
    room.wait(Duration::ZERO).await;
    assert_eq!(room.phase(), Phase::Finished);
    assert_eq!(room.room.app().due_at(), None);
    assert_eq!(room.score(alice), 2000);
    let mut room = room.restart_after(secs(1.0));
    assert!(room.room.advance(secs(60.0)).await.is_empty());
    // A new game starts from the restored room, with the next questions.
    room.start(alice).await;
    let texts: Vec<String> = room
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            TriviaEvent::Question { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["Q0", "Q1", "Q2"]);
}

#[tokio::test(start_paused = true)]
async fn a_shuffled_room_goes_on_through_the_same_order_after_a_restart() {
    let questions: Vec<Question> = (0..6).map(|i| question(&format!("Q{i}"), 0)).collect();
    let config = TriviaConfig {
        rounds: 2,
        seconds: SECONDS,
        pause: PAUSE,
    };
    let app = || TriviaApp::new(questions.clone(), config.clone()).shuffled();
    let mut room = TestRoom::durable(app());
    let alice = room.join("Alice").unwrap();
    let mut asked = Vec::new();
    for game in 0..3 {
        room.send(alice, TriviaMsg::Start).unwrap();
        for number in 1..=2 {
            let opened = room.advance(PAUSE).await;
            let text = opened.iter().find_map(|e| match &e.event {
                TriviaEvent::Question { text, .. } => Some(text.clone()),
                _ => None,
            });
            asked.push(text.unwrap_or_else(|| panic!("game {game}: no question {number}")));
            room.send(alice, TriviaMsg::Answer { number, choice: 0 })
                .unwrap();
        }
        room.advance(PAUSE).await;
        assert_eq!(room.app().phase(), Phase::Finished);
        // Each game's room is a new process with the set in file order.
        room = room.restart_after(app(), secs(60.0));
    }
    let mut distinct = asked.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        6,
        "three games of two ask the whole set: {asked:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hosted_room_closes_ten_minutes_after_the_final_standings_and_never_mid_game() {
    let grace = Duration::from_secs(600);
    let mut room = Room {
        room: TestRoom::new(Room::app(2).closing_after_games(grace)),
        rounds: 2,
    };
    let alice = room.join("Alice");
    assert_eq!(
        room.room.closes_in(),
        None,
        "a room in its lobby stays open"
    );
    room.start(alice).await;
    // The longest game: the first pause, then two questions of 10 s and
    // their pauses of 2 s; the close is put off past its end.
    let longest = PAUSE + 2 * (Duration::from_secs(SECONDS.into()) + PAUSE);
    assert_eq!(room.room.closes_in(), Some(longest + grace - PAUSE));
    room.wait(longest).await;
    assert_eq!(room.phase(), Phase::Finished);
    let finished = Duration::from_millis(room.time_of_last("finished").unwrap());
    let since = room.now() - finished;
    assert_eq!(room.room.closes_in(), Some(grace - since));

    // Another game before the close: the close waits for its end again.
    room.wait(Duration::from_secs(60)).await;
    room.start(alice).await;
    assert_eq!(room.room.closes_in(), Some(longest + grace - PAUSE));
}

#[tokio::test(start_paused = true)]
async fn a_room_of_a_single_room_server_never_asks_to_close() {
    let mut room = Room::new(1);
    let alice = room.join("Alice");
    room.start(alice).await;
    room.wait(Duration::from_secs(60)).await;
    assert_eq!(room.phase(), Phase::Finished);
    assert_eq!(room.room.closes_in(), None);
}
