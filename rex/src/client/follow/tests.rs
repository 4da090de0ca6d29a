//! Every transition of the follower, fed by hand: no socket, no sleep, no
//! clock but instants made up from one base.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rex_proto::Epoch;
use serde_json::json;

use super::*;

const IDLE: Duration = Duration::from_secs(40);

fn config(framing: Framing) -> Config {
    Config {
        retry: RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        },
        idle: IDLE,
        framing,
    }
}

fn epoch(n: u128) -> Epoch {
    Epoch(uuid::Uuid::from_u128(n))
}

fn ndjson(start: u64, known: Option<Epoch>) -> Follower {
    Follower::new(start, known, config(Framing::Ndjson))
}

fn items(f: &mut Follower) -> Vec<Item> {
    std::iter::from_fn(|| f.poll_item()).collect()
}

fn line(index: u64) -> String {
    format!(
        "{}\n",
        json!({"index": index, "time": 1, "kind": "said", "origin": null})
    )
}

fn data(text: &str) -> Input {
    Input::Data(Bytes::from(text.to_owned()))
}

fn ok(epoch: Epoch) -> Input {
    Input::Opened {
        status: 200,
        epoch: Some(epoch),
        body: Bytes::new(),
    }
}

fn refused(status: u16, body: serde_json::Value) -> Input {
    Input::Opened {
        status,
        epoch: None,
        body: Bytes::from(body.to_string()),
    }
}

fn gone(epoch: Epoch, oldest: u64, head: u64) -> Input {
    refused(
        410,
        json!({"error": "gone", "reason": "resync", "epoch": epoch, "oldest": oldest, "head": head}),
    )
}

/// The indexes of the records among `items`.
fn indexes(items: &[Item]) -> Vec<u64> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Record(r) => Some(r.index),
            _ => None,
        })
        .collect()
}

fn connection(item: &Item) -> Connection {
    match item {
        Item::Connection(c) => *c,
        other => panic!("expected a connection item, got {other:?}"),
    }
}

fn connect_request(f: &Follower) -> Request {
    match f.action() {
        Action::Connect(request) => request,
        other => panic!("expected to connect, got {other:?}"),
    }
}

/// Asserts the action is a wait of the `retry`-th backoff (jittered to
/// between half and all of the step) and ends it.
fn wait_out(f: &mut Follower, retry: u32, now: Instant) {
    let Action::Wait(wait) = f.action() else {
        panic!("expected a wait, got {:?}", f.action())
    };
    let step = Duration::from_millis(100 << retry);
    assert!(
        wait >= step / 2 && wait <= step,
        "{wait:?} for retry {retry}"
    );
    f.handle(Input::Waited, now);
}

/// A follower with an open stream of epoch 1 that has yielded up to `last`.
fn streaming(last: u64, t: Instant) -> Follower {
    let mut f = ndjson(last + 1, Some(epoch(1)));
    f.handle(ok(epoch(1)), t);
    items(&mut f);
    f
}

#[test]
fn it_first_connects_from_start_and_reports_connected() {
    let t = Instant::now();
    let mut f = ndjson(5, None);
    assert_eq!(
        f.action(),
        Action::Connect(Request {
            start: 5,
            epoch: None,
            last_event_id: None
        })
    );
    assert_eq!(f.action(), f.action(), "asking again changes nothing");
    assert!(items(&mut f).is_empty());
    f.handle(ok(epoch(1)), t);
    let got = items(&mut f);
    assert_eq!(got.len(), 1);
    assert_eq!(connection(&got[0]), Connection::Connected);
    assert_eq!(f.epoch(), Some(epoch(1)), "learnt from the header");
    assert_eq!(f.action(), Action::Read { deadline: t + IDLE });
}

#[test]
fn a_line_is_an_event_and_moves_the_cursor() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    f.handle(data(&line(5)), t);
    assert_eq!(indexes(&items(&mut f)), [5]);
    f.handle(Input::IdentityChanged, t);
    assert_eq!(connect_request(&f).start, 6);
}

#[test]
fn lines_split_across_chunks_make_one_event_each() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    let wire = format!("{}{}", line(5), line(6));
    let (a, b) = wire.split_at(10);
    f.handle(data(a), t);
    assert!(items(&mut f).is_empty());
    f.handle(data(b), t);
    assert_eq!(indexes(&items(&mut f)), [5, 6]);
}

#[test]
fn a_repeated_or_old_index_is_dropped() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    let wire = [3, 5, 5, 4, 7, 6, 8].map(line).concat();
    f.handle(data(&wire), t);
    assert_eq!(indexes(&items(&mut f)), [5, 7, 8]);
}

#[test]
fn a_heartbeat_yields_nothing_but_resets_the_idle_deadline() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    let later = t + Duration::from_secs(30);
    f.handle(data("\n"), later);
    assert!(items(&mut f).is_empty());
    assert_eq!(
        f.action(),
        Action::Read {
            deadline: later + IDLE
        }
    );
    // A timer set for the old deadline is late news: ignored.
    f.handle(Input::IdleTimeout, t + IDLE);
    assert!(items(&mut f).is_empty());
    assert_eq!(
        f.action(),
        Action::Read {
            deadline: later + IDLE
        }
    );
}

#[test]
fn an_idle_timeout_reconnects_from_the_cursor_at_once() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    f.handle(data(&line(5)), t);
    items(&mut f);
    let dead = t + IDLE;
    f.handle(Input::IdleTimeout, dead);
    let got = items(&mut f);
    assert_eq!(got.len(), 1);
    assert_eq!(
        connection(&got[0]),
        Connection::Reconnecting {
            since: dead,
            attempts: 0
        }
    );
    assert_eq!(
        connect_request(&f),
        Request {
            start: 6,
            epoch: Some(epoch(1)),
            last_event_id: None
        },
        "no backoff after a silent but healthy stream"
    );
}

#[test]
fn a_cut_backs_off_then_reconnects_counting_failed_attempts() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    // A partial line is lost with the connection; the event comes again.
    f.handle(data(&line(5)[..8]), t);
    let cut_at = t + Duration::from_secs(1);
    f.handle(Input::Cut(ClientError::Timeout), cut_at);
    let lost = Connection::Reconnecting {
        since: cut_at,
        attempts: 0,
    };
    assert_eq!(connection(&items(&mut f)[0]), lost);
    f.handle(data(&line(9)), cut_at); // a stray read after the cut: ignored
    assert!(items(&mut f).is_empty());
    wait_out(&mut f, 0, cut_at);

    // Each failed attempt is reported, with a longer wait after it.
    for (attempt, failure) in [
        Input::ConnectFailed(ClientError::Timeout),
        refused(
            503,
            json!({"error": "unavailable", "reason": "shutting down"}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let attempt = attempt as u32 + 1;
        assert_eq!(connect_request(&f).start, 5);
        f.handle(failure, t + Duration::from_secs(2));
        let got = items(&mut f);
        assert_eq!(
            connection(&got[0]),
            Connection::Reconnecting {
                since: cut_at,
                attempts: attempt
            }
        );
        wait_out(&mut f, attempt, t);
    }
    f.handle(ok(epoch(1)), t);
    assert_eq!(connection(&items(&mut f)[0]), Connection::Connected);
    f.handle(data(&line(5)), t);
    assert_eq!(indexes(&items(&mut f)), [5], "the cut event, once");
}

#[test]
fn backoff_counts_broken_streams_until_a_byte_comes() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    // A server that accepts and at once ends every stream.
    for retry in 0..3 {
        f.handle(Input::Ended, t);
        items(&mut f);
        wait_out(&mut f, retry, t);
        f.handle(ok(epoch(1)), t);
        items(&mut f);
    }
    f.handle(data("\n"), t);
    f.handle(Input::Ended, t);
    wait_out(&mut f, 0, t);
}

#[test]
fn the_end_of_the_body_reconnects_from_the_cursor() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    f.handle(data(&line(5)), t);
    items(&mut f);
    f.handle(Input::Ended, t);
    let got = items(&mut f);
    assert!(matches!(
        connection(&got[0]),
        Connection::Reconnecting { attempts: 0, .. }
    ));
    wait_out(&mut f, 0, t);
    assert_eq!(connect_request(&f).start, 6);
}

/// What a `410` leads to from a follower at `cursor` of epoch 1.
fn resync_after_gone(cursor: u64, gone_epoch: Epoch, head: u64) -> (Resync, Request) {
    let mut f = ndjson(cursor, Some(epoch(1)));
    f.handle(gone(gone_epoch, 2, head), Instant::now());
    let got = items(&mut f);
    assert_eq!(got.len(), 1, "{got:?}");
    let Item::Resync(resync) = &got[0] else {
        panic!("{got:?}")
    };
    (resync.clone(), connect_request(&f))
}

#[test]
fn gone_for_another_epoch_resyncs_at_its_head() {
    let (resync, next) = resync_after_gone(10, epoch(2), 3);
    assert_eq!(resync.cause, ResyncCause::EpochChanged);
    assert_eq!((resync.epoch, resync.oldest, resync.head), (epoch(2), 2, 3));
    assert_eq!(resync.reason, "resync");
    assert_eq!((next.start, next.epoch), (3, Some(epoch(2))));
}

#[test]
fn gone_for_dropped_events_resyncs_at_the_head() {
    let (resync, next) = resync_after_gone(1, epoch(1), 9);
    assert_eq!(resync.cause, ResyncCause::Dropped);
    assert_eq!((next.start, next.epoch), (9, Some(epoch(1))));
}

#[test]
fn gone_when_ahead_of_the_server_resyncs_at_the_head() {
    let (resync, next) = resync_after_gone(20, epoch(1), 9);
    assert_eq!(resync.cause, ResyncCause::AheadOfServer);
    assert_eq!(next.start, 9);
}

#[test]
fn gone_without_the_server_state_is_fatal() {
    let mut f = ndjson(0, None);
    f.handle(
        refused(410, json!({"error": "gone", "reason": "?"})),
        Instant::now(),
    );
    assert!(matches!(
        &items(&mut f)[..],
        [Item::Fatal(ClientError::Gone { .. })]
    ));
    assert_eq!(f.action(), Action::Stop);
}

#[test]
fn a_fatal_status_is_reported_and_stops() {
    let t = Instant::now();
    let mut f = ndjson(0, None);
    f.handle(
        refused(
            401,
            json!({"error": "unauthorized", "reason": "no such session"}),
        ),
        t,
    );
    let got = items(&mut f);
    assert!(
        matches!(&got[..], [Item::Fatal(ClientError::Unauthorized { .. })]),
        "{got:?}"
    );
    assert_eq!(f.action(), Action::Stop);
    f.handle(ok(epoch(1)), t);
    f.handle(Input::Waited, t);
    assert!(items(&mut f).is_empty());
    assert_eq!(f.action(), Action::Stop, "stopped for good");
}

#[test]
fn a_transient_status_is_retried_after_a_backoff() {
    let t = Instant::now();
    let mut f = ndjson(0, None);
    f.handle(
        refused(503, json!({"error": "unavailable", "reason": "later"})),
        t,
    );
    let got = items(&mut f);
    assert_eq!(
        connection(&got[0]),
        Connection::Reconnecting {
            since: t,
            attempts: 1
        },
        "before the first connection, too"
    );
    wait_out(&mut f, 0, t);
    assert_eq!(connect_request(&f).start, 0);
}

#[test]
fn an_invalid_line_is_a_protocol_error_and_reconnects_from_the_cursor() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    let wire = format!("{}not json\n{}", line(5), line(6));
    f.handle(data(&wire), t);
    let got = items(&mut f);
    assert_eq!(indexes(&got), [5], "nothing after the bad line is trusted");
    assert!(
        matches!(&got[1], Item::Error(ClientError::Protocol { .. })),
        "{got:?}"
    );
    assert!(matches!(
        connection(&got[2]),
        Connection::Reconnecting { attempts: 0, .. }
    ));
    wait_out(&mut f, 0, t);
    assert_eq!(connect_request(&f).start, 6);
}

#[test]
fn the_last_possible_index_is_a_protocol_error() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    f.handle(data(&line(u64::MAX)), t);
    let got = items(&mut f);
    assert!(matches!(&got[0], Item::Error(ClientError::Protocol { .. })));
}

#[test]
fn an_identity_change_reconnects_at_once() {
    let t = Instant::now();
    let mut f = streaming(4, t);
    f.handle(Input::IdentityChanged, t);
    assert!(matches!(
        connection(&items(&mut f)[0]),
        Connection::Reconnecting { attempts: 0, .. }
    ));
    assert_eq!(connect_request(&f).start, 5);
    f.handle(ok(epoch(1)), t);
    assert_eq!(connection(&items(&mut f)[0]), Connection::Connected);
}

#[test]
fn sse_frames_are_events_and_resume_with_last_event_id() {
    let t = Instant::now();
    let mut f = Follower::new(0, None, config(Framing::Sse));
    assert_eq!(connect_request(&f).last_event_id, None);
    f.handle(ok(epoch(1)), t);
    let wire = format!(
        ":\n\nid: 0\nevent: said\ndata: {}\nid: 1\ndata: {}\n",
        line(0),
        line(1)
    );
    f.handle(data(&wire), t);
    let got = items(&mut f);
    assert_eq!(indexes(&got), [0, 1]);
    f.handle(Input::Cut(ClientError::Timeout), t);
    wait_out(&mut f, 0, t);
    assert_eq!(
        connect_request(&f),
        Request {
            start: 2,
            epoch: Some(epoch(1)),
            last_event_id: Some(1)
        }
    );
    // After a resync the old id means nothing.
    f.handle(gone(epoch(2), 0, 0), t);
    items(&mut f);
    assert_eq!(connect_request(&f).last_event_id, None);
}

#[test]
fn the_request_names_start_and_epoch() {
    let request = Request {
        start: 12,
        epoch: Some(epoch(1)),
        last_event_id: Some(11),
    };
    assert_eq!(
        request.path_and_query(),
        format!("/rex/v0/events?start=12&epoch={}", epoch(1))
    );
    let anonymous = Request {
        epoch: None,
        ..request
    };
    assert_eq!(anonymous.path_and_query(), "/rex/v0/events?start=12");
}

#[test]
fn a_redirect_out_of_the_room_stops_and_too_many_redirects_retry() {
    let t = Instant::now();
    // Too many redirects in a row: the room's hosts may settle; retry.
    let mut f = ndjson(4, None);
    f.handle(
        Input::ConnectFailed(ClientError::Moved {
            reason: "served elsewhere".into(),
        }),
        t,
    );
    assert!(matches!(
        connection(&items(&mut f)[0]),
        Connection::Reconnecting { attempts: 1, .. }
    ));
    wait_out(&mut f, 0, t);
    assert_eq!(connect_request(&f).start, 4);

    // A Location that is not this room's: not followed, and the stream
    // ends with the reason.
    f.handle(
        Input::ConnectFailed(ClientError::Protocol {
            reason: "the server redirected to `http://x/r/MNPR/…`".into(),
        }),
        t,
    );
    let got = items(&mut f);
    assert!(
        matches!(&got[..], [Item::Fatal(ClientError::Protocol { reason })] if reason.contains("MNPR")),
        "{got:?}"
    );
    assert_eq!(f.action(), Action::Stop);
}
