//! The trivia example end to end: a whole game with four bot players over
//! real TCP, checked against what the log says; a player who comes back
//! with the same session in the middle of a game; and the `trivia --demo`
//! binary, whose printout is checked against the log it served. Hosted
//! trivia (`trivia --host`): a game made from the create body (bad
//! settings refused), and a room that closes ten minutes after its final
//! standings.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rex::{Server, SessionId, StreamItem};
use rex_examples::trivia::bot::{self, Asked, BotReport, TriviaClient};
use rex_examples::trivia::{hosted, web};
use rex_examples::trivia::{Question, Standing, TriviaApp, TriviaConfig, TriviaEvent};
use rex_tests::example::example_binary;
use rex_tests::TestServer;
use serde_json::json;

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
                let right = !(i as u32 + q.number).is_multiple_of(3);
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

/// Waits for `child` to exit, up to `limit` (a hang guard, not a timing
/// check); kills it and returns `None` past the limit.
fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A standing as the demo prints it: `   2. Boris        1450  (+850)`
/// → (2, "Boris", 1450, 850).
fn parse_standing(line: &str) -> Option<(u32, String, u32, u32)> {
    let (rank, rest) = line.trim_start().split_once(". ")?;
    let rank: u32 = rank.parse().ok()?;
    let (rest, gain) = match rest.rsplit_once("  (+") {
        Some((rest, gain)) => (rest, gain.strip_suffix(')')?.parse().ok()?),
        None => (rest, 0),
    };
    let (name, score) = rest.trim_end().rsplit_once(' ')?;
    Some((rank, name.trim().to_owned(), score.parse().ok()?, gain))
}

#[test]
fn the_demo_prints_the_game_its_log_tells() {
    let bin = example_binary("trivia");
    let mut demo = Command::new(&bin)
        .args(["--demo", "4", "--rounds", "3", "--seconds", "2"])
        // Some log lines, to check they are plain text when piped.
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stdout line by line as it comes (the first line is the URL),
    // and stderr to the end, each on a thread of its own so neither pipe
    // fills up.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let stdout = demo.stdout.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = demo.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let first = lines_rx.recv_timeout(Duration::from_secs(60));
    let Ok(first) = first else {
        let _ = demo.kill();
        panic!(
            "the demo printed nothing in 60 s; stderr:\n{}",
            err_reader.join().unwrap()
        );
    };
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line is not `listening on URL`: {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // An anonymous reader (a TV, say) follows the game while it runs.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let observer = runtime.spawn(public_log(url));

    let status = wait_or_kill(&mut demo, Duration::from_secs(120));
    out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let printed: Vec<String> = std::iter::once(first).chain(lines_rx.try_iter()).collect();
    let all = printed.join("\n");
    let status = status.unwrap_or_else(|| {
        panic!(
            "the demo did not finish within 120 s (killed); it printed:\n{all}\nstderr:\n{stderr}"
        )
    });
    assert!(
        status.success(),
        "the demo exited with {status}; it printed:\n{all}\nstderr:\n{stderr}"
    );
    // Logs piped to a file carry no colour codes.
    assert!(
        stderr.contains("serving") && !stderr.contains('\x1b'),
        "expected the server's log lines, without escape codes, on a piped stderr:\n{stderr:?}"
    );
    let log = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), observer).await })
        .expect("the reader did not see the end of the game")
        .unwrap();

    // Each question of the log was printed, with its choices.
    let asked: Vec<(u32, u32, u32, String, Vec<String>)> = log
        .iter()
        .filter_map(|e| match e {
            TriviaEvent::Question {
                number,
                total,
                seconds,
                text,
                choices,
                ..
            } => Some((*number, *total, *seconds, text.clone(), choices.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 3, "{log:?}");
    for (number, total, seconds, text, choices) in &asked {
        let header = format!("Question {number}/{total} ({seconds} s): {text}");
        let at = printed
            .iter()
            .position(|l| *l == header)
            .unwrap_or_else(|| panic!("`{header}` was not printed:\n{all}"));
        let next = &printed[at + 1];
        for (i, choice) in choices.iter().enumerate() {
            let lettered = format!("{}) {choice}", char::from(b'A' + i as u8));
            assert!(next.contains(&lettered), "{next:?} lacks {lettered:?}");
        }
    }

    // The final standings it printed are the `finished` event's.
    let Some(TriviaEvent::Finished { standings }) = log.last() else {
        panic!("the log does not end with the final standings: {log:?}");
    };
    let at = printed
        .iter()
        .position(|l| l == "Final standings:")
        .unwrap_or_else(|| panic!("no final standings printed:\n{all}"));
    let final_printed: Vec<(u32, String, u32)> = printed[at + 1..]
        .iter()
        .map_while(|l| parse_standing(l))
        .map(|(rank, name, score, _)| (rank, name, score))
        .collect();
    let final_logged: Vec<(u32, String, u32)> = standings
        .iter()
        .map(|s| (s.rank, s.name.clone(), s.score))
        .collect();
    assert_eq!(final_printed, final_logged, "{all}");
    assert_eq!(final_logged.len(), 4);

    // The standings are the sum of each question's gains, as the `scores`
    // events give them; each gain is a possible score for one question;
    // and the demo printed the same gains.
    let mut before: HashMap<SessionId, u32> = HashMap::new();
    let mut sums: HashMap<SessionId, u32> = HashMap::new();
    let mut logged_gains: Vec<HashMap<String, u32>> = Vec::new();
    for event in &log {
        if let TriviaEvent::Scores { standings, .. } = event {
            let mut gains = HashMap::new();
            for s in standings {
                let was = before.get(&s.session).copied().unwrap_or(0);
                assert!(s.score >= was, "a score went down: {s:?}");
                let gain = s.score - was;
                assert!(
                    gain == 0 || (500..=1000).contains(&gain),
                    "{s:?} gained {gain}"
                );
                *sums.entry(s.session).or_default() += gain;
                before.insert(s.session, s.score);
                gains.insert(s.name.clone(), gain);
            }
            logged_gains.push(gains);
        }
    }
    for s in standings {
        assert_eq!(sums.get(&s.session).copied().unwrap_or(0), s.score, "{s:?}");
    }
    let printed_gains: Vec<HashMap<String, u32>> = printed
        .iter()
        .enumerate()
        .filter(|(_, l)| *l == "  scores:")
        .map(|(at, _)| {
            printed[at + 1..]
                .iter()
                .map_while(|l| parse_standing(l))
                .map(|(_, name, _, gain)| (name, gain))
                .collect()
        })
        .collect();
    assert_eq!(printed_gains, logged_gains, "{all}");
    assert!(
        printed.last().is_some_and(|l| l.starts_with("checked: ")),
        "{all}"
    );
}

/// A host of trivia rooms as `trivia --host` makes one (its pages, each
/// room's join files, the start page), on 127.0.0.1, rooms of
/// [`questions`] with [`ROUNDS`] questions of `seconds` by default.
async fn trivia_host(seconds: u32) -> rex_tests::host::TestHost {
    let defaults = TriviaConfig {
        rounds: ROUNDS as usize,
        seconds,
        pause: Duration::from_secs(1),
    };
    let builder = rex::Host::builder(move |room: &rex::NewRoom| {
        hosted::room_app(room, &questions(), &defaults)
    })
    .name("quiz")
    .assets(web::pages())
    .room_assets(web::room_join("http://192.0.2.7:7700", None))
    .landing(web::landing());
    let (host, ()) = rex_tests::host::TestHost::start(builder, async |_| ()).await;
    host
}

/// The next event of `kind` on `stream`; panics if the stream ends or
/// stays silent for a minute first.
async fn next_of_kind(stream: &mut rex_tests::Stream, kind: &str) -> serde_json::Value {
    loop {
        match stream.next_line(Duration::from_secs(60)).await {
            rex_tests::Line::Event(event) if event["kind"] == kind => return event,
            rex_tests::Line::Event(_) | rex_tests::Line::Heartbeat => {}
            other => panic!("waiting for a `{kind}` event, the stream gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_hosted_game_takes_its_settings_from_the_create_body_and_refuses_bad_ones() {
    let host = trivia_host(20).await;
    let http = host.http();
    for (body, says) in [
        (
            json!({"rounds": 0}),
            "`rounds` is 0; a game has 1 to 1000 questions",
        ),
        (
            json!({"seconds": 601}),
            "`seconds` is 601; a question is open for 1 to 600 seconds",
        ),
        (json!({"rounds": "ten"}), "the room's settings do not fit"),
        (json!({"rouds": 2}), "unknown field `rouds`"),
    ] {
        let reason = http
            .post("/rex/v0/rooms")
            .json(&body)
            .send()
            .await
            .assert_error(409, "rejected");
        assert!(reason.contains(says), "{body}: {reason}");
    }
    assert_eq!(http.get("/rex/v0/host").send().await.json()["rooms"], 0);

    // The start page at the root; each room's TV page and join files.
    let landing = http.get("/").send().await;
    assert_eq!(landing.status, 200);
    assert!(String::from_utf8_lossy(&landing.body).contains("Host a game on this screen"));
    let room = host.open_room(&json!({"rounds": 2, "seconds": 5})).await;
    let join = room.get("/join.json").await.json();
    assert_eq!(join["code"], room.code.to_string());
    assert_eq!(
        join["url"],
        format!("http://192.0.2.7:7700/r/{}/play", room.code)
    );
    assert_eq!(room.get("/join.svg").await.status, 200);

    // The game is the one asked for; another room's is the default.
    let ann = room.session("Ann").await;
    let started = room
        .message(ann.token.expose(), &json!({"kind": "start"}))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let plain = host.open_room(&json!({})).await;
    let bob = plain.session("Bob").await;
    plain
        .message(bob.token.expose(), &json!({"kind": "start"}))
        .await;
    for (room, token, questions, seconds) in [(&room, &ann, 2, 5), (&plain, &bob, ROUNDS, 20)] {
        let mut stream = room.events("start=0", Some(token.token.expose())).await;
        let started = next_of_kind(&mut stream, "started").await;
        assert_eq!(
            started["data"],
            json!({"questions": questions, "seconds": seconds}),
            "{}",
            room.base
        );
    }
    host.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_hosted_game_closes_ten_minutes_after_its_final_standings() {
    let host = trivia_host(3).await;
    let room = host.open_room(&json!({"rounds": 1})).await;
    let ann = room.session("Ann").await;
    let token = ann.token.expose().to_owned();
    let mut stream = room.events("start=0", Some(&token)).await;
    room.message(&token, &json!({"kind": "start"})).await;
    // The pause, the question's 3 s, the pause: then the final standings.
    let finished = next_of_kind(&mut stream, "finished").await;
    assert_eq!(finished["data"]["standings"][0]["name"], "Ann");
    tokio::time::sleep(hosted::CLOSE_AFTER_GAME - Duration::from_secs(1)).await;
    let info = room.get("/rex/v0/info").await;
    assert_eq!(info.status, 200, "the room stays open for the podium");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The open stream ends cleanly, and every URL says the game has ended.
    stream.read_to_end(Duration::from_secs(30)).await;
    let reason = room.get("/rex/v0/info").await.assert_error(410, "gone");
    assert!(reason.contains("has ended"), "{reason}");
    let page = room.get("/").await;
    assert_eq!(page.status, 410);
    host.stop().await;
}
