//! The derives as an app uses them: generated code that compiles in a crate
//! with no prelude, `missing_docs` and clippy pedantic, kind names from
//! `rename` / `rename_all`, and the generated handler and client traits
//! exercised over real TCP.

#![deny(missing_docs, clippy::pedantic)]
#![forbid(unsafe_code)]

use std::time::Duration;

use futures_util::StreamExt;
use rex::{EventMeta, Resync, RexEvent, RexMessage, Server, SessionId, StreamItem};
use rex_tests::app::{TestEventHandler, TestMsgClient};
use rex_tests::{start_test_app, TestApp, TestServer};

/// A protocol declared where nothing is in scope: the generated code must
/// use absolute paths only, and must not trip over user types that shadow
/// standard names.
pub mod hygiene {
    #![no_implicit_prelude]
    #![allow(dead_code)]

    /// Shadows `std`'s `String` for code that forgets `::core`/`__private`.
    pub struct String;
    /// Shadows `Option`.
    pub struct Option;
    /// Shadows `Result`.
    pub struct Result;
    /// Shadows `serde_json::Value`.
    pub struct Value;
    /// Shadows `Ok`.
    pub struct Ok;
    /// Shadows `Some`.
    pub struct Some;
    /// A user type with the name a generated decoder might pick.
    #[derive(
        ::serde::Deserialize, ::serde::Serialize, ::core::fmt::Debug, ::core::cmp::PartialEq,
    )]
    pub struct Fields {
        /// Anything.
        pub n: u8,
    }

    /// Messages with every shape, and a keyword-named variant.
    #[derive(::rex::RexMessage, ::core::fmt::Debug, ::core::cmp::PartialEq)]
    #[rex(rename_all = "kebab-case", app = "hygiene", events = Ev, schema)]
    pub enum Msg {
        /// A unit variant.
        Start,
        /// A newtype variant.
        SetScore(u32),
        /// A struct variant.
        Answer {
            /// The choice.
            choice: u8,
            /// An optional note.
            note: ::std::option::Option<::std::string::String>,
        },
        /// A renamed variant.
        #[rex(rename = "v2.ping")]
        Ping,
        /// Its method is the raw identifier `r#type`.
        Type(::std::string::String),
    }

    /// Fields that could trip a generated decoder: a user type called
    /// `Fields`, and a field named like the decoder's own argument.
    #[derive(::rex::RexMessage, ::core::fmt::Debug, ::core::cmp::PartialEq)]
    #[rex(app = "tricky", events = Ev)]
    pub enum Tricky {
        /// The user's type and `data`.
        Nested {
            /// The user's type.
            fields: Fields,
            /// Named like the decoder's own argument.
            data: ::std::vec::Vec<u8>,
        },
    }

    /// Events with every shape.
    #[derive(::rex::RexEvent, ::core::fmt::Debug, ::core::cmp::PartialEq)]
    #[rex(schema)]
    pub enum Ev {
        /// A unit variant.
        Started,
        /// A newtype variant.
        Score(u32),
        /// A struct variant with a field called `from`, which only message
        /// handlers reserve.
        Answered {
            /// Who.
            from: ::rex::SessionId,
            /// What.
            choice: u8,
        },
    }
}

#[test]
fn the_schema_is_generated_where_nothing_is_in_scope() {
    use rex::Protocol;
    let schema = hygiene::Msg::schema().expect("a schema");
    let kinds: Vec<&str> = schema.messages.iter().map(|k| k.kind.as_str()).collect();
    assert_eq!(kinds, <hygiene::Msg as RexMessage>::KINDS);
    let answer = schema.message("answer").unwrap();
    assert_eq!(
        answer.data["required"],
        serde_json::json!(["choice"]),
        "an Option field may be left out"
    );
    assert_eq!(
        answer.data["properties"]["note"]["description"],
        "An optional note."
    );
    assert!(schema.message("start").unwrap().is_unit());
    assert_eq!(schema.message("set-score").unwrap().data["type"], "integer");
    assert_eq!(
        schema.event("answered").unwrap().data["properties"]["from"]["format"],
        "uuid"
    );
}

#[test]
fn kinds_follow_rename_all_and_rename() {
    assert_eq!(
        <hygiene::Msg as RexMessage>::KINDS,
        ["start", "set-score", "answer", "v2.ping", "type"]
    );
    assert_eq!(
        <hygiene::Ev as RexEvent>::KINDS,
        ["started", "score", "answered"]
    );
    assert_eq!(hygiene::Msg::SetScore(3).kind(), "set-score");
}

#[test]
fn every_shape_round_trips_and_errors_name_the_field() {
    use hygiene::Msg;
    let cases = [
        Msg::Start,
        Msg::SetScore(7),
        Msg::Answer {
            choice: 2,
            note: None,
        },
        Msg::Answer {
            choice: 2,
            note: Some("sure".into()),
        },
        Msg::Ping,
        Msg::Type("x".into()),
    ];
    for msg in cases {
        let data = msg.encode_data().unwrap();
        let text = data.as_ref().map(ToString::to_string);
        assert_eq!(Msg::decode(msg.kind(), data).unwrap(), msg);
        // Straight from the text, as the server decodes.
        assert_eq!(Msg::decode_json(msg.kind(), text.as_deref()).unwrap(), msg);
        // Written straight, as the server writes events: the same JSON.
        let mut out = Vec::new();
        let written = msg.write_data(&mut out).unwrap();
        assert_eq!(written, text.is_some(), "{msg:?}");
        if let Some(text) = &text {
            let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed.to_string(), *text, "{msg:?}");
        }
    }
    assert_eq!(
        Msg::Start.encode_data().unwrap(),
        None,
        "unit variants carry no data"
    );
    assert_eq!(
        Msg::SetScore(7).encode_data().unwrap(),
        Some(serde_json::json!(7))
    );
    let err = Msg::decode("answer", Some(serde_json::json!({"choice": "b"}))).unwrap_err();
    assert!(err.to_string().contains("field `choice`"), "{err}");
    let err = Msg::decode(
        "answer",
        Some(serde_json::json!({"choice": 1, "chioce": 2})),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `chioce`"), "{err}");
    let err = Msg::decode("start", Some(serde_json::json!(1))).unwrap_err();
    assert!(err.to_string().contains("carries no data"), "{err}");
    let err = Msg::decode("Start", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown kind `Start`; expected one of: start, set-score, answer, v2.ping, type"
    );
    // From the text, every input gives what `decode` gives, errors alike.
    let inputs: [(&str, Option<&str>); 15] = [
        ("answer", Some(r#"{"choice": 1}"#)),
        ("answer", Some(r#"{"choice": 1, "note": null}"#)),
        ("answer", Some(r#"{"choice": "b"}"#)),
        ("answer", Some(r#"{"choice": 1, "chioce": 2}"#)),
        ("answer", Some(r#"{"choice": 1, "choice": 2}"#)),
        ("answer", Some("[1]")),
        ("answer", None),
        ("answer", Some("{}")),
        ("start", Some("1")),
        ("start", None),
        ("set-score", Some("-1")),
        ("set-score", Some("7")),
        ("set-score", None),
        ("Start", None),
        ("type", Some("\"\\u00e9\"")),
    ];
    for (kind, text) in inputs {
        let value = text.map(|t| serde_json::from_str(t).unwrap());
        let slow = Msg::decode(kind, value);
        let fast = Msg::decode_json(kind, text);
        assert_eq!(fast, slow, "{kind} {text:?}");
    }
    let nested = hygiene::Tricky::Nested {
        fields: hygiene::Fields { n: 1 },
        data: vec![1, 2],
    };
    let text = nested.encode_data().unwrap().map(|v| v.to_string());
    assert_eq!(
        hygiene::Tricky::decode_json("nested", text.as_deref()).unwrap(),
        nested
    );
    let err = hygiene::Tricky::decode_json("nested", Some(r#"{"fields": {"n": 300}, "data": []}"#))
        .unwrap_err();
    assert!(err.to_string().contains("field `fields`"), "{err}");
    // Events ignore unknown fields (a newer server may add some).
    let from = SessionId::new_random();
    let ev = hygiene::Ev::decode(
        "answered",
        Some(serde_json::json!({"from": from, "choice": 1, "extra": true})),
    )
    .unwrap();
    assert_eq!(ev, hygiene::Ev::Answered { from, choice: 1 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stubs_send_every_shape_over_tcp() {
    let server = start_test_app().await;
    let client = TestMsgClient::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let me = client.session().unwrap();
    assert_eq!(client.noop().await.unwrap().count, 0); // unit
    assert_eq!(client.burst(2u32).await.unwrap().count, 2); // newtype
    assert_eq!(client.tag("hello").await.unwrap().count, 1); // struct, &str into String
    client.secret(vec![me], "psst").await.unwrap();
    match client.emit_then_reject().await {
        Err(rex::ClientError::Rejected { reason }) => {
            assert_eq!(reason, "rejected after emitting, on purpose");
        }
        other => panic!("{other:?}"),
    }
    let handled = server
        .handle
        .run(|app, _| app.handled.clone())
        .await
        .unwrap();
    assert_eq!(handled.get("burst"), Some(&1));
    assert_eq!(handled.get("secret"), Some(&1));
    server.stop().await;
}

/// Records what the generated event handler routes to it.
#[derive(Default)]
struct Recorder {
    seen: Vec<String>,
}

impl TestEventHandler for Recorder {
    fn joined(&mut self, meta: &EventMeta, session: SessionId) {
        self.seen.push(format!("{} joined {session}", meta.index));
    }

    fn tick(&mut self, meta: &EventMeta, tag: String) {
        self.seen.push(format!("{} tick {tag}", meta.index));
    }

    fn secret(&mut self, meta: &EventMeta, text: String) {
        assert!(meta.is_private());
        self.seen.push(format!("{} secret {text}", meta.index));
    }

    fn resync(&mut self, resync: &Resync) {
        self.seen.push(format!("resync at {}", resync.head));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_handler_routes_stream_items_and_defaults_ignore_the_rest() {
    let server = TestServer::start(Server::builder(TestApp::default())).await;
    let client = TestMsgClient::builder(server.addr)
        .name("Alice")
        .connect()
        .await
        .unwrap();
    let me = client.session().unwrap();
    client.tag("a").await.unwrap();
    client.count().await.unwrap(); // `counted`: not overridden, ignored
    client.secret(vec![me], "s").await.unwrap();
    let mut recorder = Recorder::default();
    let mut events = client.events();
    // The stream's `Connected`, which the default `connection` ignores,
    // then events 0 to 3.
    for _ in 0..5 {
        let item = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        recorder.handle(item);
    }
    assert_eq!(
        recorder.seen,
        [
            format!("0 joined {me}"),
            "1 tick a".to_owned(),
            "3 secret s".to_owned()
        ]
    );
    recorder.handle(StreamItem::Resync(Resync {
        cause: rex::ResyncCause::Dropped,
        epoch: rex::Epoch::new_random(),
        oldest: 9,
        head: 12,
        reason: "test".into(),
    }));
    assert_eq!(recorder.seen.last().unwrap(), "resync at 12");
    server.stop().await;
}
