//! The trivia pages in a real browser: headless Chromium (`/usr/bin/chromium`)
//! driven by `browser/trivia.mjs` through `playwright-core`, against a
//! trivia room on 127.0.0.1 serving `rex_examples::trivia::web::assets`.
//!
//! A TV page and two phone pages (separate browser contexts, so separate
//! storage) play a short game with four bot players: they join, the host
//! starts, each phone sees its own private result, the TV shows who has
//! answered and the scoreboard; then a phone is reloaded mid-question (same
//! player, same score) and the other one loses the room (it goes through a
//! fault-injection proxy, which refuses every connection for a while): it
//! says "Reconnecting…" until it is back, then answers the open question.
//! On every screen, each page fits its window (no sideways scrolling) at
//! 1280×720, 1366×768, 1920×1080, 3840×2160 and a 390×844 phone; every page
//! has an icon, and none logs an error or a failed request (but for the
//! cut). Screenshots go to `<target dir>/browser/`; `trivia-tv-reveal.png`
//! and `trivia-phone-question.png` are the README's `docs/trivia-tv.png`
//! and `docs/trivia-phone.png`.
//!
//! A second test (`browser/trivia_restart.mjs`) runs the `trivia` example
//! binary with `--data`, kills it with SIGKILL while a question is open and
//! starts it again on the same port: the TV and two phone pages reconnect
//! by themselves, without reloading, and carry on with the same question,
//! answers and scores.
//!
//! A third (`browser/trivia_host.mjs`) runs `trivia --host`: two TVs host
//! a game each from the start page at the same time, three phones join
//! by typing a code (one in lower case, after codes the page explains are
//! wrong), both games are played to the end, and neither TV nor either
//! room's log shows the other game's players. Its `trivia-host-landing.png`
//! and `trivia-host-tv.png` are the README's `docs/images/` pictures.
//!
//! A fourth (`browser/trivia_group.mjs`) runs two `trivia --host --redis`
//! hosts on one Redis: phones that start at the host that does not serve
//! the game (its start page, or its URL of the game's phone page) end at
//! the one that does, join, and appear on the TV.
//!
//! Without `node`, `/usr/bin/chromium` or `browser/node_modules` (made by
//! `npm ci --prefix tests/browser`) the tests pass with `SKIPPED: …`,
//! unless `REX_REQUIRE_BROWSER=1` (as `.ci/run` sets), when they fail.

use std::sync::Arc;
use std::time::Duration;

use rex::Server;
use rex_examples::trivia::bot::{self, Asked, BotReport, TriviaClient};
use rex_examples::trivia::{web, Question, TriviaApp, TriviaConfig};
use rex_tests::browser::{control_server, fresh_shots, run_node, shots_dir, should_skip, CHROMIUM};
use rex_tests::example::ExampleServer;
use rex_tests::proxy::Proxy;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

/// How long the browser script may run in all.
const NODE_LIMIT: Duration = Duration::from_secs(240);
/// Seconds to answer a question: long, since each question closes as soon
/// as every player has answered, and the script takes its time (a reload,
/// a cut connection) before the last answer.
const SECONDS: u32 = 60;
/// How long the room shows "get ready" and each reveal with its
/// scoreboard: the script checks, photographs and measures (at five window
/// sizes, three pages at once) these screens in this window, so it is
/// generous for a busy machine.
const PAUSE: Duration = Duration::from_secs(15);
/// The bots who fill the room, so the TV has a crowd to show.
const BOTS: [&str; 4] = ["Chloé", "Dmitri", "Esme", "Farid"];
/// The room's PIN.
const PIN: &str = "4711";

fn questions() -> Vec<Question> {
    let q = |text: &str, choices: [&str; 4], answer| Question {
        text: text.to_owned(),
        choices: choices.map(String::from).to_vec(),
        answer,
    };
    // The first question is the README's picture (`docs/trivia-*.png`):
    // no colour names among its answers, which would clash with the
    // colours of the answer tiles.
    vec![
        q(
            "Which is the largest ocean on Earth?",
            ["Atlantic", "Indian", "Pacific", "Arctic"],
            2,
        ),
        q(
            "How many legs does a spider have?",
            ["Six", "Eight", "Ten", "Twelve"],
            1,
        ),
        q(
            "Which planet is closest to the Sun?",
            ["Venus", "Mercury", "Mars", "Earth"],
            1,
        ),
    ]
}

/// One browser test at a time: each runs Chromium with three pages,
/// which is what a busy 2-core machine can take within the scripts'
/// waits.
static ONE_BROWSER: Mutex<()> = Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trivia_pages_in_headless_chromium() {
    if should_skip() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;

    let app = TriviaApp::new(
        questions(),
        TriviaConfig {
            rounds: 2,
            seconds: SECONDS,
            pause: PAUSE,
        },
    );
    // The pages are made for the room's address (the join URL and its QR
    // code), so bind first.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    // A room with a PIN, as a shared network would have it: the QR code
    // carries it; a phone that typed the address is asked for it.
    let server = Server::builder(app)
        .name("Trivia night")
        .pin(PIN)
        .assets(web::assets(&web::join_url(&url, Some(PIN)), Some(PIN)))
        .listener(listener)
        .await
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // Phone 2 reaches the room through this proxy, which the script cuts.
    let proxy = Proxy::start(addr).await;
    let bots: Bots = Arc::default();
    let control = Control {
        proxy: proxy.clone(),
        url: url.clone(),
        bots: bots.clone(),
    };
    let (control_addr, control_task) =
        control_server(move |request| control.clone().answer(request)).await;

    // Only this run's pictures (a failed run adds `trivia-failed-*.png`);
    // the hosted test's, `trivia-host-*`, are its own.
    let shots =
        fresh_shots(|name| name.starts_with("trivia-") && !name.starts_with("trivia-host-"));
    let key: Vec<serde_json::Value> = questions()
        .iter()
        .map(|q| serde_json::json!({"text": q.text, "choices": q.choices, "answer": q.answer}))
        .collect();
    let env = vec![
        ("REX_URL", url),
        ("REX_CUT_URL", format!("http://{}", proxy.addr())),
        ("REX_CONTROL_URL", format!("http://{control_addr}")),
        ("REX_SHOTS", shots.display().to_string()),
        ("REX_CHROMIUM", CHROMIUM.to_owned()),
        ("REX_QUESTIONS", serde_json::Value::from(key).to_string()),
        ("REX_BOTS", serde_json::json!(BOTS).to_string()),
        ("REX_PIN", PIN.to_owned()),
    ];
    let run = run_node("trivia.mjs", env, NODE_LIMIT).await;

    control_task.abort();
    proxy.shutdown();
    let playing = std::mem::take(&mut *bots.lock().await);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), serving)
        .await
        .expect("the server did not stop within 20 s")
        .unwrap()
        .unwrap();
    run.assert_success("browser/trivia.mjs", NODE_LIMIT);

    // The bots played the same game to the end, next to the browsers.
    assert_eq!(playing.len(), BOTS.len());
    for bot in playing {
        let report: BotReport = bot.await.unwrap().unwrap();
        assert_eq!(report.results.len(), 2, "{report:?}");
        assert!(report.rejected.is_empty(), "{report:?}");
        assert_eq!(report.standings.len(), 2 + BOTS.len());
    }
    println!("screenshots in {}", shots.display());
}

/// The bots' games, once `POST /bots` started them.
type Bots = Arc<Mutex<Vec<JoinHandle<Result<BotReport, rex::ClientError>>>>>;

/// What the script can ask of the test.
#[derive(Clone)]
struct Control {
    proxy: Proxy,
    url: String,
    bots: Bots,
}

impl Control {
    /// Answers one request of the script:
    /// - `POST /down`: closes every connection through the proxy (phone
    ///   2's), and from then on each new one before a byte of the room's
    ///   answer gets through; answers `{"connections": n}`, how many it
    ///   had accepted;
    /// - `POST /up`: lets connections through the proxy again; answers
    ///   `{"connections": n}`;
    /// - `GET /connections`: `{"connections": n}`, to see phone 2 reconnect;
    /// - `POST /bots`: the bots join (in order, after the phones, so a
    ///   phone is the host) and start playing; answers once all joined.
    async fn answer(self, request: String) -> (u16, String) {
        let connections = || serde_json::json!({"connections": self.proxy.connections()});
        match request.as_str() {
            "POST /down" => {
                let before = connections();
                self.proxy.cut_after_server_bytes(Some(0));
                self.proxy.cut_all();
                (200, before.to_string())
            }
            "POST /up" => {
                self.proxy.cut_after_server_bytes(None);
                (200, connections().to_string())
            }
            "GET /connections" => (200, connections().to_string()),
            "POST /bots" => {
                let mut bots = self.bots.lock().await;
                if bots.is_empty() {
                    for (i, name) in BOTS.iter().enumerate() {
                        let client: TriviaClient = TriviaClient::builder(self.url.as_str())
                            .name(*name)
                            .pin(PIN)
                            .connect()
                            .await
                            .unwrap();
                        bots.push(tokio::spawn(play_bot(client, i)));
                    }
                }
                (200, "{}".to_owned())
            }
            _ => (404, "{}".to_owned()),
        }
    }
}

/// Bot `i` answers every question within a second and a half: right when
/// `i` and the question's number are both even or both odd, else the next
/// choice.
async fn play_bot(client: TriviaClient, i: usize) -> Result<BotReport, rex::ClientError> {
    let key = bot::answer_key(&questions());
    bot::play(client, &key, move |q: &Asked<'_>| {
        let correct = q.correct?;
        let right = i as u32 % 2 == q.number % 2;
        let choice = if right { correct } else { (correct + 1) % 4 };
        Some((Duration::from_millis(300 + 300 * i as u64), choice))
    })
    .await
}

/// The question set as a question file, for the example binary.
fn question_file(dir: &std::path::Path) -> std::path::PathBuf {
    let set: Vec<serde_json::Value> = questions()
        .iter()
        .map(|q| serde_json::json!({"question": q.text, "choices": q.choices, "answer": q.answer}))
        .collect();
    let path = dir.join("questions.json");
    std::fs::write(&path, serde_json::Value::from(set).to_string()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trivia_pages_carry_on_after_the_room_is_killed_and_restarted() {
    if should_skip() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let questions_path = question_file(files.path());
    let args: Vec<String> = [
        "--questions",
        questions_path.to_str().unwrap(),
        "--rounds",
        "2",
        // Question 1 must stay open over the crash until Bob answers.
        "--seconds",
        "300",
        "--pause",
        &PAUSE.as_secs().to_string(),
        "--name",
        "Trivia night",
    ]
    .map(String::from)
    .to_vec();
    let room = ExampleServer::start(
        "trivia",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        data.path(),
        rex_tests::example::restartable_addr(),
    )
    .await;
    let (url, addr) = (room.url(), room.addr);
    let control = Restarts {
        addr,
        room: Arc::new(Mutex::new(Some(room))),
        args: Arc::new(args),
        data: Arc::new(data.path().to_owned()),
    };
    let (control_addr, control_task) = {
        let control = control.clone();
        control_server(move |request| control.clone().answer(request)).await
    };
    let key: Vec<serde_json::Value> = questions()
        .iter()
        .map(|q| serde_json::json!({"text": q.text, "choices": q.choices, "answer": q.answer}))
        .collect();
    let env = vec![
        ("REX_URL", url),
        ("REX_CONTROL_URL", format!("http://{control_addr}")),
        ("REX_SHOTS", shots_dir().display().to_string()),
        ("REX_CHROMIUM", CHROMIUM.to_owned()),
        ("REX_QUESTIONS", serde_json::Value::from(key).to_string()),
    ];
    let run = run_node("trivia_restart.mjs", env, NODE_LIMIT).await;
    control_task.abort();
    // Kills the room if the script stopped before it did.
    drop(control.room.lock().await.take());
    run.assert_success("browser/trivia_restart.mjs", NODE_LIMIT);
}

/// What `trivia_restart.mjs` can ask of the test: kill the room, start it
/// again.
#[derive(Clone)]
struct Restarts {
    room: Arc<Mutex<Option<ExampleServer>>>,
    args: Arc<Vec<String>>,
    data: Arc<std::path::PathBuf>,
    /// Where the room listens, and listens again after a restart.
    addr: std::net::SocketAddr,
}

impl Restarts {
    /// - `POST /kill`: SIGKILL the room and wait until it is gone;
    /// - `POST /restart`: start it on the same port with the same `--data`,
    ///   and answer once it listens.
    async fn answer(self, request: String) -> (u16, String) {
        let mut room = self.room.lock().await;
        match request.as_str() {
            "POST /kill" => match room.take() {
                Some(running) => {
                    let addr = running.kill_9();
                    (200, serde_json::json!({"killed": addr}).to_string())
                }
                None => (409, r#"{"error": "the room is not running"}"#.to_owned()),
            },
            "POST /restart" => {
                if room.is_some() {
                    return (409, r#"{"error": "the room is running"}"#.to_owned());
                }
                let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
                let running = ExampleServer::start("trivia", &args, &self.data, self.addr).await;
                *room = Some(running);
                (200, "{}".to_owned())
            }
            _ => (404, "{}".to_owned()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_trivia_games_in_headless_chromium_stay_apart() {
    if should_skip() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let files = tempfile::tempdir().unwrap();
    let questions_path = question_file(files.path());
    let host = ExampleServer::spawn(
        "trivia",
        &[
            "--host",
            "--no-discovery",
            "--bind",
            "127.0.0.1:0",
            "--questions",
            questions_path.to_str().unwrap(),
            "--rounds",
            "1",
            // Each question closes as soon as every player has answered.
            "--seconds",
            "120",
            "--pause",
            "2",
            "--name",
            "Trivia night",
        ],
    )
    .await;
    let shots = fresh_shots(|name| name.starts_with("trivia-host-"));
    let key: Vec<serde_json::Value> = questions()
        .iter()
        .map(|q| serde_json::json!({"text": q.text, "choices": q.choices, "answer": q.answer}))
        .collect();
    let env = vec![
        ("REX_URL", host.url()),
        ("REX_SHOTS", shots.display().to_string()),
        ("REX_CHROMIUM", CHROMIUM.to_owned()),
        ("REX_QUESTIONS", serde_json::Value::from(key).to_string()),
    ];
    let mut host = host;
    let run = run_node("trivia_host.mjs", env, NODE_LIMIT).await;
    // What the host printed: a line per game opened, with its code.
    host.lines.drain();
    let printed = host.lines.seen.join("\n");
    drop(host);
    run.assert_success("browser/trivia_host.mjs", NODE_LIMIT);
    assert!(
        printed.contains("hosting trivia on http://127.0.0.1:"),
        "{printed}"
    );
    let opened = host_lines(&printed, "+ game ");
    assert_eq!(opened.len(), 2, "a line per game opened:\n{printed}");
    println!("screenshots in {}", shots.display());
}

/// The lines of `printed` that start with `prefix`.
fn host_lines<'a>(printed: &'a str, prefix: &str) -> Vec<&'a str> {
    printed.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_at_the_wrong_host_of_a_group_ends_at_its_game() {
    if should_skip() {
        return;
    }
    let Some(redis) = rex_tests::redis::redis_or_skip() else {
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let url = redis.url();
    let args = |url: &str| {
        vec![
            "--host".to_owned(),
            "--no-discovery".to_owned(),
            "--bind".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--redis".to_owned(),
            url.to_owned(),
        ]
    };
    let a_args = args(&url);
    let b_args = args(&url);
    let a = ExampleServer::spawn(
        "trivia",
        &a_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let b = ExampleServer::spawn(
        "trivia",
        &b_args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let shots = fresh_shots(|name| name.starts_with("trivia-group-"));
    let env = vec![
        ("REX_URL_A", a.url()),
        ("REX_URL_B", b.url()),
        ("REX_SHOTS", shots.display().to_string()),
        ("REX_CHROMIUM", CHROMIUM.to_owned()),
    ];
    let run = run_node("trivia_group.mjs", env, NODE_LIMIT).await;
    drop((a, b));
    run.assert_success("browser/trivia_group.mjs", NODE_LIMIT);
}
