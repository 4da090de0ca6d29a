//! `TestApp`: an app whose messages exercise every shape and path of the
//! server (unit, newtype and struct payloads; several events per message;
//! private events; rejection after emitting; join refusal; scheduled work).

use std::collections::HashMap;
use std::time::Duration;

use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId, Snapshot};

/// Messages of the test app: every shape (unit, newtype, struct).
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
pub enum TestMsg {
    /// Emits nothing.
    Noop,
    /// Emits `n` public `tick` events.
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
    /// Blocks the app for `ms` milliseconds before answering.
    Slow { ms: u64 },
}

/// Events of the test app.
#[derive(Clone, Debug, PartialEq, Eq, RexEvent)]
pub enum TestEvent {
    Joined { session: SessionId },
    Tick { tag: String },
    Secret { text: String },
    Counted { times: u64 },
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

    /// How many `tag` messages the app handled (each appended one `tick`),
    /// and who asked: enough for the JavaScript client's snapshot tests.
    fn snapshot(&self, viewer: Option<SessionId>) -> Option<Snapshot> {
        Some(Snapshot::new(&serde_json::json!({
            "tags": self.handled.get("tag").copied().unwrap_or(0),
            "viewer": viewer,
        })))
    }
}
