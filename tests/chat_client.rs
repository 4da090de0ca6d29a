//! The `chat-client` example binary as a person uses it: a child process
//! whose stdin is typed into and whose output is read line by line, against
//! a real chat server on 127.0.0.1 (always given by URL, so no discovery).
//! It rejoins by itself when the room restarts, saves its session on
//! SIGTERM so a restart shows only what was missed, tells two people of
//! the same name apart, and says once that it lost the room and once that
//! it is back, however many attempts it took.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use rex::{Credentials, RetryPolicy, Server, StreamItem};
use rex_examples::chat::{ChatApp, ChatEvent, ChatMsgClient};
use rex_tests::example::{example_binary, Lines, PATIENCE};
use rex_tests::proxy::Proxy;
use rex_tests::TestServer;
use tokio::time::Instant;

type ChatClient = ChatMsgClient;

async fn start() -> TestServer<ChatApp> {
    TestServer::start(Server::builder(ChatApp::default()).name("REx chat")).await
}

/// Another person in the room, through the typed client.
async fn person(url: &str, name: &str) -> ChatClient {
    ChatClient::builder(url)
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

/// A running `chat-client`: its keyboard, and its output as lines. Killed
/// when dropped, so a failing test leaves no process behind.
struct Terminal {
    child: Child,
    stdin: Option<ChildStdin>,
    /// What it prints: stdout, and stderr prefixed `stderr: `.
    output: Lines,
}

impl Terminal {
    async fn start(url: &str, args: &[&str]) -> Terminal {
        let bin = tokio::task::spawn_blocking(|| example_binary("chat-client"))
            .await
            .unwrap();
        let mut child = Command::new(bin)
            .arg(url)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Lines::of_child("chat-client", &mut child);
        Terminal {
            stdin: child.stdin.take(),
            child,
            output,
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    async fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.output.until(what, wanted).await
    }

    async fn until_line(&mut self, exact: &str) -> String {
        self.output.until_line(exact).await
    }

    /// Sends SIGTERM, as `kill` or a service manager does.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit and for the rest of its output.
    async fn exit(&mut self) -> ExitStatus {
        // Both pipes closed: the process is gone, or about to be.
        self.output.to_end().await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chat-client closed its output but did not exit within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many lines printed so far are exactly `line`.
    fn count(&self, line: &str) -> usize {
        self.output.seen.iter().filter(|l| *l == line).count()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A directory of its own under the system's temporary one, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("rex-chat-client-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn saved(path: &Path) -> Credentials {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_room_restarts_the_client_rejoins_and_says_the_line() {
    let first = start().await;
    // The room's address stays while the server behind it is replaced.
    let proxy = Proxy::start(first.addr).await;
    let url = format!("http://{}", proxy.addr());
    let dir = TempDir::new();
    let file = dir.0.join("alice.json");
    let mut alice = Terminal::start(
        &url,
        &["--name", "Alice", "--session-file", file.to_str().unwrap()],
    )
    .await;
    alice.until_line("* Alice joined").await;
    alice.type_line("/nick Alicia");
    alice.until_line("* Alice is now Alicia").await;
    let old = saved(&file).session;

    first.stop().await;
    let second = start().await;
    proxy.retarget(second.addr);
    proxy.cut_all();
    // Typed while the client may or may not have noticed the restart yet:
    // either way, the line is said in the new room.
    alice.type_line("hello again");
    alice
        .until_line("* the room restarted; rejoined as Alicia")
        .await;
    alice.until_line("[Alicia] hello again").await;

    // The session file holds the new session, which the new room knows by
    // the same name.
    let new = saved(&file).session;
    assert_ne!(new, old);
    let name = second
        .handle
        .run(move |app, _| app.name_of(new).map(str::to_owned))
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("Alicia"));

    // Restarted again with nothing typed: the event stream alone tells the
    // client, which rejoins before anything is said.
    second.stop().await;
    let third = start().await;
    proxy.retarget(third.addr);
    proxy.cut_all();
    alice
        .until_line("* the room restarted; rejoined as Alicia")
        .await;
    let newer = saved(&file).session;
    assert_ne!(newer, new);
    let name = third
        .handle
        .run(move |app, _| app.name_of(newer).map(str::to_owned))
        .await
        .unwrap();
    assert_eq!(name.as_deref(), Some("Alicia"));
    alice.type_line("third room");
    alice.until_line("[Alicia] third room").await;

    alice.type_line("/quit");
    assert!(alice.exit().await.success(), "{:#?}", alice.output.seen);
    assert_eq!(
        alice.count("* the room restarted; rejoined as Alicia"),
        2,
        "{:#?}",
        alice.output.seen
    );
    assert_eq!(
        alice.count("[Alicia] hello again"),
        1,
        "{:#?}",
        alice.output.seen
    );
    // Nothing of the protocol reaches the person.
    assert!(
        !alice
            .output
            .seen
            .iter()
            .any(|l| l.contains("/rex/v0") || l.contains("unauthorized") || l.contains("token")),
        "{:#?}",
        alice.output.seen
    );
    proxy.shutdown();
    third.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_a_restarted_client_shows_only_what_it_missed_once() {
    let server = start().await;
    let url = format!("http://{}", server.addr);
    let bob = person(&url, "Bob").await;
    let dir = TempDir::new();
    let file = dir.0.join("alice.json");
    let args = ["--name", "Alice", "--session-file", file.to_str().unwrap()];

    let mut alice = Terminal::start(&url, &args).await;
    alice.until_line("* Alice joined").await;
    bob.say("before the break").await.unwrap();
    alice.until_line("[Bob] before the break").await;
    alice.terminate();
    let status = alice.exit().await;
    assert!(
        status.success(),
        "{status}; printed:\n{:#?}",
        alice.output.seen
    );
    drop(alice);

    bob.say("while away 1").await.unwrap();
    bob.say("while away 2").await.unwrap();
    let mut alice = Terminal::start(&url, &args).await;
    alice
        .until("the welcome back", |l| l.starts_with("* welcome back"))
        .await;
    alice.until_line("[Bob] while away 2").await;
    // A line said now marks the end of what the restart printed.
    bob.say("back again").await.unwrap();
    alice.until_line("[Bob] back again").await;
    // The end of input leaves, saving too.
    alice.stdin = None;
    assert!(alice.exit().await.success(), "{:#?}", alice.output.seen);

    for (line, times) in [
        ("[Bob] while away 1", 1),
        ("[Bob] while away 2", 1),
        ("[Bob] back again", 1),
        ("[Bob] before the break", 0),
        ("* Bob joined", 0),
        ("* Alice joined", 0),
    ] {
        assert_eq!(
            alice.count(line),
            times,
            "`{line}` after the restart; printed:\n{:#?}",
            alice.output.seen
        );
    }

    // The end of input saved it too: a third start shows nothing old.
    let mut alice = Terminal::start(&url, &args).await;
    alice
        .until("the welcome back", |l| l.starts_with("* welcome back"))
        .await;
    bob.say("third time").await.unwrap();
    alice.until_line("[Bob] third time").await;
    alice.type_line("/quit");
    assert!(alice.exit().await.success(), "{:#?}", alice.output.seen);
    assert!(
        !alice
            .output
            .seen
            .iter()
            .any(|l| l.starts_with("[Bob] ") && l != "[Bob] third time"),
        "old lines again:\n{:#?}",
        alice.output.seen
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_room_is_said_once_and_so_is_its_return() {
    let server = start().await;
    let proxy = Proxy::start(server.addr).await;
    let url = format!("http://{}", proxy.addr());
    let mut alice = Terminal::start(&url, &["--name", "Alice"]).await;
    alice.until_line("* Alice joined").await;

    // The room out of reach: every connection is closed before a byte of
    // its answer gets through.
    let before = proxy.connections();
    proxy.cut_after_server_bytes(Some(0));
    proxy.cut_all();
    alice.until_line("* reconnecting…").await;
    // Attempts fail, each a new connection through the proxy, and the
    // client says nothing more about them.
    let deadline = Instant::now() + PATIENCE;
    while proxy.connections() < before + 4 {
        assert!(
            Instant::now() < deadline,
            "chat-client did not try to reconnect three times within {PATIENCE:?} ({} connections, {before} before)",
            proxy.connections()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut_after_server_bytes(None);
    alice.until_line("* connected again").await;
    alice.type_line("still here");
    alice.until_line("[Alice] still here").await;

    alice.type_line("/quit");
    assert!(alice.exit().await.success(), "{:#?}", alice.output.seen);
    assert_eq!(
        alice.count("* reconnecting…"),
        1,
        "{:#?}",
        alice.output.seen
    );
    assert_eq!(
        alice.count("* connected again"),
        1,
        "{:#?}",
        alice.output.seen
    );
    proxy.shutdown();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_of_one_name_are_told_apart_by_their_ids() {
    let server = start().await;
    let url = format!("http://{}", server.addr);
    let bob1 = person(&url, "Bob").await;
    let bob2 = person(&url, "Bob").await;
    let hex = |bob: &ChatClient| bob.session().unwrap().to_string().replace('-', "");
    let (id1, id2) = (hex(&bob1), hex(&bob2));
    let mut alice = Terminal::start(&url, &["--name", "Alice"]).await;
    // The log's order: both Bobs joined before Alice, so she knows them.
    alice.until_line("* Alice joined").await;

    alice.type_line("/w Bob psst");
    let several = alice
        .until("the ambiguity", |l| {
            l.starts_with("! several people are called Bob: ")
        })
        .await;
    // It lists both, each with the id that picks it, and says how to pick.
    let (_, listed) = several.split_once(": ").unwrap();
    let (listed, how) = listed.split_once("; ").unwrap();
    assert!(how.contains("by its id, like /w Bob#"), "{several}");
    let handles: Vec<&str> = listed.split(", ").collect();
    assert_eq!(handles.len(), 2, "{several}");
    let handle2 = handles
        .iter()
        .find(|h| id2.starts_with(h.strip_prefix("Bob#").unwrap()))
        .unwrap_or_else(|| panic!("no handle for {id2} in {several}"));
    assert!(
        handles.iter().any(|h| id1.starts_with(&h["Bob#".len()..])),
        "no handle for {id1} in {several}"
    );

    let mut whispers = bob2.events_from(0);
    alice.type_line(&format!("/w {handle2} psst"));
    alice
        .until_line(&format!("(you whisper to {handle2}) psst"))
        .await;
    let heard = tokio::time::timeout(PATIENCE, async {
        while let Some(item) = whispers.next().await {
            if let StreamItem::Event(e) = item.unwrap() {
                if let ChatEvent::Whispered { to, text, .. } = e.event {
                    return (to, text);
                }
            }
        }
        panic!("Bob's stream ended");
    })
    .await
    .expect("the second Bob heard no whisper");
    assert_eq!(heard, (bob2.session().unwrap(), "psst".to_owned()));

    // `/who` lists the room by name, with the ids, and marks you.
    alice.type_line("/who");
    alice.until_line("* in the room (3):").await;
    let mut listed = Vec::new();
    for _ in 0..3 {
        listed.push(alice.until("a person", |l| l.starts_with("*   ")).await);
    }
    assert!(
        listed[0].starts_with("*   Alice#") && listed[0].ends_with(" (you)"),
        "{listed:#?}"
    );
    assert!(
        listed[1..].iter().all(|l| l.starts_with("*   Bob#")),
        "{listed:#?}"
    );
    assert!(listed.contains(&format!("*   {handle2}")), "{listed:#?}");

    alice.type_line("/help");
    alice
        .until("the help", |l| l.contains("/w NAME text"))
        .await;
    alice.type_line("/frob");
    alice
        .until_line("! there is no command /frob; /help lists the commands")
        .await;
    alice.type_line("/quit");
    assert!(alice.exit().await.success(), "{:#?}", alice.output.seen);
    server.stop().await;
}

/// A name and a text made of terminal escapes (set the window title, ring
/// the bell, clear the screen, colour) reach the terminal as visible
/// characters, never raw. Names are refused such characters by the server
/// now, so the hostile name arrives the way that is still allowed: a rename
/// to a payload the app accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_from_other_people_never_reach_the_terminal_raw() {
    let server = start().await;
    let url = format!("http://{}", server.addr);
    let mut alice = Terminal::start(&url, &["--name", "Alice"]).await;
    alice.until_line("* Alice joined").await;
    let mallory = person(&url, "Mallory").await;
    alice.until_line("* Mallory joined").await;

    let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}H";
    mallory.rename(hostile.to_owned()).await.unwrap();
    mallory
        .say("\u{1b}[31mred\u{7}\r\nforged line".to_owned())
        .await
        .unwrap();
    let shown = r"\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}H";
    alice.until_line(&format!("* Mallory is now {shown}")).await;
    alice
        .until_line(&format!(
            r"[{shown}] \u{{1b}}[31mred\u{{7}}\u{{d}}\u{{a}}forged line"
        ))
        .await;
    alice.type_line("/who");
    let prefix = format!("*   {shown}#");
    alice
        .until("the hostile name in /who", |l| l.starts_with(&prefix))
        .await;
    for line in &alice.output.seen {
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a control character reached the terminal: {line:?}"
        );
    }
    server.stop().await;
}
