//! A host of a group killed mid-traffic (issue 18): three hosts as three
//! processes on loopback, 100 rooms with a writer and a reader each
//! (typed clients that follow `307` and fall back to the other hosts);
//! one host gets `SIGKILL`. Every one of its rooms is served again within
//! the lease time + 1 s; every acknowledged message is in its room's log
//! exactly once; no reader saw a resync or an index twice.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use http::Method;
use rex::{Client, Endpoint, StreamItem};
use rex_tests::group::{get, request, Group};
use rex_tests::probe::{patient, Ev, Msg};
use serde_json::json;

const PROBE: &str = env!("CARGO_BIN_EXE_rex-durable-probe");
const ROOMS: usize = 100;
const HOSTS: usize = 3;
const LEASE: Duration = Duration::from_secs(2);
/// How long anything may take before the test gives up and says what it
/// waited for.
const PATIENCE: Duration = Duration::from_secs(120);
/// Between one writer's notes: enough traffic to kill the host mid-write
/// in many rooms, little enough for 200 clients on a busy 2-core machine.
const PACE: Duration = Duration::from_millis(100);

/// Room `code` at every host, `first` first: where its clients start, and
/// where they go back to when the host they were sent to stops answering.
fn endpoint(group: &Group, code: &str, first: usize) -> Endpoint {
    let addrs = (0..HOSTS).map(|i| group.hosts[(first + i) % HOSTS].addr);
    Endpoint::from_addrs(addrs)
        .and_then(|e| e.append_path(&format!("/r/{code}")))
        .expect("a room endpoint")
}

struct Room {
    code: String,
    owner: usize,
    /// Notes acknowledged so far (shared with the writer).
    acked: Arc<AtomicU64>,
}

async fn write(endpoint: Endpoint, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> Vec<u64> {
    let client = Client::<Msg>::builder(endpoint)
        .name("writer")
        .retry(patient())
        .connect()
        .await
        .expect("the writer joins");
    let mut receipts = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let seq = receipts.len() as u64;
        match client.send(&Msg::Note { writer: 0, seq }).await {
            Ok(receipt) => {
                assert_eq!(receipt.count, 1, "note {seq}: {receipt:?}");
                receipts.push(receipt.first);
                acked.store(receipts.len() as u64, Ordering::SeqCst);
            }
            // A refusal means the app saw a note twice or missed one.
            Err(e) => panic!("note {seq}: {e}"),
        }
        tokio::time::sleep(PACE).await;
    }
    receipts
}

#[derive(Default)]
struct Seen {
    events: Vec<(u64, Ev)>,
    resyncs: Vec<String>,
}

async fn read(endpoint: Endpoint, until: tokio::sync::watch::Receiver<Option<u64>>) -> Seen {
    let mut until = until;
    let client = Client::<Msg>::builder(endpoint)
        .anonymous()
        .retry(patient())
        .connect()
        .await
        .expect("the reader connects");
    let mut events = client.events_from(0);
    let mut seen = Seen::default();
    loop {
        if until
            .borrow()
            .is_some_and(|head| seen.events.len() as u64 >= head)
        {
            return seen;
        }
        let item = tokio::select! {
            item = events.next() => item,
            _ = until.changed() => continue,
        };
        match item {
            Some(Ok(StreamItem::Event(e))) => seen.events.push((e.meta.index, e.event)),
            Some(Ok(StreamItem::Resync(r))) => seen.resyncs.push(format!("{r:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) if e.is_transient() => {}
            Some(Err(e)) => panic!("the reader's stream failed: {e}"),
            None => panic!("the reader's stream ended"),
        }
    }
}

/// Waits until every room in `rooms` has at least `n` notes acknowledged.
async fn until_acked(rooms: &[Room], n: impl Fn(&Room) -> u64, what: &str) {
    let start = Instant::now();
    while rooms.iter().any(|r| r.acked.load(Ordering::SeqCst) < n(r)) {
        assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls room `code` at `host` until some host serves it; follows one
/// `307` per try. Returns when it was served.
async fn served(group: &Group, code: &str, host: usize) -> Instant {
    let start = Instant::now();
    loop {
        let mut url = format!("{}/r/{code}/rex/v0/info", group.url(host));
        for _ in 0..2 {
            match get(&url).await {
                Ok(answer) if answer.status == 200 => return Instant::now(),
                Ok(answer) if answer.status == 307 => match answer.location() {
                    Some(location) => url = location.to_owned(),
                    None => panic!("a 307 without Location: {:?}", answer.body),
                },
                Ok(answer) => panic!("{url}: {} {:?}", answer.status, answer.body),
                // The dead host, which the lease still names.
                Err(_) => break,
            }
        }
        assert!(
            start.elapsed() < PATIENCE,
            "room {code} was not served again within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_hosts_rooms_are_served_again_with_nothing_lost() {
    let Some(mut group) = Group::start(PROBE, HOSTS, LEASE).await else {
        return;
    };
    let mut rooms = Vec::new();
    for i in 0..ROOMS {
        let owner = i % HOSTS;
        let answer = request(
            Method::POST,
            &format!("{}/rex/v0/rooms", group.url(owner)),
            None,
            Some(json!({})),
        )
        .await
        .expect("open a room");
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        let code = answer.json()["room"].as_str().expect("a code").to_owned();
        rooms.push(Room {
            code,
            owner,
            acked: Arc::new(AtomicU64::new(0)),
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    let mut untils = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        // Clients start at any host, often not the owner: they follow the
        // 307 there.
        let first = (i / HOSTS + i) % HOSTS;
        writers.push(tokio::spawn(write(
            endpoint(&group, &room.code, first),
            stop.clone(),
            room.acked.clone(),
        )));
        let (until_tx, until_rx) = tokio::sync::watch::channel(None);
        untils.push(until_tx);
        readers.push(tokio::spawn(read(
            endpoint(&group, &room.code, (first + 1) % HOSTS),
            until_rx,
        )));
    }
    until_acked(&rooms, |_| 3, "3 notes in every room before the kill").await;
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..300))).await;
    let killed = Instant::now();
    group.kill(0);
    let at_kill: Vec<u64> = rooms
        .iter()
        .map(|r| r.acked.load(Ordering::SeqCst))
        .collect();

    // Every room of the dead host is served again, soon.
    let probes: Vec<_> = rooms
        .iter()
        .filter(|r| r.owner == 0)
        .map(|r| served(&group, &r.code, 1 + fastrand::usize(0..HOSTS - 1)))
        .collect();
    let back = futures_util::future::join_all(probes).await;
    let slowest = back
        .iter()
        .map(|at| at.duration_since(killed))
        .max()
        .unwrap_or_default();
    eprintln!(
        "the {} rooms of the killed host were all served again {slowest:?} after the kill \
         (lease {LEASE:?})",
        back.len()
    );
    assert!(
        slowest <= LEASE + Duration::from_secs(1),
        "a room of the killed host was served again only {slowest:?} after the kill; \
         the lease is {LEASE:?}"
    );
    // Traffic goes on in every room, on the hosts that serve them now.
    until_acked(
        &rooms,
        |r| {
            let i = rooms.iter().position(|x| x.code == r.code).unwrap_or(0);
            at_kill[i] + 3
        },
        "3 more notes in every room after the kill",
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for writer in writers {
        written.push(writer.await.expect("a writer"));
    }
    // Each reader reads to the end of what its room's writer wrote, and
    // what it saw is the room's whole log.
    for (room, ((reader, until), receipts)) in rooms
        .iter()
        .zip(readers.into_iter().zip(untils).zip(&written))
    {
        let head = receipts.last().map_or(0, |last| last + 1);
        let _ = until.send(Some(head));
        let seen = reader.await.expect("a reader");
        let code = &room.code;
        assert!(
            seen.resyncs.is_empty(),
            "room {code}: resyncs {:?}",
            seen.resyncs
        );
        assert_eq!(
            seen.events.len() as u64,
            head,
            "room {code}: one event per note"
        );
        for (i, (index, event)) in seen.events.iter().enumerate() {
            assert_eq!(*index, i as u64, "room {code}: no gap, no repeat");
            assert_eq!(
                *event,
                Ev::Noted {
                    writer: 0,
                    seq: i as u64
                },
                "room {code}: note {i} in order, once"
            );
        }
        for (seq, &index) in receipts.iter().enumerate() {
            assert_eq!(
                index, seq as u64,
                "room {code}: note {seq}'s receipt points at its event"
            );
        }
    }
}
