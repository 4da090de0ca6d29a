//! `TestApp`: an app whose messages exercise every shape and path of the
//! server (unit, newtype and struct payloads; several events per message;
//! private events; rejection after emitting; join refusal; scheduled work).

use std::collections::HashMap;
use std::time::Duration;

use rex::{Context, Dispatch, Reject, RexApp, RexEvent, RexMessage, SessionId, Snapshot};

/// Messages of the test app: every shape (unit, newtype, struct).
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
#[rex(app = "test", events = TestEvent)]
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
    type Protocol = TestMsg;

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

    /// How many `tag` messages the app handled (each appended one `tick`),
    /// and who asked: enough for the JavaScript client's snapshot tests.
    fn snapshot(&self, viewer: Option<SessionId>) -> Option<Snapshot> {
        Some(Snapshot::new(&serde_json::json!({
            "tags": self.handled.get("tag").copied().unwrap_or(0),
            "viewer": viewer,
        })))
    }
}

/// Routing by hand (rather than with the derived `TestMsgHandler`): the
/// app counts every message, whatever its kind, before handling it.
impl Dispatch<TestApp> for TestMsg {
    fn dispatch(
        self,
        app: &mut TestApp,
        cx: &mut Context<'_, TestApp>,
        _from: SessionId,
    ) -> Result<(), Reject> {
        *app.handled.entry(self.kind()).or_default() += 1;
        match self {
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
                app.counts += 1;
                cx.emit(TestEvent::Counted { times: app.counts });
            }
            TestMsg::Later { ms } => {
                cx.after(Duration::from_millis(ms), |_, cx| {
                    cx.emit(TestEvent::Tick {
                        tag: "later".into(),
                    });
                });
            }
            TestMsg::Slow { ms } => {
                if let Some(started) = &app.slow_started {
                    let _ = started.send(());
                }
                std::thread::sleep(Duration::from_millis(ms));
                cx.emit(TestEvent::Tick { tag: "slow".into() });
            }
        }
        Ok(())
    }
}
