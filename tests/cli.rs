//! The `rex` command-line tool, run in-process (`rex::cli::run`, what the
//! binary wraps) against real servers: `info`, `send`, `tail` over TCP on
//! 127.0.0.1, and `discover` inside a network namespace of its own.

mod netns;

use std::path::PathBuf;
use std::time::Duration;

use rex::discovery::Advertisement;
use rex::{Discovery, Server};
use rex_examples::chat::ChatApp;
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use serde_json::Value;

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

        // (Longer: a responder answers the same record at most once a
        // second, and the browse above just had it.)
        let run = rex(&["discover", "--timeout", "2.5", "--interface", "lo"]).await;
        assert_eq!(run.code, 0, "{}", run.err);
        assert_eq!(run.out, format!("Living Room TV  chat  http://{addr}\n"));

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
