//! The terminal trivia player (`rex_examples::trivia::player`, the
//! `trivia-player` example) against a real server over TCP: lines typed
//! through a channel, what it prints read back and checked against what the
//! log told its session privately; a player who quits and comes back; and a
//! room that restarts under the player.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rex::{RetryPolicy, Server, StreamItem};
use rex_examples::trivia::bot::{self, Asked, TriviaClient};
use rex_examples::trivia::player;
use rex_examples::trivia::show::letter;
use rex_examples::trivia::{Question, Standing, TriviaApp, TriviaConfig, TriviaEvent};
use rex_tests::example::Lines;
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn questions() -> Vec<Question> {
    (0..6)
        .map(|i| Question {
            text: format!("Question {i}?"),
            choices: ["red", "green", "blue", "yellow"]
                .map(String::from)
                .to_vec(),
            answer: i % 4,
        })
        .collect()
}

async fn start(seconds: u32, pause: Duration) -> TestServer<TriviaApp> {
    let app = TriviaApp::new(
        questions(),
        TriviaConfig {
            rounds: 3,
            seconds,
            pause,
        },
    );
    TestServer::start(Server::builder(app).name("quiz")).await
}

const SHORT: Duration = Duration::from_millis(150);

async fn join(url: &str, name: &str) -> TriviaClient {
    TriviaClient::builder(url)
        .name(name)
        .retry(RetryPolicy {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
        })
        .connect()
        .await
        .unwrap()
}

/// A running player: its keyboard, and its screen as lines.
struct Terminal {
    keys: mpsc::UnboundedSender<String>,
    screen: Lines,
    task: JoinHandle<Result<(), rex::ClientError>>,
}

impl Terminal {
    fn start(client: TriviaClient) -> Terminal {
        let (keys, typed) = mpsc::unbounded_channel::<String>();
        let (print, screen) = mpsc::unbounded_channel();
        let lines = futures_util::stream::unfold(typed, |mut typed| async move {
            typed.recv().await.map(|line| (line, typed))
        });
        let task = tokio::spawn(async move {
            player::play(&client, lines, |line| {
                let _ = print.send(line);
            })
            .await
        });
        Terminal {
            keys,
            screen: Lines::new("the player", screen),
            task,
        }
    }

    fn type_line(&self, line: &str) {
        self.keys.send(line.to_owned()).unwrap();
    }

    async fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.screen.until(what, wanted).await
    }

    async fn until_line(&mut self, exact: &str) -> String {
        self.screen.until_line(exact).await
    }

    /// Waits for question `number` and returns its text.
    async fn question(&mut self, number: u32) -> String {
        let prefix = format!("Question {number}/3 (");
        let line = self
            .until(&format!("question {number}"), |l| l.starts_with(&prefix))
            .await;
        let (_, text) = line.split_once("): ").unwrap();
        text.to_owned()
    }

    /// Waits for this player's result line.
    async fn result(&mut self) -> String {
        self.until("a result", |l| l.contains(" points, your total is "))
            .await
    }

    /// Types `/quit` and waits for the player to return.
    async fn quit(mut self) -> Vec<String> {
        self.type_line("/quit");
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the player did not quit")
            .unwrap()
            .unwrap();
        self.screen.drain();
        self.screen.seen
    }
}

/// The line the player must print for its private `result` event.
fn expected_result_line(event: &TriviaEvent) -> String {
    let TriviaEvent::Result {
        choice,
        correct,
        points,
        total,
        ..
    } = event
    else {
        panic!("not a result: {event:?}");
    };
    let colors = ["red", "green", "blue", "yellow"];
    let what = match choice {
        _ if *correct => "right!".to_owned(),
        Some(c) => format!(
            "wrong: you chose {}) {};",
            letter(*c as usize),
            colors[*c as usize]
        ),
        None => "no answer in time;".to_owned(),
    };
    format!("  {what} +{points} points, your total is {total}")
}

/// The session's private results and the final standings, as its own
/// event stream says.
async fn private_results(client: TriviaClient) -> (Vec<TriviaEvent>, Vec<Standing>) {
    let mut events = client.events_from(0);
    let mut results = Vec::new();
    while let Some(item) = events.next().await {
        let StreamItem::Event(e) = item.unwrap() else {
            continue;
        };
        match e.event {
            TriviaEvent::Result { .. } => results.push(e.event),
            TriviaEvent::Finished { standings } => return (results, standings),
            _ => {}
        }
    }
    panic!("the stream ended before the game did");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_player_answers_by_typed_lines_and_prints_its_private_results() {
    // Seconds: long enough to answer on a slow machine; question 3 waits
    // for them. The pause after a reveal: long enough that the late answer
    // to question 2 reaches the room before question 3 opens.
    let server = start(8, Duration::from_secs(1)).await;
    let url = format!("http://{}", server.addr);
    let host = join(&url, "Ada").await;
    let zoe = join(&url, "Zoe").await;
    let truth = tokio::spawn(private_results(zoe.clone()));
    let key = bot::answer_key(&questions());

    let mut term = Terminal::start(zoe.clone());
    term.until_line("* in the room: Ada (host), Zoe (you)")
        .await;
    term.until_line("* waiting for Ada (the host) to start the game")
        .await;
    term.type_line("start");
    term.until_line("! only the host (Ada) can start the game")
        .await;
    term.type_line("b");
    term.until_line("! the game is not running yet; wait for the host to start it")
        .await;

    // The host is a bot that answers every question right at once.
    let host_bot = {
        let key = key.clone();
        let host = host.clone();
        tokio::spawn(async move {
            bot::play(host, &key, |q: &Asked<'_>| {
                Some((Duration::from_millis(10), q.correct.unwrap()))
            })
            .await
        })
    };
    host.start().await.unwrap();
    term.until_line("* the game starts: 3 questions, 8 s each")
        .await;

    // Question 1: right, typed as a lower-case letter.
    let text = term.question(1).await;
    term.until_line("  A) red   B) green   C) blue   D) yellow")
        .await;
    let right = key[&text];
    term.type_line("x");
    term.until_line("! there is no choice X; this question has A–D (or 1–4)")
        .await;
    term.type_line(&letter(right as usize).to_ascii_lowercase().to_string());
    let chosen = format!(
        "  you answered {}) {}; waiting for the others",
        letter(right as usize),
        ["red", "green", "blue", "yellow"][right as usize]
    );
    term.until_line(&chosen).await;
    let first = term.result().await;
    term.until_line("  scores:").await;

    // Question 2: wrong, typed as a number; then a second answer after the
    // reveal, which the room refuses with its reason.
    let text = term.question(2).await;
    let wrong = (key[&text] + 1) % 4;
    term.type_line(&(wrong + 1).to_string());
    let second = term.result().await;
    term.type_line("A");
    term.until_line("! question 2 is closed; answers had to arrive within 8 seconds")
        .await;

    // Question 3: no answer; it closes at its deadline.
    term.question(3).await;
    let third = term.result().await;
    term.until_line("Final standings:").await;
    let place = term.until("the place", |l| l.starts_with("You ")).await;
    term.until_line("* Ada (the host) can start another game")
        .await;

    let (results, standings) = tokio::time::timeout(Duration::from_secs(10), truth)
        .await
        .unwrap()
        .unwrap();
    let printed = [first, second, third];
    assert_eq!(results.len(), 3, "{results:?}");
    for (line, event) in printed.iter().zip(&results) {
        assert_eq!(line, &expected_result_line(event));
    }
    // What was typed is what the room counted.
    let outcomes: Vec<(Option<u32>, bool)> = results
        .iter()
        .map(|r| match r {
            TriviaEvent::Result {
                choice, correct, ..
            } => (*choice, *correct),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        outcomes,
        [(Some(right), true), (Some(wrong), false), (None, false)]
    );
    let mine = standings
        .iter()
        .find(|s| s.session == zoe.session().unwrap())
        .unwrap();
    let expected_place = if mine.rank == 1 {
        format!("You won with {} points!", mine.score)
    } else {
        format!(
            "You finished {} of 2 with {} points.",
            rex_examples::trivia::show::ordinal(mine.rank),
            mine.score
        )
    };
    assert_eq!(place, expected_place);
    // The host answered all three right, at once: Zoe is second.
    assert_eq!(mine.rank, 2, "{standings:?}");

    let seen = term.quit().await;
    assert!(
        !seen.iter().any(|l| l.starts_with("! could not send")),
        "{seen:#?}"
    );
    host_bot.await.unwrap().unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_who_comes_back_sees_the_open_question_and_keeps_the_score() {
    let server = start(60, SHORT).await;
    let url = format!("http://{}", server.addr);
    let host = join(&url, "Ada").await;
    let zoe = join(&url, "Zoe").await;
    let key = bot::answer_key(&questions());
    let mut term = Terminal::start(zoe.clone());
    term.until_line("* waiting for Ada (the host) to start the game")
        .await;
    host.start().await.unwrap();

    let text = term.question(1).await;
    term.type_line(&letter(key[&text] as usize).to_string());
    term.until("Zoe's answer", |l| l.starts_with("  you answered"))
        .await;
    host.answer(1u32, (key[&text] + 1) % 4).await.unwrap();
    let result = term.result().await;
    let score: u32 = result.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(result.starts_with("  right! "), "{result}");
    let text = term.question(2).await;
    let first_run = term.quit().await;
    let credentials = zoe.credentials().unwrap();
    drop(zoe);

    // Zoe comes back as the same session while question 2 is open.
    let zoe = TriviaClient::builder(url.as_str())
        .restore(credentials)
        .connect()
        .await
        .unwrap();
    assert!(zoe.restored());
    let mut term = Terminal::start(zoe.clone());
    let summary = [
        "* in the room: Ada (host), Zoe (you)".to_owned(),
        format!("* your score: {score}"),
        String::new(),
    ];
    for line in &summary {
        term.until_line(line).await;
    }
    let shown = term.question(2).await;
    assert_eq!(shown, text);
    // The summary came first, in order, and nothing of the history was
    // printed again.
    assert_eq!(term.screen.seen[..3], summary, "{:#?}", term.screen.seen);
    let seconds_left: u32 = term.screen.seen[3]
        .strip_prefix("Question 2/3 (")
        .and_then(|rest| rest.split_once(" s left)"))
        .map(|(left, _)| left.parse().unwrap())
        .unwrap();
    assert!((1..=60).contains(&seconds_left), "{}", term.screen.seen[3]);

    term.type_line(&letter(key[&text] as usize).to_string());
    host.answer(2u32, key[&text]).await.unwrap();
    let result = term.result().await;
    assert!(result.starts_with("  right! "), "{result}");
    let total: u32 = result.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(total > score + 500, "{result} after {score}");
    let second_run = term.quit().await;
    assert!(
        !second_run
            .iter()
            .any(|l| l.starts_with("Question 1/") || l.contains("the game starts")),
        "the history was printed again:\n{}",
        second_run.join("\n")
    );
    assert!(first_run.iter().any(|l| l.starts_with("Question 1/")));
    let scores = server
        .handle
        .run(|app, _| {
            app.standings()
                .into_iter()
                .map(|s| (s.name, s.score))
                .collect::<HashMap<_, _>>()
        })
        .await
        .unwrap();
    assert_eq!(scores["Zoe"], total);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_room_restarts_the_player_joins_it_again_with_the_same_name() {
    let first = start(30, SHORT).await;
    let proxy = Proxy::start(first.addr).await;
    let url = format!("http://{}", proxy.addr());
    let zoe = join(&url, "Zoe").await;
    let old = zoe.session().unwrap();
    let mut term = Terminal::start(zoe.clone());
    term.until_line("* you are the host: type `start` to start the game when everyone is in")
        .await;
    term.type_line("/name Zed");
    term.until_line("* you are now Zed").await;

    // The TV restarts: a new server, a new log, behind the same address.
    first.stop().await;
    let second = start(30, SHORT).await;
    proxy.retarget(second.addr);
    proxy.cut_all();
    term.until_line("* the room restarted; everyone joins it again")
        .await;
    term.until_line("* joining it again as Zed").await;
    term.until_line("* in the room: Zed (you, host)").await;
    let me = zoe.session().unwrap();
    assert_ne!(me, old);
    let name = second
        .handle
        .run(move |app, _| app.name_of(me).map(str::to_owned))
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("Zed"));
    // And it plays there: the new session is the host.
    term.type_line("start");
    term.until_line("* the game starts: 3 questions, 30 s each")
        .await;
    term.quit().await;
    second.stop().await;
}
