//! The REx side: a minimal chat-like app (`say {text}` → `said {from,
//! text}`) served through the runtime's real public API.

use rex::{Context, Reject, RexApp, RexEvent, RexMessage, SessionId};

/// What a client sends: `say {text}`.
#[derive(Clone, Debug, RexMessage)]
#[rex(app = "bench", events = BenchEvent)]
pub(crate) enum BenchMsg {
    Say { text: String },
}

/// What the app appends: `said {from, text}`.
#[derive(Clone, Debug, RexEvent)]
pub(crate) enum BenchEvent {
    Said { from: SessionId, text: String },
}

/// The chat room without names: every `say` becomes one `said`.
pub(crate) struct BenchApp;

impl RexApp for BenchApp {
    type Protocol = BenchMsg;
}

impl BenchMsgHandler for BenchApp {
    fn say(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        text: String,
    ) -> Result<(), Reject> {
        cx.emit(BenchEvent::Said { from, text });
        Ok(())
    }
}
