//! `GET /rex/v0/schema` (protocol §13) and the schemas the derives build,
//! for the three example apps:
//!
//! - each server serves its schema, equal to the checked-in
//!   `examples/schema/<app>.json` (so a change to a protocol shows up in
//!   review as a diff of what clients see), cacheable by epoch;
//! - every payload the Rust encoders produce for a sample of values of
//!   every kind is valid against its kind's schema, and the same payload
//!   without a required field (or, for a message, with a field the decoder
//!   does not know) is refused by the schema *and* by the Rust decoder, so
//!   the schema says what the server does;
//! - the TypeScript declarations checked into the example pages
//!   (`examples/src/<app>/web/protocol.d.ts`) are those of the current
//!   schema.
//!
//! Regenerate the checked-in files with `REX_SNAPSHOT=overwrite cargo test
//! -p rex-tests --test schema` and read the diff.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::PathBuf;

use rex::{Protocol, ProtocolSchema, RexApp, RexEvent, RexMessage, Server, SessionId};
use rex_examples::chat::{ChatApp, ChatEvent, ChatMsg};
use rex_examples::remote::{tracks, PlayerView, RemoteApp, RemoteEvent, RemoteMsg};
use rex_examples::trivia::{questions, Standing, TriviaApp, TriviaConfig, TriviaEvent, TriviaMsg};
use rex_tests::{start_test_app, TestServer};
use serde_json::{json, Value};

const SCHEMA: &str = "/rex/v0/schema";

fn workspace_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn overwrite() -> bool {
    std::env::var_os("REX_SNAPSHOT").is_some_and(|v| v == "overwrite")
}

/// Compares `text` with the checked-in file at `path` (or writes it, with
/// `REX_SNAPSHOT=overwrite`).
#[track_caller]
fn assert_checked_in(path: &str, text: &str) {
    let file = workspace_file(path);
    if overwrite() {
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        return;
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        expected == text,
        "{path} is stale: it is not what the protocol's derives generate now; regenerate it \
         with `REX_SNAPSHOT=overwrite cargo test -p rex-tests --test schema` and review \
         `git diff {path}`"
    );
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text
}

/// Serves `app`, fetches its schema and checks it against the checked-in
/// file, `/info`'s `offers`, and revalidation by epoch.
async fn check_served<A: RexApp>(app: A, file: &str) {
    let server = TestServer::start(Server::builder(app)).await;
    let http = server.client();
    let reply = http.get(SCHEMA).send().await;
    assert_eq!(reply.status, 200, "GET {SCHEMA}: {:?}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/json");
    let served = reply.json();
    assert_checked_in(file, &pretty(&served));

    // What the server serves is what the protocol type says, decodable by
    // any client as a `ProtocolSchema`.
    let own = <A::Protocol as Protocol>::schema().expect("the example publishes its schema");
    assert_eq!(served, serde_json::to_value(&own).unwrap());
    let decoded: ProtocolSchema = serde_json::from_value(served.clone()).unwrap();
    assert_eq!(decoded, own);
    let kinds: Vec<&str> = decoded.messages.iter().map(|k| k.kind.as_str()).collect();
    assert_eq!(kinds, <A::Protocol as RexMessage>::KINDS);

    let info = http.info().await;
    assert_eq!(info["offers"], json!(["schema"]), "/info: {info}");

    // Cacheable by epoch: the tag is the epoch, and a client holding it
    // gets 304 without a body.
    let epoch = info["epoch"].as_str().unwrap();
    let etag = reply.headers["etag"].to_str().unwrap();
    assert_eq!(etag, format!("\"{epoch}\""));
    assert_eq!(reply.headers["rex-epoch"], epoch);
    assert_eq!(reply.headers["cache-control"], "no-cache");
    let again = http.get(SCHEMA).header("if-none-match", etag).send().await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = http
        .get(SCHEMA)
        .header("if-none-match", "\"another-epoch\"")
        .send()
        .await;
    assert_eq!(other.status, 200);
    server.stop().await;
}

fn trivia_app() -> TriviaApp {
    TriviaApp::new(questions::bundled().unwrap(), TriviaConfig::default())
}

#[tokio::test]
async fn chat_schema_is_served_as_checked_in() {
    check_served(ChatApp::default(), "examples/schema/chat.json").await;
}

#[tokio::test]
async fn trivia_schema_is_served_as_checked_in() {
    check_served(trivia_app(), "examples/schema/trivia.json").await;
}

#[tokio::test]
async fn remote_schema_is_served_as_checked_in() {
    check_served(
        RemoteApp::new(tracks::bundled()),
        "examples/schema/remote.json",
    )
    .await;
}

#[tokio::test]
async fn an_app_without_a_schema_answers_404_and_other_methods_405() {
    let server = start_test_app().await;
    let http = server.client();
    let reply = http.get(SCHEMA).send().await;
    let reason = reply.assert_error(404, "not_found");
    assert!(reason.contains("#[rex(schema)]"), "{reason}");
    let info = http.info().await;
    assert_eq!(info["offers"], json!([]), "/info: {info}");
    let reply = http.post(SCHEMA).json(&json!({})).send().await;
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.headers["allow"], "GET");
    server.stop().await;
}

/// A validator of one kind's `data` (formats such as `uuid` asserted).
fn validator(schema: &ProtocolSchema, data: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema.standalone(data))
        .unwrap_or_else(|e| panic!("the schema {data} does not compile: {e}"))
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The payload as the wire carries it: `null` for none.
fn payload(data: Option<Value>) -> Value {
    data.unwrap_or(Value::Null)
}

/// For every sample: its payload is valid against its kind's schema. For
/// every kind: removing each required field makes the payload invalid for
/// the schema and for `decode`; a message with an unknown field too.
fn check_kinds<T: Debug>(
    schema: &ProtocolSchema,
    kinds: &[&str],
    samples: &[T],
    is_message: bool,
    encode: impl Fn(&T) -> (&'static str, Option<Value>),
    decode: impl Fn(&str, Option<Value>) -> Result<(), String>,
) {
    let listed = if is_message {
        &schema.messages
    } else {
        &schema.events
    };
    let covered: BTreeSet<&str> = samples.iter().map(|s| encode(s).0).collect();
    assert_eq!(
        covered,
        kinds.iter().copied().collect::<BTreeSet<_>>(),
        "the samples cover every kind"
    );
    for sample in samples {
        let (kind, data) = encode(sample);
        let entry = listed
            .iter()
            .find(|k| k.kind == kind)
            .unwrap_or_else(|| panic!("kind `{kind}` is in the schema"));
        let validator = validator(schema, &entry.data);
        let data = payload(data);
        let found = errors(&validator, &data);
        assert!(
            found.is_empty(),
            "{sample:?} encodes as {data}, which its schema {} refuses: {found:?}",
            entry.data
        );
        let Value::Object(fields) = &data else {
            continue;
        };
        for required in entry.data["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            let mut missing = fields.clone();
            missing.remove(name);
            let missing = Value::Object(missing);
            let found = errors(&validator, &missing);
            assert!(
                found.iter().any(|e| e.contains(name)),
                "`{kind}` without `{name}` ({missing}) should be refused naming it: {found:?}"
            );
            assert!(
                decode(kind, Some(missing.clone())).is_err(),
                "the decoder should refuse `{kind}` without `{name}` as the schema does"
            );
        }
        if is_message {
            let mut extra = fields.clone();
            extra.insert("surprise".into(), json!(1));
            let extra = Value::Object(extra);
            assert!(
                !validator.is_valid(&extra),
                "`{kind}` with an unknown field: {extra}"
            );
            assert!(decode(kind, Some(extra)).is_err());
        }
    }
}

fn check_protocol<P>(messages: &[P], events: &[P::Event])
where
    P: Protocol + Debug + PartialEq,
    P::Event: Debug + PartialEq,
{
    let schema = P::schema().expect("the example publishes its schema");
    check_kinds(
        &schema,
        P::KINDS,
        messages,
        true,
        |m| (m.kind(), m.encode_data().unwrap()),
        |kind, data| P::decode(kind, data).map(drop).map_err(|e| e.to_string()),
    );
    // Decoding what was encoded gives the value back: the samples are real.
    for m in messages {
        assert_eq!(&P::decode(m.kind(), m.encode_data().unwrap()).unwrap(), m);
    }
    check_kinds(
        &schema,
        <P::Event as RexEvent>::KINDS,
        events,
        false,
        |e| (e.kind(), e.encode_data().unwrap()),
        |kind, data| {
            <P::Event as RexEvent>::decode(kind, data)
                .map(drop)
                .map_err(|e| e.to_string())
        },
    );
}

/// A few random values of each kind, plus the edges.
fn numbers(rng: &mut fastrand::Rng) -> Vec<u32> {
    vec![0, 1, u32::MAX, rng.u32(..), rng.u32(..100)]
}

fn text(rng: &mut fastrand::Rng) -> String {
    let pool = ["", "hi", "Zoë 🎉", "line\nbreak", "\"quoted\""];
    pool[rng.usize(..pool.len())].to_owned()
}

#[test]
fn every_chat_payload_fits_its_schema() {
    let mut rng = fastrand::Rng::with_seed(17);
    let mut messages = Vec::new();
    let mut events = Vec::new();
    for _ in 0..5 {
        let (a, b) = (SessionId::new_random(), SessionId::new_random());
        messages.push(ChatMsg::Say {
            text: text(&mut rng),
        });
        messages.push(ChatMsg::Whisper {
            to: b,
            text: text(&mut rng),
        });
        messages.push(ChatMsg::Rename {
            name: text(&mut rng),
        });
        events.push(ChatEvent::Joined {
            session: a,
            name: text(&mut rng),
        });
        events.push(ChatEvent::Said {
            from: a,
            text: text(&mut rng),
        });
        events.push(ChatEvent::Whispered {
            from: a,
            to: b,
            text: text(&mut rng),
        });
        events.push(ChatEvent::Renamed {
            session: b,
            name: text(&mut rng),
        });
    }
    check_protocol::<ChatMsg>(&messages, &events);
}

#[test]
fn every_trivia_payload_fits_its_schema() {
    let mut rng = fastrand::Rng::with_seed(17);
    let mut messages = vec![TriviaMsg::Start];
    let mut events = Vec::new();
    for n in numbers(&mut rng) {
        let session = SessionId::new_random();
        let standings = vec![
            Standing {
                session,
                name: text(&mut rng),
                score: n,
                rank: 1,
            },
            Standing {
                session: SessionId::new_random(),
                name: text(&mut rng),
                score: 0,
                rank: 2,
            },
        ];
        messages.push(TriviaMsg::Answer {
            number: n,
            choice: rng.u32(..4),
        });
        messages.push(TriviaMsg::Rename {
            name: text(&mut rng),
        });
        events.extend([
            TriviaEvent::Joined {
                session,
                name: text(&mut rng),
                host: rng.bool(),
            },
            TriviaEvent::Renamed {
                session,
                name: text(&mut rng),
            },
            TriviaEvent::Started {
                questions: n,
                seconds: 20,
            },
            TriviaEvent::Question {
                number: n,
                total: n,
                text: text(&mut rng),
                choices: (0..rng.usize(0..5)).map(|_| text(&mut rng)).collect(),
                seconds: 20,
                closes_at_ms: rng.u64(..),
            },
            TriviaEvent::Answered { number: n, session },
            TriviaEvent::Revealed {
                number: n,
                correct: 2,
                counts: vec![n, 0, 1, 3],
            },
            TriviaEvent::Result {
                number: n,
                choice: rng.bool().then_some(n),
                correct: rng.bool(),
                points: n,
                total: n,
            },
            TriviaEvent::Result {
                number: n,
                choice: None,
                correct: false,
                points: 0,
                total: 0,
            },
            TriviaEvent::Scores {
                number: n,
                standings: standings.clone(),
            },
            TriviaEvent::Finished {
                standings: if n == 0 { Vec::new() } else { standings },
            },
        ]);
    }
    check_protocol::<TriviaMsg>(&messages, &events);
}

#[test]
fn every_remote_payload_and_the_snapshot_fit_their_schemas() {
    let mut rng = fastrand::Rng::with_seed(17);
    let mut messages = vec![
        RemoteMsg::Play,
        RemoteMsg::Pause,
        RemoteMsg::Next,
        RemoteMsg::Previous,
        RemoteMsg::VolumeUp,
        RemoteMsg::VolumeDown,
    ];
    let mut events = Vec::new();
    for (i, n) in numbers(&mut rng).into_iter().enumerate() {
        let ms = u64::from(n) * 1000;
        let signed = [0, -1, i64::MIN, i64::MAX, rng.i64(..)][i];
        messages.extend([
            RemoteMsg::Seek {
                position_ms: signed,
            },
            RemoteMsg::SeekBy { offset_ms: signed },
            RemoteMsg::SetVolume { level: signed },
            RemoteMsg::Mute { muted: rng.bool() },
            RemoteMsg::Shuffle { on: rng.bool() },
            RemoteMsg::Queue { track: n },
        ]);
        let queue: Vec<u32> = (0..rng.usize(0..4)).map(|_| rng.u32(..12)).collect();
        events.extend([
            RemoteEvent::Playing {
                position_ms: ms,
                at_ms: rng.u64(..),
            },
            RemoteEvent::Paused {
                position_ms: ms,
                at_ms: 0,
            },
            RemoteEvent::Seeked {
                position_ms: 0,
                at_ms: ms,
            },
            RemoteEvent::TrackChanged {
                track: n,
                cursor: n,
                from_queue: rng.bool(),
                queue: queue.clone(),
                playing: rng.bool(),
                position_ms: 0,
                at_ms: ms,
            },
            RemoteEvent::Volume {
                level: rng.u8(..=100),
                muted: rng.bool(),
            },
            RemoteEvent::Shuffled {
                on: rng.bool(),
                order: (0..12).collect(),
                cursor: n,
            },
            RemoteEvent::Queued { track: n, queue },
        ]);
    }
    check_protocol::<RemoteMsg>(&messages, &events);

    // The snapshot the TV serves fits the snapshot's schema, before and
    // after events.
    let schema = RemoteMsg::schema().unwrap();
    let snapshot = schema
        .snapshot
        .clone()
        .expect("the remote declares its snapshot type");
    let validator = validator(&schema, &snapshot);
    let mut view = PlayerView::new(tracks::bundled());
    for event in &events {
        let state = serde_json::to_value(&view).unwrap();
        assert_eq!(errors(&validator, &state), Vec::<String>::new(), "{state}");
        view.apply(event);
    }
    let mut state = serde_json::to_value(&view).unwrap();
    state.as_object_mut().unwrap().remove("tracks");
    assert!(!validator.is_valid(&state), "a snapshot without `tracks`");
}

#[test]
fn the_pages_declarations_are_those_of_the_current_schema() {
    for (path, schema) in [
        ("examples/src/trivia/web/protocol.d.ts", TriviaMsg::schema()),
        ("examples/src/remote/web/protocol.d.ts", RemoteMsg::schema()),
    ] {
        assert_checked_in(path, &schema.expect("a schema").typescript());
    }
}
