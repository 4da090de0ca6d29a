//! Hosts sharing their rooms through Redis (issue 18, `docs/protocol.md`
//! §16): each room is served by one host, found from any, taken over when
//! its host dies, and never written by a host that lost it.
//!
//! Every host is a `rex-durable-probe --redis` process of the test's own
//! on loopback, with one `redis-server` per test (`appendfsync always`).

use std::time::{Duration, Instant};

use http::Method;
use rex_tests::group::{get, request, Group};
use serde_json::{json, Value};

const PROBE: &str = env!("CARGO_BIN_EXE_rex-durable-probe");
/// How long anything may take before a test gives up and says what it
/// waited for.
const PATIENCE: Duration = Duration::from_secs(60);

async fn open_room(group: &Group, host: usize) -> String {
    let answer = request(
        Method::POST,
        &format!("{}/rex/v0/rooms", group.url(host)),
        None,
        Some(json!({})),
    )
    .await
    .expect("open a room");
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.json()["room"].as_str().expect("a code").to_owned()
}

async fn join(url: &str) -> String {
    let answer = request(
        Method::POST,
        &format!("{url}/rex/v0/sessions"),
        None,
        Some(json!({"name": "ada"})),
    )
    .await
    .expect("join");
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.json()["token"].as_str().expect("a token").to_owned()
}

/// `POST room/rex/v0/messages` with `message` as session `token`.
async fn post(room: &str, token: &str, message: Value) -> rex_tests::group::Answer {
    request(
        Method::POST,
        &format!("{room}/rex/v0/messages"),
        Some(token),
        Some(message),
    )
    .await
    .unwrap_or_else(|e| panic!("posting to {room}: {e}"))
}

/// Note `seq` of `writer`, with message id `id`.
fn note(writer: u32, seq: u64, id: u64) -> Value {
    json!({"kind": "note", "data": {"writer": writer, "seq": seq}, "id": id})
}

async fn info(url: &str) -> Value {
    let answer = get(&format!("{url}/rex/v0/info")).await.expect("info");
    assert_eq!(answer.status, 200, "{url}: {:?}", answer.body);
    answer.json()
}

/// Polls `GET room/rex/v0/info` at `host` until a host serves it (not a
/// `307`), and says how long that took.
async fn served_at(group: &Group, host: usize, code: &str) -> (Value, Duration) {
    let start = Instant::now();
    loop {
        let url = format!("{}/r/{code}/rex/v0/info", group.url(host));
        if let Ok(answer) = get(&url).await {
            if answer.status == 200 {
                return (answer.json(), start.elapsed());
            }
            assert_eq!(answer.status, 307, "{url}: {:?}", answer.body);
        }
        assert!(
            start.elapsed() < PATIENCE,
            "room {code} was not served at host {host} within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_served_by_its_host_and_found_from_any_other() {
    let Some(group) = Group::start(PROBE, 3, Duration::from_secs(10)).await else {
        return;
    };
    let code = open_room(&group, 0).await;
    let owner = format!("{}/r/{code}", group.url(0));
    let token = join(&owner).await;
    let before = info(&owner).await;

    // Any path and query of the room, at another host: the same request
    // at the owner.
    let asked = format!("{}/r/{code}/rex/v0/events?start=0&epoch=x", group.url(1));
    let moved = get(&asked).await.expect("the other host answers");
    moved.assert_moved(&format!("{owner}/rex/v0/events?start=0&epoch=x"));

    // A message sent to the wrong host is not handled there: 307 with
    // nothing appended; sent again where it points, it is handled once.
    let first_note = note(1, 0, 1);
    let wrong = post(
        &format!("{}/r/{code}", group.url(2)),
        &token,
        first_note.clone(),
    )
    .await;
    wrong.assert_moved(&format!("{owner}/rex/v0/messages"));
    assert_eq!(
        info(&owner).await["head"],
        before["head"],
        "nothing appended"
    );
    let location = wrong.location().expect("a Location").to_owned();
    for _ in 0..2 {
        let handled = request(
            Method::POST,
            &location,
            Some(&token),
            Some(first_note.clone()),
        )
        .await
        .expect("the owner answers");
        assert_eq!(handled.status, 200, "{:?}", handled.body);
    }
    let head = before["head"].as_u64().unwrap();
    assert_eq!(info(&owner).await["head"], head + 1, "handled once");

    // Every host knows every live host; an unknown code is unknown
    // everywhere; codes are never handed out twice across the group.
    let peers = get(&format!("{}/rex/v0/host", group.url(1)))
        .await
        .expect("host info")
        .json()["peers"]
        .clone();
    let mut expected: Vec<String> = (0..3).map(|i| group.url(i)).collect();
    expected.sort();
    assert_eq!(peers, json!(expected));
    let unknown = get(&format!("{}/r/CDFG/rex/v0/info", group.url(1)))
        .await
        .unwrap();
    if code != "CDFG" {
        assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    }
    let mut codes = std::collections::HashSet::from([code]);
    for i in 0..60 {
        assert!(codes.insert(open_room(&group, i % 3).await), "a code twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_hosts_room_is_taken_over_with_its_log_and_sessions() {
    let lease = Duration::from_secs(2);
    let Some(mut group) = Group::start(PROBE, 2, lease).await else {
        return;
    };
    let code = open_room(&group, 0).await;
    let owner = format!("{}/r/{code}", group.url(0));
    let token = join(&owner).await;
    for seq in 0..5 {
        let answer = post(&owner, &token, note(1, seq, seq + 1)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let before = info(&owner).await;
    let killed = Instant::now();
    group.kill(0);
    let (after, _) = served_at(&group, 1, &code).await;
    let waited = killed.elapsed();
    assert!(
        waited <= lease + Duration::from_secs(1),
        "served again {waited:?} after the kill; the lease is {lease:?}"
    );
    assert_eq!(after["epoch"], before["epoch"], "the same log");
    assert_eq!(after["head"], before["head"], "nothing lost");
    // The session and its message outcomes came along: a retry of note 4
    // is answered from the record, note 5 is new.
    let new_owner = format!("{}/r/{code}", group.url(1));
    for (seq, id) in [(4, 5), (5, 6)] {
        let answer = post(&new_owner, &token, note(1, seq, id)).await;
        assert_eq!(answer.status, 200, "note {seq}: {:?}", answer.body);
    }
    let head = before["head"].as_u64().unwrap();
    assert_eq!(info(&new_owner).await["head"], head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_host_cannot_write_to_a_room_another_took_over() {
    let lease = Duration::from_secs(2);
    let Some(mut group) = Group::start(PROBE, 2, lease).await else {
        return;
    };
    let code = open_room(&group, 0).await;
    let first = format!("{}/r/{code}", group.url(0));
    let token = join(&first).await;
    // Scheduled work that comes due while host 0 is frozen: when it
    // thaws, its app emits at once — unless it has already let the room
    // go. Either way nothing of it may reach the room's log.
    let alarm = json!({"kind": "alarm", "data": {"ms": 3000}, "id": 1});
    let answer = post(&first, &token, alarm).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    group.signal(0, "STOP");
    let frozen = Instant::now();
    let (taken, _) = served_at(&group, 1, &code).await;
    let second = format!("{}/r/{code}", group.url(1));
    // Past the alarm's time, then thaw.
    let due = Duration::from_millis(3500);
    tokio::time::sleep(due.saturating_sub(frozen.elapsed())).await;
    group.signal(0, "CONT");

    // The thawed host sends its room's clients to the new owner, and
    // takes nothing: the client's next message lands there, once.
    let next = note(1, 0, 2);
    let answer = post(&first, &token, next.clone()).await;
    answer.assert_moved(&format!("{second}/rex/v0/messages"));
    // Host 0 stops serving the room: its write refused, or the room let
    // go before its app wrote. Either way it says so.
    group.hosts[0]
        .lines
        .until("host 0 letting the room go", |l| {
            l.contains("this host stops serving the room")
                || l.contains("another host has taken the room over")
        })
        .await;
    let answer = post(&second, &token, next).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let head = taken["head"].as_u64().unwrap();
    assert_eq!(
        info(&second).await["head"],
        head + 1,
        "only the note was appended after the take-over; the frozen host's alarm was not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rex_tail_started_at_another_host_follows_the_room_to_its_owner() {
    let Some(group) = Group::start(PROBE, 2, Duration::from_secs(10)).await else {
        return;
    };
    let code = open_room(&group, 0).await;
    let owner = format!("{}/r/{code}", group.url(0));
    let token = join(&owner).await;
    for seq in 0..2 {
        let answer = post(&owner, &token, note(7, seq, seq + 1)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let wrong = format!("{}/r/{code}", group.url(1));
    let (tail, mut lines) = rex_tests::cli::spawn_rex(vec!["--json".into(), "tail".into(), wrong]);
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while seen.len() < 2 {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("rex tail printed {seen:?} and then nothing for {PATIENCE:?}")
            })
            .unwrap_or_else(|| panic!("rex tail ended after {seen:?}"));
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            if event["kind"] == "noted" {
                seen.push(event["data"]["seq"].clone());
            }
        }
    }
    tail.abort();
    assert_eq!(
        seen,
        [json!(0), json!(1)],
        "the room's notes, from its owner"
    );
}

#[test]
fn a_host_whose_redis_does_not_answer_refuses_to_start_saying_so() {
    // A port nothing listens on: bound and dropped by this test.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let output = std::process::Command::new(PROBE)
        .args(["--redis", &format!("redis://127.0.0.1:{port}/")])
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .expect("run the probe");
    assert!(
        !output.status.success(),
        "it must not serve without its Redis"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Redis at 127.0.0.1") && stderr.contains("connecting"),
        "the error names the Redis and what failed: {stderr}"
    );
    assert!(output.stdout.is_empty(), "it never said it was listening");

    let output = std::process::Command::new(PROBE)
        .args(["--redis", "http://127.0.0.1:6379/", "--addr", "127.0.0.1:0"])
        .output()
        .expect("run the probe");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad Redis URL"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_keeps_its_rooms_for_many_lease_times() {
    // The shortest lease there is: four of them pass below.
    let lease = Duration::from_secs(1);
    let Some(mut group) = Group::start(PROBE, 2, lease).await else {
        return;
    };
    let code = open_room(&group, 0).await;
    let owner = format!("{}/r/{code}", group.url(0));
    let before = info(&owner).await;
    tokio::time::sleep(lease * 4).await;
    // Still host 0's: the other host sends clients there rather than
    // taking a room whose lease ran out.
    let asked = get(&format!("{}/r/{code}/rex/v0/info", group.url(1)))
        .await
        .expect("host 1 answers");
    asked.assert_moved(&format!("{owner}/rex/v0/info"));
    assert_eq!(info(&owner).await["epoch"], before["epoch"]);
    group.hosts[0].lines.drain();
    let complaints: Vec<&String> = group.hosts[0]
        .lines
        .seen
        .iter()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(complaints.is_empty(), "host 0 complained: {complaints:?}");
}
