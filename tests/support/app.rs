//! `TestApp`: an app whose messages exercise every shape and path of the
//! server (unit, newtype and struct payloads; several events per message;
//! private events; rejection after emitting; join refusal; scheduled work).

use std::collections::HashMap;
use std::time::Duration;

use rex::{
    Context, DataObject, DecodeError, EncodeError, Reject, RexApp, RexEvent, RexMessage, SessionId,
};
use serde_json::{json, Value};

/// Messages of the test app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestMsg {
    /// Emits nothing.
    Noop,
    /// Emits `n` public `tick` events, numbered from `tag`'s count.
    Burst(u32),
    /// Emits one public `tick` carrying `tag`.
    Tag { tag: String },
    /// Emits a private `secret` to `to` (and nobody else).
    Secret { to: Vec<SessionId>, text: String },
    /// Emits an event, then rejects: the event must not be appended.
    EmitThenReject,
    /// Counts how many times the app handled it (to prove dedupe).
    Count,
    /// Schedules a `tick` after `ms` milliseconds.
    Later { ms: u64 },
    /// Takes a moment (async-free: sleeps the actor) before answering.
    Slow { ms: u64 },
}

impl RexMessage for TestMsg {
    const KINDS: &'static [&'static str] = &[
        "noop",
        "burst",
        "tag",
        "secret",
        "emit_then_reject",
        "count",
        "later",
        "slow",
    ];

    fn kind(&self) -> &'static str {
        match self {
            TestMsg::Noop => "noop",
            TestMsg::Burst(_) => "burst",
            TestMsg::Tag { .. } => "tag",
            TestMsg::Secret { .. } => "secret",
            TestMsg::EmitThenReject => "emit_then_reject",
            TestMsg::Count => "count",
            TestMsg::Later { .. } => "later",
            TestMsg::Slow { .. } => "slow",
        }
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        Ok(match self {
            TestMsg::Noop | TestMsg::EmitThenReject | TestMsg::Count => None,
            TestMsg::Burst(n) => Some(json!(n)),
            TestMsg::Tag { tag } => Some(json!({ "tag": tag })),
            TestMsg::Secret { to, text } => Some(json!({ "to": to, "text": text })),
            TestMsg::Later { ms } | TestMsg::Slow { ms } => Some(json!({ "ms": ms })),
        })
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        let fields = |data| DataObject::new(kind, data);
        Ok(match kind {
            "noop" => DataObject::expect_none(kind, data).map(|()| TestMsg::Noop)?,
            "emit_then_reject" => {
                DataObject::expect_none(kind, data).map(|()| TestMsg::EmitThenReject)?
            }
            "count" => DataObject::expect_none(kind, data).map(|()| TestMsg::Count)?,
            "burst" => TestMsg::Burst(DataObject::decode_value(kind, data)?),
            "tag" => {
                let mut d = fields(data)?;
                let m = TestMsg::Tag {
                    tag: d.field("tag")?,
                };
                d.deny_unknown(&["tag"])?;
                m
            }
            "secret" => {
                let mut d = fields(data)?;
                let m = TestMsg::Secret {
                    to: d.field("to")?,
                    text: d.field("text")?,
                };
                d.deny_unknown(&["to", "text"])?;
                m
            }
            "later" | "slow" => {
                let mut d = fields(data)?;
                let ms = d.field("ms")?;
                d.deny_unknown(&["ms"])?;
                if kind == "later" {
                    TestMsg::Later { ms }
                } else {
                    TestMsg::Slow { ms }
                }
            }
            other => return Err(DecodeError::unknown_kind(other, Self::KINDS)),
        })
    }
}

/// Events of the test app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestEvent {
    Joined { session: SessionId },
    Tick { tag: String },
    Secret { text: String },
    Counted { times: u64 },
}

impl RexEvent for TestEvent {
    const KINDS: &'static [&'static str] = &["joined", "tick", "secret", "counted"];

    fn kind(&self) -> &'static str {
        match self {
            TestEvent::Joined { .. } => "joined",
            TestEvent::Tick { .. } => "tick",
            TestEvent::Secret { .. } => "secret",
            TestEvent::Counted { .. } => "counted",
        }
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        Ok(Some(match self {
            TestEvent::Joined { session } => json!({ "session": session }),
            TestEvent::Tick { tag } => json!({ "tag": tag }),
            TestEvent::Secret { text } => json!({ "text": text }),
            TestEvent::Counted { times } => json!({ "times": times }),
        }))
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        let mut d = DataObject::new(kind, data)?;
        Ok(match kind {
            "joined" => TestEvent::Joined {
                session: d.field("session")?,
            },
            "tick" => TestEvent::Tick {
                tag: d.field("tag")?,
            },
            "secret" => TestEvent::Secret {
                text: d.field("text")?,
            },
            "counted" => TestEvent::Counted {
                times: d.field("times")?,
            },
            other => return Err(DecodeError::unknown_kind(other, Self::KINDS)),
        })
    }
}

/// The test app's state.
#[derive(Debug, Default)]
pub struct TestApp {
    pub handled: HashMap<&'static str, u64>,
    pub counts: u64,
    /// Told when a `slow` message starts, so a test knows it is in flight.
    pub slow_started: Option<tokio::sync::mpsc::UnboundedSender<()>>,
}

impl RexApp for TestApp {
    type Message = TestMsg;
    type Event = TestEvent;
    const ID: &'static str = "test";

    fn join(
        &mut self,
        cx: &mut Context<'_, Self>,
        session: SessionId,
        name: Option<String>,
    ) -> Result<(), Reject> {
        cx.emit(TestEvent::Joined { session });
        if name.as_deref() == Some("nobody") {
            return Err(Reject::new("this room does not admit nobody"));
        }
        Ok(())
    }

    fn message(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        msg: TestMsg,
    ) -> Result<(), Reject> {
        *self.handled.entry(msg.kind()).or_default() += 1;
        match msg {
            TestMsg::Noop => {}
            TestMsg::Burst(n) => {
                for i in 0..n {
                    cx.emit(TestEvent::Tick {
                        tag: format!("burst-{i}"),
                    });
                }
            }
            TestMsg::Tag { tag } => {
                cx.emit(TestEvent::Tick { tag });
            }
            TestMsg::Secret { to, text } => {
                cx.emit_to(to, TestEvent::Secret { text });
            }
            TestMsg::EmitThenReject => {
                cx.emit(TestEvent::Tick {
                    tag: "must not appear".into(),
                });
                return Err(Reject::new("rejected after emitting, on purpose"));
            }
            TestMsg::Count => {
                self.counts += 1;
                cx.emit(TestEvent::Counted { times: self.counts });
            }
            TestMsg::Later { ms } => {
                cx.after(Duration::from_millis(ms), |_, cx| {
                    cx.emit(TestEvent::Tick {
                        tag: "later".into(),
                    });
                });
            }
            TestMsg::Slow { ms } => {
                if let Some(started) = &self.slow_started {
                    let _ = started.send(());
                }
                std::thread::sleep(Duration::from_millis(ms));
                cx.emit(TestEvent::Tick { tag: "slow".into() });
            }
        }
        Ok(())
    }
}
