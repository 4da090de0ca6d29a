//! The `rex` command-line tool, run in-process (`rex::cli::run`, what the
//! binary wraps) against real servers: `info`, `send`, `tail` over TCP on
//! 127.0.0.1, and `discover` inside a network namespace of its own.

mod netns;

use std::path::PathBuf;
use std::time::Duration;

use rex::discovery::Advertisement;
use rex::{Discovery, Server};
use rex_examples::chat::ChatApp;
use rex_tests::fake_host::FakeHost;
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
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("rex").chain(args.iter().copied());
    let code = tokio::time::timeout(
        Duration::from_secs(30),
        rex::cli::run(argv, &mut out, &mut err, false),
    )
    .await
    .expect("the tool finishes");
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
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
        let host = FakeHost::start("chat", "Quiz Host").await;
        let hosting = Advertisement::builder("chat", "Quiz Host", host.addr())
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

/// A chat room served as room KXQF of a stand-in host
/// (`rex_tests::fake_host::FakeHost`: `/r/KXQF/…` forwarded to the room's own
/// server with the path stripped).
async fn hosted_chat_room() -> (TestServer<ChatApp>, FakeHost) {
    let room = chat_room().await;
    let host = FakeHost::start("chat", "Quiz Host").await;
    host.add_room("KXQF", room.addr);
    (room, host)
}

#[tokio::test]
async fn every_command_takes_a_room_url_with_a_path() {
    let (room, host) = hosted_chat_room().await;
    let url = format!("{}/r/KXQF", host.url());

    for given in [
        url.clone(),
        format!("{url}/"),
        format!("{}/r/kxqf/rex/v0", host.url()),
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
    // One session, saved under the room's URL (another room of the same
    // host is another server, with sessions of its own).
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

    // A code no room has.
    let run = rex(&["info", &format!("{}/r/CDFG", host.url())]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("no room with this code"), "{}", run.err);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    drop(host);
    room.stop().await;
}

#[tokio::test]
async fn tail_of_a_room_that_ends_stops_with_the_hosts_reason() {
    let (room, host) = hosted_chat_room().await;
    room.client().session("Ann").await;
    let url = format!("{}/r/KXQF", host.url());
    for sse in [false, true] {
        host.add_room("KXQF", room.addr);
        let mut args = vec!["tail".to_owned(), url.clone()];
        if sse {
            args.push("--sse".to_owned());
        }
        let tail = tokio::spawn(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            rex(&args).await
        });
        // Once it follows the room, end the room.
        let streams = || {
            host.forwarded()
                .iter()
                .filter(|p| *p == "/rex/v0/events")
                .count()
        };
        let before = streams();
        tokio::time::timeout(Duration::from_secs(10), async {
            while streams() == before {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("tail follows the room");
        host.end("KXQF");
        let run = tail.await.unwrap();
        assert_eq!(run.code, 1, "sse {sse}: {}", run.out);
        assert!(
            run.err.contains("gone: this room has ended"),
            "sse {sse}: {}",
            run.err
        );
    }
    drop(host);
    room.stop().await;
}

#[tokio::test]
async fn room_new_opens_a_room_and_prints_its_url_and_code() {
    let room = chat_room().await;
    let host = FakeHost::start("chat", "Quiz Host").await;
    host.offer_room("KXQF", room.addr);
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
    let room_url = format!("{}/r/KXQF", host.url());
    assert_eq!(
        run.out,
        format!("KXQF  Friday quiz (app chat)\n  url  {room_url}\n")
    );
    assert_eq!(
        host.created_with(),
        [json!({"name": "Friday quiz", "rounds": 3, "theme": "dark"})]
    );
    // What it printed is a room's URL the other commands take.
    let run = rex(&["info", &room_url]).await;
    assert_eq!(run.code, 0, "{}", run.err);

    host.offer_room("CDFG", room.addr);
    let run = rex(&["room", "new", &host.url(), "--json"]).await;
    assert_eq!(run.code, 0, "{}", run.err);
    assert_eq!(
        lines(&run.out)[0],
        json!({"room": "CDFG", "path": "/r/CDFG", "app": "chat", "name": "Quiz Host",
               "url": format!("{}/r/CDFG", host.url())})
    );
    assert_eq!(host.created_with()[1], json!({}));

    // Refusals: the host's reason (made safe for a terminal), a failing
    // status, and what to do.
    host.refuse_next_room(
        503,
        json!({"error": "unavailable", "reason": "full\u{1b}[2J"}),
        None,
    );
    let run = rex(&["room", "new", &host.url()]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.err.contains("unavailable: full\\u{1b}[2J") && !run.err.contains('\x1b'),
        "{}",
        run.err
    );
    assert!(run.err.contains("when a room has ended"), "{}", run.err);
    host.refuse_next_room(
        429,
        json!({"error": "too_many_requests", "reason": "rooms are opened too fast", "retry_after": 7}),
        Some(7),
    );
    let run = rex(&["room", "new", &host.url()]).await;
    assert_eq!(run.code, 1);
    assert!(run.err.contains("rooms are opened too fast"), "{}", run.err);
    assert!(run.err.contains("wait 7 s"), "{}", run.err);
    host.refuse_next_room(503, json!({"error": "unavailable", "reason": "full"}), None);
    let run = rex(&["room", "new", &host.url(), "--json"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        lines(&run.out)[0],
        json!({"error": "unavailable", "reason": "full"})
    );

    // A single room is no host: say how to find out what it is.
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
    drop(host);
    room.stop().await;
}

#[tokio::test]
async fn info_on_a_host_describes_the_host() {
    let (room, host) = hosted_chat_room().await;
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
    drop(host);
    room.stop().await;
}
