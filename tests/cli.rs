//! The `rex` command-line tool, run in-process (`rex::cli::run`, what the
//! binary wraps) against real servers and real hosts of rooms
//! (`rex::Host`): `info`, `send`, `tail` and `room new` over TCP on
//! 127.0.0.1, and `discover` inside a network namespace of its own.

mod netns;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rex::discovery::Advertisement;
use rex::proto::CreateRoom;
use rex::{Discovery, Host, HostBuilder, HostControl, NewRoom, Rate, Reject, RoomCode, Server};
use rex_examples::chat::ChatApp;
use rex_tests::host::{RoomHttp, TestHost};
use rex_tests::moved::Redirector;
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use serde_json::{json, Value};

/// What one run of the tool produced.
struct Run {
    code: u8,
    out: String,
    err: String,
}

async fn rex(args: &[&str]) -> Run {
    rex_watched(args, Watched::default()).await
}

/// Runs the tool with its standard output written to `out`, which the
/// test can read while the tool runs.
async fn rex_watched(args: &[&str], mut out: Watched) -> Run {
    let mut err = Vec::new();
    let argv = std::iter::once("rex").chain(args.iter().copied());
    let code = tokio::time::timeout(
        Duration::from_secs(30),
        rex::cli::run(argv, &mut out, &mut err, false),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out after 30 s waiting for `rex {}`", args.join(" ")));
    Run {
        code,
        out: out.text(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// Standard output shared with the test, which reads it as it grows.
#[derive(Clone, Default)]
struct Watched(Arc<Mutex<Vec<u8>>>);

impl Watched {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Watched {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Waits until `done`, checking every few milliseconds; fails after 30 s
/// saying what it waited for.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out after 30 s waiting for {what}"));
}

/// JSON lines of an output.
fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn chat_room() -> TestServer<ChatApp> {
    TestServer::start(Server::builder(ChatApp::default()).name("Test Room")).await
}

fn temp_session_file() -> PathBuf {
    std::env::temp_dir()
        .join(format!("rex-cli-test-{}", uuid::Uuid::new_v4()))
        .join("sessions.json")
}

#[tokio::test]
async fn info_describes_the_room_for_people_and_scripts() {
    let room = chat_room().await;
    let url = format!("http://{}", room.addr);
    let run = rex(&["info", &url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.starts_with("Test Room (app chat)"), "{}", run.out);
    assert!(run.out.contains("say, whisper, rename"), "{}", run.out);
    assert!(
        !run.out.contains('\x1b'),
        "no colour when not on a terminal"
    );

    let run = rex(&["info", &url, "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let info = &lines(&run.out)[0];
    assert_eq!(
        (info["app"].as_str(), info["name"].as_str()),
        (Some("chat"), Some("Test Room"))
    );

    let run = rex(&["info", "ftp://nowhere"]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("only http:// is supported"), "{}", run.err);
    let run = rex(&["info"]).await;
    assert_eq!(run.code, 2, "usage errors are told apart");
    room.stop().await;
}

#[tokio::test]
async fn send_reuses_its_saved_session_and_reports_the_servers_errors() {
    let room = chat_room().await;
    let url = format!("http://{}", room.addr);
    let file = temp_session_file();
    let file_arg = file.to_str().unwrap();

    let run = rex(&[
        "send",
        &url,
        "say",
        r#"{"text":"hello"}"#,
        "--session-file",
        file_arg,
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.starts_with("sent say → event 1"), "{}", run.out);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let session = saved[&url]["session"].as_str().unwrap().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the token is readable by its owner only");
    }

    // A second send is the same person: no new join, same origin.
    let run = rex(&[
        "send",
        &url,
        "say",
        r#"{"text":"again"}"#,
        "--session-file",
        file_arg,
        "--json",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(
        lines(&run.out)[0]["first"],
        2,
        "no second `joined` before it"
    );
    let log = room.client().visible_log(None).await;
    let kinds: Vec<&str> = log.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["joined", "said", "said"]);
    assert!(log.iter().all(|e| e["origin"] == session.as_str()));

    // The server's refusals, with code and reason, and a failing status.
    let run = rex(&[
        "send",
        &url,
        "say",
        r#"{"text":""}"#,
        "--session-file",
        file_arg,
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.err.contains("rejected: the message is empty"),
        "{}",
        run.err
    );
    let run = rex(&["send", &url, "yell", "--session-file", file_arg, "--json"]).await;
    assert_eq!(run.code, 1);
    let error = &lines(&run.out)[0];
    assert_eq!(error["error"], "unknown_kind");
    assert!(error["reason"]
        .as_str()
        .unwrap()
        .contains("say, whisper, rename"));
    let run = rex(&[
        "send",
        &url,
        "say",
        "{text: hi}",
        "--session-file",
        file_arg,
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("not valid JSON"), "{}", run.err);

    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    room.stop().await;
}

#[tokio::test]
async fn tail_follows_the_log_once_in_order_across_a_cut_connection() {
    let room = chat_room().await;
    let proxy = Proxy::start(room.addr).await;
    let http = room.client();
    http.session("Ann").await;
    http.session("Bob").await;
    let url = format!("http://{}", proxy.addr());

    let tail = tokio::spawn(async move { rex(&["tail", &url, "--limit", "4", "--json"]).await });
    // Cut the stream once it is open, then append more.
    tokio::time::timeout(Duration::from_secs(10), async {
        while proxy.connections() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("tail connects");
    proxy.cut_all();
    http.session("Cy").await;
    http.session("Di").await;
    let run = tail.await.unwrap();
    assert_eq!(run.code, 0, "{}", run.err);
    let indexes: Vec<u64> = lines(&run.out)
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2, 3]);

    // Server-Sent Events, from an index, pretty-printed.
    let url = format!("http://{}", room.addr);
    let run = rex(&["tail", &url, "--sse", "--start", "2", "--limit", "2"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let shown: Vec<&str> = run.out.lines().collect();
    assert_eq!(shown.len(), 2, "{}", run.out);
    assert!(
        shown[0].starts_with("#2 +") && shown[0].contains(" joined from "),
        "{}",
        run.out
    );
    assert!(
        shown[1].starts_with("#3 +") && shown[1].contains(r#""name":"Di""#),
        "{}",
        run.out
    );
    proxy.shutdown();
    room.stop().await;
}

#[test]
fn discover_lists_the_rooms_on_the_network() {
    if !netns::isolated("discover_lists_the_rooms_on_the_network") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = Server::builder(ChatApp::default())
            .name("Living Room TV")
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = server.local_addr();
        let lo = Discovery::new().interfaces(["lo"]).probing(false);
        let advertisement = Advertisement::start(&server, &lo).await.unwrap();
        // A host of chat rooms, advertised as one.
        let (host, _) = hosted_chat_room().await;
        let hosting = Advertisement::builder("chat", "Quiz Host", host.addr)
            .hosts_rooms(true)
            .start(&lo)
            .await
            .unwrap();

        let run = rex(&[
            "discover",
            "--app",
            "chat",
            "--timeout",
            "1.5",
            "--interface",
            "lo",
            "--json",
        ])
        .await;
        assert_eq!(run.code, 0, "{}", run.err);
        let rooms = &lines(&run.out)[0];
        assert_eq!(rooms[0]["name"], "Living Room TV");
        assert_eq!(rooms[0]["url"], format!("http://{addr}"));
        assert_eq!(rooms[0]["hosts_rooms"], false);
        assert_eq!(rooms[1]["name"], "Quiz Host");
        assert_eq!(rooms[1]["url"], host.url());
        assert_eq!(rooms[1]["hosts_rooms"], true);

        // (Longer: a responder answers the same record at most once a
        // second, and the browse above just had it.)
        let run = rex(&["discover", "--timeout", "2.5", "--interface", "lo"]).await;
        assert_eq!(run.code, 0, "{}", run.err);
        let host_url = host.url();
        assert_eq!(
            run.out,
            format!(
                "Living Room TV  chat  http://{addr}\n\
                 Quiz Host       chat  {host_url}  hosts rooms: create one with `rex room new {host_url}`\n"
            )
        );

        let run = rex(&[
            "discover",
            "--app",
            "trivia",
            "--timeout",
            "1",
            "--interface",
            "lo",
        ])
        .await;
        assert_eq!(run.code, 1);
        assert!(
            run.err.starts_with(
                "rex: no REx server for app 'trivia' answered on interfaces lo within 1 s"
            ),
            "{}",
            run.err
        );
        advertisement.stop().await;
        hosting.stop().await;
        host.stop().await;
    });
}

#[tokio::test]
async fn send_to_a_room_with_a_pin_says_what_to_do_and_succeeds_with_it() {
    let room = TestServer::start(Server::builder(ChatApp::default()).pin("4711")).await;
    let url = format!("http://{}", room.addr);
    let file = temp_session_file();
    let file_arg = file.to_str().unwrap();
    let say = r#"{"text":"hello"}"#;

    let run = rex(&["send", &url, "say", say, "--session-file", file_arg]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("needs a PIN"), "{}", run.err);
    assert!(
        run.err.contains("--pin PIN"),
        "says which option: {}",
        run.err
    );

    let wrong = ["--session-file", file_arg, "--pin", "0000"];
    let run = rex(&[&["send", &url, "say", say][..], &wrong[..]].concat()).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("wrong PIN"), "{}", run.err);

    let right = ["--session-file", file_arg, "--pin", "4711"];
    let run = rex(&[&["send", &url, "say", say][..], &right[..]].concat()).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.starts_with("sent say"), "{}", run.out);
    room.stop().await;
}

#[tokio::test]
async fn info_lists_each_kind_with_its_fields_and_docs() {
    let room = chat_room().await;
    let url = format!("http://{}", room.addr);
    let run = rex(&["info", &url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    for line in [
        "    say  Say something to the whole room.",
        "      text: string  What to say; must not be empty.",
        "    whisper  Say something to one session only.",
        "      to: string  Who hears it.",
        "    whispered  A whisper; private to `from` and `to`.",
    ] {
        assert!(
            run.out.lines().any(|l| l == line),
            "`rex info` should show {line:?}:\n{}",
            run.out
        );
    }
    let run = rex(&["info", &url, "--json"]).await;
    let info = &lines(&run.out)[0];
    assert_eq!(info["offers"], serde_json::json!(["schema"]));
    assert_eq!(info["schema"]["messages"][0]["kind"], "say");
    room.stop().await;
}

#[tokio::test]
async fn send_refuses_a_payload_that_does_not_fit_the_schema_before_sending() {
    let room = chat_room().await;
    let url = format!("http://{}", room.addr);
    let file = temp_session_file();
    let file_arg = file.to_str().unwrap();
    let send = |kind: &'static str, data: &'static str, extra: &'static [&'static str]| {
        let url = url.clone();
        let file_arg = file_arg.to_owned();
        async move {
            let mut args = vec!["send", &url, kind, data, "--session-file", &file_arg];
            args.extend_from_slice(extra);
            rex(&args).await
        }
    };

    for (data, says) in [
        (r#"{"text":5}"#, "field `text`: 5 is not of type \"string\""),
        (r#"{}"#, "missing field `text`"),
        (
            r#"{"text":"hi","txt":"hi"}"#,
            "unknown field `txt`; expected only: text",
        ),
    ] {
        let run = send("say", data, &[]).await;
        assert_eq!(run.code, 1, "{data}: {}", run.out);
        assert!(run.err.contains(says), "{data}: {}", run.err);
        assert!(run.err.contains("not sent"), "{}", run.err);
    }
    let run = send("whisper", r#"{"to":"bob","text":"psst"}"#, &["--json"]).await;
    assert_eq!(run.code, 1);
    let error = &lines(&run.out)[0];
    assert_eq!(error["error"], "invalid_data");
    assert!(
        error["reason"].as_str().unwrap().contains("field `to`"),
        "{error}"
    );

    // Nothing reached the room: no session was made, nothing was said.
    assert!(room.client().visible_log(None).await.is_empty());
    assert!(!file.exists(), "no session was created");

    // --no-check leaves the judging to the server, which refuses the same.
    let run = send("say", r#"{"text":5}"#, &["--no-check"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.err.contains("invalid_data") && run.err.contains("field `text`"),
        "{}",
        run.err
    );
    // A payload that fits is sent.
    let run = send("say", r#"{"text":"fits"}"#, &[]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    room.stop().await;
}

#[tokio::test]
async fn types_writes_the_trivia_declarations_the_pages_use() {
    use rex_examples::trivia::{questions, TriviaApp, TriviaConfig};
    let app = TriviaApp::new(questions::bundled().unwrap(), TriviaConfig::default());
    let room = TestServer::start(Server::builder(app)).await;
    let url = format!("http://{}", room.addr);
    let run = rex(&["types", &url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    // The file the pages are checked against (tests/types.rs compiles it
    // with --strict) is exactly what `rex types` writes.
    let checked_in = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/src/trivia/web/protocol.d.ts"),
    )
    .unwrap();
    assert!(
        run.out == checked_in,
        "rex types differs from the checked-in protocol.d.ts"
    );

    let file = temp_session_file().with_file_name("trivia.d.ts");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let run = rex(&["types", &url, "--output", file.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), checked_in);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    room.stop().await;

    // An app without a schema: a clear error, and `send` leaves the
    // checking to the server.
    let plain = rex_tests::start_test_app().await;
    let run = rex(&["types", &format!("http://{}", plain.addr)]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.err.contains("does not publish its protocol's schema"),
        "{}",
        run.err
    );
    plain.stop().await;
}

/// A host of chat rooms, "Quiz Host", with one open room, "Test Room";
/// its control, to open and close more, and the room's code.
async fn hosted_chat_room() -> (TestHost, (HostControl<ChatApp>, RoomCode)) {
    let builder = Host::builder(|_room: &NewRoom| Ok(ChatApp::default()))
        .name("Quiz Host")
        .max_rooms(100);
    TestHost::start(builder, async |host| {
        let control = host.control();
        let created = control
            .open_room(CreateRoom {
                name: Some("Test Room".into()),
                ..CreateRoom::default()
            })
            .await
            .unwrap();
        (control, created.room)
    })
    .await
}

/// A code that is not `code`, so no room of a host that has only `code`.
fn other_than(code: RoomCode) -> &'static str {
    if code.as_str() == "CDFG" {
        "MNPR"
    } else {
        "CDFG"
    }
}

#[tokio::test]
async fn every_command_takes_a_room_url_with_a_path() {
    let (host, (_, code)) = hosted_chat_room().await;
    let url = host.room_url(code);

    for given in [
        url.clone(),
        format!("{url}/"),
        format!("{}/r/{}/rex/v0", host.url(), code.as_str().to_lowercase()),
    ] {
        let run = rex(&["info", &given]).await;
        assert_eq!(run.code, 0, "{given}: {}", run.err);
        assert!(run.out.starts_with("Test Room (app chat)"), "{}", run.out);
    }
    let run = rex(&["info", &url]).await;
    assert!(
        run.out.lines().any(|l| l == format!("  url       {url}")),
        "{}",
        run.out
    );

    let file = temp_session_file();
    let file_arg = file.to_str().unwrap();
    for text in ["one", "two"] {
        let data = format!(r#"{{"text":"{text}"}}"#);
        let run = rex(&["send", &url, "say", &data, "--session-file", file_arg]).await;
        assert_eq!(run.code, 0, "{}", run.err);
    }
    // One session, saved under the room's URL.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(saved[&url]["session"].is_string(), "{saved}");

    let run = rex(&["tail", &url, "--limit", "3", "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let kinds: Vec<Value> = lines(&run.out).iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, ["joined", "said", "said"]);
    let run = rex(&["tail", &url, "--sse", "--start", "2", "--limit", "1"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains(r#""text":"two""#), "{}", run.out);

    let run = rex(&["types", &url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.contains("say"), "{}", run.out);

    // A code no room has: the host's reason.
    let unknown = other_than(code);
    let run = rex(&["info", &format!("{}/r/{unknown}", host.url())]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.err
            .contains(&format!("no room {unknown}; check the code on the TV")),
        "{}",
        run.err
    );
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    host.stop().await;
}

#[tokio::test]
async fn tail_of_a_room_that_ends_stops_with_the_hosts_reason() {
    let (host, (control, _)) = hosted_chat_room().await;
    for sse in [false, true] {
        let code = control.open_room(CreateRoom::default()).await.unwrap().room;
        RoomHttp::new(host.http(), code).session("Ann").await;
        let mut args = vec!["tail".to_owned(), host.room_url(code), "--json".to_owned()];
        if sse {
            args.push("--sse".to_owned());
        }
        let out = Watched::default();
        let tail = tokio::spawn({
            let out = out.clone();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                rex_watched(&args, out).await
            }
        });
        // Once it follows the room (it has shown the room's first event,
        // which came on its stream), the host closes the room.
        wait_until(
            &format!("sse {sse}: tail to show room {code}'s `joined`"),
            || out.text().contains(r#""kind":"joined""#),
        )
        .await;
        assert!(control.close_room(code), "room {code} was open");
        let run = tail.await.unwrap();
        assert_eq!(run.code, 1, "sse {sse}: {}", run.out);
        assert_eq!(lines(&run.out).len(), 1, "sse {sse}: {}", run.out);
        assert!(
            run.err.contains(&format!(
                "gone: room {code} has ended; ask for the code of the next game"
            )),
            "sse {sse}: {}",
            run.err
        );
    }
    host.stop().await;
}

#[tokio::test]
async fn two_rooms_of_a_host_keep_their_own_sessions_and_events() {
    let (host, (control, first)) = hosted_chat_room().await;
    let second = control.open_room(CreateRoom::default()).await.unwrap().room;
    let rooms = [first, second];
    let urls = rooms.map(|code| host.room_url(code));
    // The second room's stream, open before anything is sent anywhere.
    let mut watching = RoomHttp::new(host.http(), second)
        .events("start=0", None)
        .await;
    assert_eq!(watching.status, 200);

    let file = temp_session_file();
    let file_arg = file.to_str().unwrap();
    for round in ["one", "two"] {
        for (url, code) in urls.iter().zip(rooms) {
            let data = format!(r#"{{"text":"{round} in {code}"}}"#);
            let run = rex(&["send", url, "say", &data, "--session-file", file_arg]).await;
            assert_eq!(run.code, 0, "{url}: {}", run.err);
        }
    }
    // A session of each room, saved under each room's URL.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let sessions = urls.clone().map(|url| {
        saved[&url]["session"]
            .as_str()
            .unwrap_or_else(|| panic!("no session saved for {url}: {saved}"))
            .to_owned()
    });
    assert_ne!(sessions[0], sessions[1], "{saved}");

    // Each room's log holds its own join and its own two messages, and
    // nothing of the other room's.
    for ((url, code), session) in urls.iter().zip(rooms).zip(&sessions) {
        let run = rex(&["tail", url, "--limit", "3", "--json"]).await;
        assert_eq!(run.code, 0, "{url}: {}", run.err);
        let events = lines(&run.out);
        let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["joined", "said", "said"], "{url}: {}", run.out);
        assert!(
            events.iter().all(|e| e["origin"] == session.as_str()),
            "{url}: {}",
            run.out
        );
        assert_eq!(events[2]["data"]["text"], format!("two in {code}"));
        let info = RoomHttp::new(host.http(), code)
            .get("/rex/v0/info")
            .await
            .json();
        assert_eq!(
            (info["head"].clone(), info["sessions"].clone()),
            (json!(3), json!(1)),
            "{url}: {info}"
        );
    }
    // The stream that was open the whole time: the second room's three
    // events, the last sent after every message to the first room.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match watching.next_line(Duration::from_secs(30)).await {
            rex_tests::Line::Event(event) => seen.push(event),
            rex_tests::Line::Heartbeat => {}
            other => panic!(
                "waiting for event {} of room {second}: {other:?}",
                seen.len()
            ),
        }
    }
    assert!(
        seen.iter().all(|e| e["origin"] == sessions[1].as_str()),
        "{seen:?}"
    );
    assert_eq!(seen[2]["data"]["text"], format!("two in {second}"));
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    drop(watching);
    host.stop().await;
}

/// What a host's factory was asked for, room by room.
type Asked = Arc<Mutex<Vec<NewRoom>>>;

/// What the factory of [`recording_host`] refuses with when a room is
/// asked for with `--set refuse=true`: a reason with a terminal escape.
const REFUSAL: &str = "no rooms tonight\u{1b}[2J";

/// A host of chat rooms that records what its factory is asked for, and
/// refuses a room whose settings say `"refuse": true`.
fn recording_host(asked: &Asked) -> HostBuilder<ChatApp> {
    let asked = asked.clone();
    Host::builder(move |room: &NewRoom| {
        asked.lock().unwrap().push(room.clone());
        if room.settings.get("refuse") == Some(&Value::Bool(true)) {
            return Err(Reject::new(REFUSAL));
        }
        Ok(ChatApp::default())
    })
    .name("Quiz Host")
}

#[tokio::test]
async fn room_new_opens_a_room_and_prints_its_url_and_code() {
    let asked = Asked::default();
    let builder = recording_host(&asked)
        .max_rooms(2)
        .room_creation_rate(Rate::unlimited());
    let (host, ()) = TestHost::start(builder, async |_| ()).await;
    let run = rex(&[
        "room",
        "new",
        &host.url(),
        "--name",
        "Friday quiz",
        "--set",
        "rounds=3",
        "--set",
        "theme=dark",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.err);
    let code: RoomCode = run.out[..4].parse().unwrap();
    let room_url = host.room_url(code);
    assert_eq!(
        run.out,
        format!("{code}  Friday quiz (app chat)\n  url  {room_url}\n")
    );
    // The factory got the name and the settings, as JSON values.
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (asked[0].code, asked[0].name.as_str()),
            (code, "Friday quiz")
        );
        assert_eq!(
            Value::Object(asked[0].settings.clone()),
            json!({"rounds": 3, "theme": "dark"})
        );
    }
    // What it printed is a room's URL the other commands take.
    let run = rex(&["info", &room_url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert!(run.out.starts_with("Friday quiz (app chat)"), "{}", run.out);

    // Refusals: the host's reason (made safe for a terminal), a failing
    // status, and what to do where a person can do something. The
    // factory's refusal first: it opens nothing.
    let run = rex(&["room", "new", &host.url(), "--set", "refuse=true"]).await;
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(
        run.err
            .contains("rejected: the room was not opened: no rooms tonight\\u{1b}[2J")
            && !run.err.contains('\x1b'),
        "{}",
        run.err
    );
    assert_eq!(asked.lock().unwrap().len(), 2);

    let run = rex(&["room", "new", &host.url(), "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let created = &lines(&run.out)[0];
    let second: RoomCode = created["room"].as_str().unwrap().parse().unwrap();
    assert_ne!(second, code);
    assert_eq!(
        created,
        &json!({"room": second.as_str(), "path": second.path(), "app": "chat",
                "name": "Quiz Host", "url": host.room_url(second)})
    );
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 3);
        assert_eq!(
            (asked[2].code, asked[2].name.as_str()),
            (second, "Quiz Host")
        );
        assert!(asked[2].settings.is_empty(), "{:?}", asked[2].settings);
    }

    // Two rooms are this host's most: `503`, and the factory is not asked.
    let run = rex(&["room", "new", &host.url()]).await;
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(
        run.err.contains("unavailable: this host has 2 rooms open"),
        "{}",
        run.err
    );
    assert!(
        run.err.contains("try again when a game has ended"),
        "{}",
        run.err
    );
    assert_eq!(
        run.err.matches("try again").count(),
        1,
        "said once: {}",
        run.err
    );
    let run = rex(&["room", "new", &host.url(), "--json"]).await;
    assert_eq!(run.code, 1);
    let refusal = &lines(&run.out)[0];
    assert_eq!(refusal["error"], "unavailable", "{refusal}");
    assert!(
        refusal["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("this host has 2 rooms open")),
        "{refusal}"
    );
    assert_eq!(asked.lock().unwrap().len(), 3);

    // A single room is no host: say how to find out what it is.
    let room = chat_room().await;
    let direct = format!("http://{}", room.addr);
    let run = rex(&["room", "new", &direct]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.err.contains(&format!("`rex info {direct}`")),
        "{}",
        run.err
    );
    let run = rex(&["room", "new", &host.url(), "--set", "rounds"]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("KEY=VALUE"), "{}", run.err);
    let run = rex(&["room"]).await;
    assert_eq!(run.code, 2);
    room.stop().await;
    host.stop().await;
}

#[tokio::test]
async fn room_new_too_fast_says_how_long_to_wait() {
    // One room a second per address, one at once.
    let builder =
        Host::builder(|_room: &NewRoom| Ok(ChatApp::default())).room_creation_rate(Rate::new(1, 1));
    let (host, ()) = TestHost::start(builder, async |_| ()).await;
    let http = host.http();
    // A room opened over HTTP takes this address's only try; the tool,
    // right after, is refused. A machine so slow that a second passed in
    // between lets the tool's room open instead: then try again.
    let mut tries = 0;
    let run = loop {
        tries += 1;
        assert!(tries <= 20, "20 tries and `rex room new` was never refused");
        let before = Instant::now();
        let first = http.post("/rex/v0/rooms").json(&json!({})).send().await;
        let run = rex(&["room", "new", &host.url()]).await;
        if run.code != 0 {
            break run;
        }
        assert!(
            first.status != 201 || before.elapsed() >= Duration::from_secs(1),
            "two rooms opened within a second ({:?}) at one a second",
            before.elapsed()
        );
    };
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(
        run.err
            .contains("too_many_requests: this address (127.0.0.1) opens rooms faster than"),
        "{}",
        run.err
    );
    assert!(run.err.contains("try again in 1 s"), "{}", run.err);
    host.stop().await;
}

#[tokio::test]
async fn info_on_a_host_describes_the_host() {
    let (host, _) = hosted_chat_room().await;
    let run = rex(&["info", &host.url()]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    let url = host.url();
    assert_eq!(
        run.out,
        format!(
            "Quiz Host (app chat, a host of rooms)\n  url       {url}\n  protocol  0\n  \
             rooms     1 of 100\ncreate a room with rex room new {url}\n"
        )
    );
    let run = rex(&["info", &host.url(), "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(
        lines(&run.out)[0],
        json!({"app": "chat", "name": "Quiz Host", "protocol": 0, "rooms": 1, "max_rooms": 100,
               "hosts_rooms": true})
    );
    // Neither a room nor a host: the room's `404` is the answer.
    let run = rex(&["info", &format!("{}/elsewhere", host.url())]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.starts_with("rex: not_found: "), "{}", run.err);
    host.stop().await;
}

/// A room of a group of hosts (`docs/protocol.md` §16) reached through a
/// host that is not its owner: `rex info` names the owner, and `rex tail`,
/// in both framings, follows the redirect and then stays with the owner,
/// across a cut stream too.
#[tokio::test]
async fn tail_through_a_host_that_is_not_the_owner_follows_to_the_owner() {
    let (host, (_, code)) = hosted_chat_room().await;
    let owner = Proxy::start(host.addr).await;
    let owner_room = format!("http://{}{}", owner.addr(), code.path());
    let wrong = Redirector::start(&format!("http://{}", owner.addr())).await;
    let url = format!("{}{}", wrong.url(), code.path());
    let room = RoomHttp::new(host.http(), code);
    room.session("Ann").await;

    let run = rex(&["info", &url]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    for row in [
        format!("  url       {url}"),
        format!("  owner     {owner_room}"),
    ] {
        assert!(run.out.lines().any(|l| l == row), "{row}\n{}", run.out);
    }

    let mut head = 1;
    for sse in [false, true] {
        let before = wrong.seen().len();
        let limit = (head + 2).to_string();
        let mut args = vec!["tail", &url, "--limit", &limit, "--json"];
        if sse {
            args.push("--sse");
        }
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let out = Watched::default();
        let tail = tokio::spawn({
            let out = out.clone();
            async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                rex_watched(&args, out).await
            }
        });
        // Once it shows the whole log so far, its stream is cut; it
        // reconnects, and shows what comes next.
        wait_until(&format!("sse {sse}: tail to show {head} events"), || {
            out.text().lines().count() == head
        })
        .await;
        owner.cut_all();
        room.session("Bob").await;
        room.session("Cy").await;
        let run = tail.await.unwrap();
        assert_eq!(run.code, 0, "sse {sse}: {}", run.err);
        let indexes: Vec<u64> = lines(&run.out)
            .iter()
            .map(|e| e["index"].as_u64().unwrap())
            .collect();
        head += 2;
        assert_eq!(indexes, (0..head as u64).collect::<Vec<_>>(), "sse {sse}");
        // Only its first request went to the host that is not the owner.
        assert_eq!(
            wrong.seen_paths()[before..],
            [format!("GET {}/rex/v0/info", code.path())],
            "sse {sse}"
        );
    }
    owner.shutdown();
    host.stop().await;
}
