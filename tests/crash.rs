//! Durable rooms under `SIGKILL`: a server with a data directory is killed
//! at random moments, over and over, while writers send numbered notes
//! (with message ids, retried until answered) and readers follow the log
//! (the typed client and `rex tail`). Nothing acknowledged may be lost or
//! repeated, no reader may see an index twice or miss one, and nobody may
//! be told to resync: after each restart the room is the room it was.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rex::{Client, Epoch, StreamItem};
use rex_tests::cli::ChannelWriter;
use rex_tests::example::Lines;
use rex_tests::probe::{patient, Ev, Msg, Tally};
use tokio::sync::mpsc;

/// How many times the server is killed.
const KILLS: usize = 24;
const WRITERS: u32 = 3;
const READERS: usize = 2;
/// How long anything may take before the test gives up and says what it
/// waited for.
const PATIENCE: Duration = Duration::from_secs(120);

/// One run of the probe server.
struct Probe {
    child: Child,
    lines: Lines,
}

impl Probe {
    async fn start(data: &Path, addr: SocketAddr) -> Probe {
        Probe::run(data, addr, &[]).await
    }

    /// A durable host of rooms instead of one room.
    async fn host(data: &Path, addr: SocketAddr) -> Probe {
        Probe::run(data, addr, &["--host"]).await
    }

    async fn run(data: &Path, addr: SocketAddr, extra: &[&str]) -> Probe {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rex-durable-probe"))
            .arg("--data")
            .arg(data)
            .arg("--addr")
            .arg(addr.to_string())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rex-durable-probe");
        let mut lines = Lines::of_child("rex-durable-probe", &mut child);
        lines
            .until("`listening on`", |l| l.starts_with("listening on"))
            .await;
        Probe { child, lines }
    }

    /// `SIGKILL` (what `Child::kill` sends on Unix): no shutdown, no flush.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the probe");
        self.child.wait().expect("reap the probe");
        self.lines.drain();
        let errors: Vec<_> = self
            .lines
            .seen
            .iter()
            .filter(|l| l.starts_with("stderr:") && l.contains("ERROR"))
            .collect();
        assert!(errors.is_empty(), "the probe logged errors: {errors:?}");
    }
}

/// What one writer sent: note `seq` was answered with the event at
/// `receipts[seq]`.
struct Written {
    writer: u32,
    receipts: Vec<u64>,
}

async fn write(url: String, writer: u32, stop: Arc<AtomicBool>) -> Written {
    let client = Client::<Msg>::builder(url.as_str())
        .name(format!("writer {writer}"))
        .retry(patient())
        .connect()
        .await
        .expect("the writer joins");
    let mut receipts = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let seq = receipts.len() as u64;
        match client.send(&Msg::Note { writer, seq }).await {
            Ok(receipt) => {
                assert_eq!(
                    receipt.count, 1,
                    "note {seq} of writer {writer}: {receipt:?}"
                );
                receipts.push(receipt.first);
            }
            // A refusal means the app saw a note twice or missed one.
            Err(e) => panic!("writer {writer}, note {seq}: {e}"),
        }
    }
    Written { writer, receipts }
}

/// What one reader saw, in order.
#[derive(Default)]
struct Seen {
    events: Vec<(u64, Ev)>,
    resyncs: Vec<String>,
    reconnects: usize,
}

async fn read(
    url: String,
    upto: mpsc::UnboundedSender<u64>,
    mut until: tokio::sync::watch::Receiver<Option<u64>>,
) -> Seen {
    let client = Client::<Msg>::builder(url.as_str())
        .anonymous()
        .retry(patient())
        .connect()
        .await
        .expect("the reader connects");
    let mut events = client.events_from(0);
    let mut seen = Seen::default();
    loop {
        let head = *until.borrow();
        if head.is_some_and(|head| seen.events.len() as u64 >= head) {
            return seen;
        }
        let item = tokio::select! {
            item = events.next() => item,
            _ = until.changed() => continue,
        };
        match item {
            Some(Ok(StreamItem::Event(e))) => {
                let _ = upto.send(e.meta.index);
                seen.events.push((e.meta.index, e.event));
            }
            Some(Ok(StreamItem::Resync(r))) => seen.resyncs.push(format!("{r:?}")),
            Some(Ok(StreamItem::Connection(rex::Connection::Reconnecting { .. }))) => {
                seen.reconnects += 1;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) if e.is_transient() => {}
            Some(Err(e)) => panic!("the reader's stream failed: {e}"),
            None => panic!("the reader's stream ended"),
        }
    }
}

async fn epoch_of(url: &str) -> Epoch {
    let client = Client::<Msg>::builder(url)
        .anonymous()
        .retry(patient())
        .connect()
        .await
        .expect("connect for /info");
    client.info().await.expect("GET /info").epoch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_across_repeated_sigkills() {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let data = dir.path().join("room");
    let addr = rex_tests::example::restartable_addr();
    let url = format!("http://{addr}");
    let mut probe = Probe::start(&data, addr).await;
    let epoch = epoch_of(&url).await;

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write(url.clone(), w, stop.clone())))
        .collect();
    let (until_tx, until_rx) = tokio::sync::watch::channel(None);
    let (progress_tx, mut progress) = mpsc::unbounded_channel();
    let readers: Vec<_> = (0..READERS)
        .map(|_| tokio::spawn(read(url.clone(), progress_tx.clone(), until_rx.clone())))
        .collect();
    drop(progress_tx);
    let (tail_tx, mut tail_rx) = mpsc::unbounded_channel();
    let tail_url = url.clone();
    let tail = tokio::spawn(async move {
        let mut out = ChannelWriter(tail_tx.clone(), Vec::new());
        let mut err = ChannelWriter(tail_tx, Vec::new());
        rex::cli::run(
            ["rex", "--json", "tail", &tail_url],
            &mut out,
            &mut err,
            false,
        )
        .await
    });

    // Kill at random moments: sometimes right after a restart, sometimes
    // after a while of traffic, always with writes in flight.
    for kill in 0..KILLS {
        let uptime = Duration::from_millis(fastrand::u64(20..600));
        tokio::time::sleep(uptime).await;
        probe.kill();
        probe = Probe::start(&data, addr).await;
        assert_eq!(
            epoch_of(&url).await,
            epoch,
            "the epoch changed at restart {}",
            kill + 1
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for writer in writers {
        written.push(
            tokio::time::timeout(PATIENCE, writer)
                .await
                .expect("the writers finish their last note")
                .expect("a writer failed"),
        );
    }
    let total: usize = written.iter().map(|w| w.receipts.len()).sum();
    assert!(
        written.iter().all(|w| w.receipts.len() > KILLS),
        "every writer got through at least one note per restart: {:?}",
        written.iter().map(|w| w.receipts.len()).collect::<Vec<_>>()
    );

    // Every reader follows to the head.
    let head = total as u64;
    until_tx.send_replace(Some(head));
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    for reader in readers {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(
            tokio::time::timeout(left, reader)
                .await
                .unwrap_or_else(|_| panic!("a reader did not reach the head {head} in time"))
                .expect("a reader failed"),
        );
    }
    while progress.try_recv().is_ok() {}

    // The whole log, from the final server, in one read.
    let log = seen[0].events.clone();
    assert_eq!(log.len() as u64, head, "one event per acknowledged note");
    for (i, (index, _)) in log.iter().enumerate() {
        assert_eq!(*index, i as u64, "the log has no gaps and no repeats");
    }
    // Every acknowledged note is in the log exactly once, where its
    // receipt says, and each writer's notes are in send order.
    let mut by_writer: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (_, event) in &log {
        if let Ev::Noted { writer, seq } = event {
            by_writer.entry(*writer).or_default().push(*seq);
        }
    }
    for w in &written {
        let notes = by_writer.remove(&w.writer).unwrap_or_default();
        let sent: Vec<u64> = (0..w.receipts.len() as u64).collect();
        assert_eq!(
            notes, sent,
            "writer {}'s notes, in order, once each",
            w.writer
        );
        for (seq, &index) in w.receipts.iter().enumerate() {
            assert_eq!(
                log[index as usize].1,
                Ev::Noted {
                    writer: w.writer,
                    seq: seq as u64
                },
                "the receipt of note {seq} of writer {} points at its event",
                w.writer
            );
        }
    }
    assert!(by_writer.is_empty(), "notes nobody sent: {by_writer:?}");

    // Readers saw each index once, none skipped, and were never told to
    // resync; they did reconnect (the kills were real).
    for (r, reader) in seen.iter().enumerate() {
        assert!(
            reader.resyncs.is_empty(),
            "reader {r} resynced: {:?}",
            reader.resyncs
        );
        assert_eq!(reader.events, log, "reader {r} saw exactly the log");
        assert!(reader.reconnects > 0, "reader {r} never noticed a kill");
    }

    // `rex tail` too: every index once, in order, and no resync.
    let mut tail_lines = Vec::new();
    let mut tail_indexes = Vec::new();
    while (tail_indexes.len() as u64) < head {
        let line = tokio::time::timeout_at(deadline.into(), tail_rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "`rex tail` did not reach the head {head}; it printed {} lines, the last: {:?}",
                    tail_lines.len(),
                    tail_lines.last()
                )
            })
            .expect("`rex tail` keeps running");
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
            assert!(value.get("resync").is_none(), "`rex tail` resynced: {line}");
            if let Some(index) = value.get("index").and_then(|i| i.as_u64()) {
                tail_indexes.push(index);
            }
        }
        tail_lines.push(line);
    }
    tail.abort();
    assert_eq!(
        tail_indexes,
        (0..head).collect::<Vec<_>>(),
        "`rex tail` printed every index once, in order"
    );

    // The app's state is a replay of its log.
    let client = Client::<Msg>::builder(url.as_str())
        .anonymous()
        .connect()
        .await
        .expect("connect for the snapshot");
    let snapshot = client.snapshot::<Tally>().await.expect("GET /snapshot");
    assert_eq!(snapshot.index, head);
    assert_eq!(
        snapshot.state,
        Tally::replay(log.iter().map(|(_, e)| e)),
        "the app's state equals a replay of its log"
    );
    probe.kill();
}

/// How many rooms the killed host holds.
const HOSTED_ROOMS: usize = 50;

/// The per-room checks: every acknowledged note once, in order, where its
/// receipt says; the reader saw exactly that log and never resynced.
fn check_room(url: &str, written: &Written, seen: &Seen) {
    let log = &seen.events;
    assert_eq!(
        log.len(),
        written.receipts.len(),
        "{url}: one event per acknowledged note"
    );
    for (i, (index, event)) in log.iter().enumerate() {
        assert_eq!(
            *index, i as u64,
            "{url}: the log has no gaps and no repeats"
        );
        assert_eq!(
            *event,
            Ev::Noted {
                writer: written.writer,
                seq: i as u64
            },
            "{url}: note {i} in order, once"
        );
    }
    for (seq, &index) in written.receipts.iter().enumerate() {
        assert_eq!(
            index, seq as u64,
            "{url}: the receipt of note {seq} points at its event"
        );
    }
    assert!(
        seen.resyncs.is_empty(),
        "{url}: the reader resynced: {:?}",
        seen.resyncs
    );
    assert!(
        seen.reconnects > 0,
        "{url}: the reader never noticed the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_mid_traffic_brings_back_every_room_and_its_clients_resume() {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    let data = dir.path().join("host");
    let addr = rex_tests::example::restartable_addr();
    let probe = Probe::host(&data, addr).await;
    let http = rex_tests::Http { addr };
    let mut urls = Vec::new();
    for _ in 0..HOSTED_ROOMS {
        let reply = http
            .post("/rex/v0/rooms")
            .json(&serde_json::json!({}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "opening a room: {:?}", reply.body);
        let path = reply.json()["path"]
            .as_str()
            .expect("a room path")
            .to_owned();
        urls.push(format!("http://{addr}{path}"));
    }
    let mut epochs = Vec::new();
    for url in &urls {
        epochs.push(epoch_of(url).await);
    }

    // One writer and one reader per room, all at once.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = urls
        .iter()
        .map(|url| tokio::spawn(write(url.clone(), 0, stop.clone())))
        .collect();
    let mut heads = Vec::new();
    let mut readers = Vec::new();
    for url in &urls {
        let (until_tx, until_rx) = tokio::sync::watch::channel(None);
        let (progress, _) = mpsc::unbounded_channel();
        readers.push(tokio::spawn(read(url.clone(), progress, until_rx)));
        heads.push(until_tx);
    }

    // Traffic for a random while, then SIGKILL and a restart on the same
    // address and data directory.
    tokio::time::sleep(Duration::from_millis(fastrand::u64(500..1500))).await;
    probe.kill();
    let probe = Probe::host(&data, addr).await;
    let hosted = http.get("/rex/v0/host").send().await.json();
    assert_eq!(
        hosted["rooms"], HOSTED_ROOMS as u64,
        "every room came back: {hosted}"
    );
    for (url, epoch) in urls.iter().zip(&epochs) {
        assert_eq!(
            &epoch_of(url).await,
            epoch,
            "{url}: the epoch changed at the restart"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);

    let deadline = Instant::now() + PATIENCE;
    for (((url, writer), reader), head) in urls.iter().zip(writers).zip(readers).zip(heads) {
        let left = deadline.saturating_duration_since(Instant::now());
        let written = tokio::time::timeout(left, writer)
            .await
            .unwrap_or_else(|_| panic!("{url}: the writer did not finish its last note"))
            .expect("a writer failed");
        assert!(
            !written.receipts.is_empty(),
            "{url}: the writer got through"
        );
        head.send_replace(Some(written.receipts.len() as u64));
        let left = deadline.saturating_duration_since(Instant::now());
        let seen = tokio::time::timeout(left, reader)
            .await
            .unwrap_or_else(|_| panic!("{url}: the reader did not reach the head in time"))
            .expect("a reader failed");
        check_room(url, &written, &seen);
    }
    probe.kill();
}
