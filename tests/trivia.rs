//! The trivia example end to end: a whole game with four bot players over
//! real TCP, checked against what the log says; and a player who comes back
//! with the same session in the middle of a game.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rex::{Server, SessionId, StreamItem};
use rex_examples::trivia::bot::{self, Asked, BotReport, TriviaClient};
use rex_examples::trivia::{
    Question, Standing, TriviaApp, TriviaConfig, TriviaEvent, TriviaMsgClient,
};
use rex_tests::TestServer;

const ROUNDS: u32 = 4;

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

async fn start(seconds: u32) -> TestServer<TriviaApp> {
    let app = TriviaApp::new(
        questions(),
        TriviaConfig {
            rounds: ROUNDS as usize,
            seconds,
            pause: Duration::from_millis(150),
        },
    );
    TestServer::start(Server::builder(app).name("quiz")).await
}

fn url(server: &TestServer<TriviaApp>) -> String {
    format!("http://{}", server.addr)
}

/// Reads public events until the game finishes.
async fn public_log(url: String) -> Vec<TriviaEvent> {
    let client = TriviaClient::builder(url.as_str())
        .anonymous()
        .connect()
        .await
        .unwrap();
    let mut events = client.events_from(0);
    let mut seen = Vec::new();
    while let Some(item) = events.next().await {
        if let StreamItem::Event(e) = item.unwrap() {
            assert!(e.meta.to.is_none(), "an anonymous reader got {e:?}");
            let done = matches!(e.event, TriviaEvent::Finished { .. });
            seen.push(e.event);
            if done {
                break;
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_bots_play_a_whole_game_and_the_standings_agree_with_the_log() {
    let server = start(4).await;
    let url = url(&server);
    let observer = tokio::spawn(public_log(url.clone()));

    let mut clients = Vec::new();
    for name in ["Ada", "Boris", "Chloé", "Dmitri"] {
        let client = TriviaClient::builder(url.as_str())
            .name(name)
            .connect()
            .await
            .unwrap();
        clients.push(client);
    }
    let host = clients[0].clone();
    // A bot who is not the host cannot start the game.
    let refused = clients[1].start().await.unwrap_err();
    assert!(
        refused.to_string().contains("only the host (Ada)"),
        "{refused}"
    );

    let key = bot::answer_key(&questions());
    let mut bots = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let key = key.clone();
        bots.push(tokio::spawn(async move {
            bot::play(client, &key, move |q: &Asked<'_>| {
                let correct = q.correct.unwrap();
                // Bot 3 skips question 2, which therefore closes at its
                // deadline; the others answer at once, and bot i is right
                // unless (i + number) is divisible by 3.
                if i == 3 && q.number == 2 {
                    return None;
                }
                let right = (i as u32 + q.number) % 3 != 0;
                let choice = if right { correct } else { (correct + 1) % 4 };
                Some((Duration::from_millis(40 * i as u64 + 10), choice))
            })
            .await
        }));
    }
    host.start().await.unwrap();

    let mut reports: Vec<BotReport> = Vec::new();
    for bot in bots {
        let report = tokio::time::timeout(Duration::from_secs(30), bot)
            .await
            .expect("the game did not finish within 30 s")
            .unwrap()
            .unwrap();
        reports.push(report);
    }
    let log = tokio::time::timeout(Duration::from_secs(10), observer)
        .await
        .unwrap()
        .unwrap();

    // The final standings, as every player and the public log saw them.
    let Some(TriviaEvent::Finished { standings }) = log.last().cloned() else {
        panic!("the log does not end with the final standings: {log:?}");
    };
    assert_eq!(standings.len(), 4);
    assert!(standings.windows(2).all(|w| w[0].score >= w[1].score));
    for s in &standings {
        let better = standings.iter().filter(|o| o.score > s.score).count() as u32;
        assert_eq!(s.rank, better + 1, "{standings:?}");
    }
    for report in &reports {
        assert_eq!(report.standings, standings);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        // One private result per question, in order, with running totals
        // that add up to the final score.
        let numbers: Vec<u32> = report.results.iter().map(|r| r.number).collect();
        assert_eq!(numbers, (1..=ROUNDS).collect::<Vec<_>>());
        let mut total = 0;
        for r in &report.results {
            total += r.points;
            assert_eq!(r.total, total);
            assert_eq!(r.correct, r.points > 0);
        }
        let mine = standings
            .iter()
            .find(|s| s.session == report.session)
            .unwrap();
        assert_eq!(total, mine.score, "{}", mine.name);
    }

    // The public log tells the same story: per question, one `answered`
    // per answer, counts that match them, a scoreboard that matches the
    // private totals so far.
    let by_session: HashMap<SessionId, &BotReport> =
        reports.iter().map(|r| (r.session, r)).collect();
    let mut questions_seen = 0;
    let mut answered = 0;
    for event in &log {
        match event {
            TriviaEvent::Question { number, total, .. } => {
                questions_seen += 1;
                assert_eq!((*number, *total), (questions_seen, ROUNDS));
                answered = 0;
            }
            TriviaEvent::Answered { number, .. } => {
                assert_eq!(*number, questions_seen);
                answered += 1;
            }
            TriviaEvent::Revealed { number, counts, .. } => {
                assert_eq!(*number, questions_seen);
                assert_eq!(counts.iter().sum::<u32>(), answered);
                let expected = if *number == 2 { 3 } else { 4 };
                assert_eq!(answered, expected, "answers to question {number}");
            }
            TriviaEvent::Scores { number, standings } => {
                for s in standings {
                    let r = &by_session[&s.session].results[*number as usize - 1];
                    assert_eq!(r.total, s.score);
                }
            }
            _ => {}
        }
    }
    assert_eq!(questions_seen, ROUNDS);
    // Bot 3 did not answer question 2: its private result says so.
    let skipped = &reports[3].results[1];
    assert_eq!((skipped.choice, skipped.points), (None, 0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_who_comes_back_keeps_the_score_and_sees_the_open_question() {
    let server = start(30).await;
    let url = url(&server);
    let alice = TriviaClient::builder(url.as_str())
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let bob = TriviaClient::builder(url.as_str())
        .name("Bob")
        .connect()
        .await
        .unwrap();
    alice.start().await.unwrap();

    // The open question, as the log shows it to `client`: the last
    // `question` event not followed by its reveal.
    async fn open_question(client: &TriviaClient, after: u32) -> (u32, Vec<String>) {
        let mut events = client.events_from(0);
        let mut open = None;
        while let Some(item) = events.next().await {
            let StreamItem::Event(e) = item.unwrap() else {
                continue;
            };
            match e.event {
                TriviaEvent::Question {
                    number, choices, ..
                } => open = Some((number, choices)),
                TriviaEvent::Revealed { .. } => open = None,
                _ => {}
            }
            if let Some((number, choices)) = &open {
                if *number > after {
                    return (*number, choices.clone());
                }
            }
        }
        panic!("the stream ended");
    }

    let (number, _) = open_question(&alice, 0).await;
    assert_eq!(number, 1);
    alice.answer(1u32, 0u32).await.unwrap(); // right (question 0's answer is 0)
    bob.answer(1u32, 3u32).await.unwrap(); // wrong; both answered, so it closes
    let credentials = alice.credentials().unwrap();
    drop(alice);

    // Alice's phone comes back as the same session while question 2 is
    // open: it finds the question in the log and answers it.
    let alice = TriviaClient::builder(url.as_str())
        .restore(credentials)
        .connect()
        .await
        .unwrap();
    assert!(alice.restored());
    let (number, choices) = open_question(&alice, 1).await;
    assert_eq!((number, choices.len()), (2, 4));
    alice.answer(2u32, 1u32).await.unwrap(); // right (answer 1)
    let again = alice.answer(2u32, 1u32).await.unwrap_err();
    assert!(again.to_string().contains("already answered"), "{again}");
    bob.answer(2u32, 1u32).await.unwrap();

    let scores = server
        .handle
        .run(move |app, _| {
            app.standings()
                .into_iter()
                .map(|s: Standing| (s.name, s.score))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    assert_eq!(scores[0].0, "Alice");
    assert!(scores[0].1 > 1000 + 500, "{scores:?}"); // two right answers
    assert!(scores[1].1 >= 500 && scores[1].1 <= 1000, "{scores:?}");
    server.stop().await;
}
