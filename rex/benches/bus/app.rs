//! The REx side: a minimal chat-like app (`say {text}` → `said {from,
//! text}`) served through the runtime's real public API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rex::{Context, Durable, Reject, RexApp, RexEvent, RexMessage, SessionId};
use serde::{Deserialize, Serialize};

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

/// What a durable room saves with every group commit: a tiny state, so
/// the disk figures measure the log and the commits, not the app.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct BenchState {
    said: u64,
}

/// The chat room without names: every `say` becomes one `said`.
#[derive(Default)]
pub(crate) struct BenchApp {
    state: BenchState,
    /// How many times the server asked for the state to save it. The
    /// server saves the state once per group commit (and only then), so
    /// this counts batches, i.e. fsyncs, without anything from rex beyond
    /// its public `Durable` contract. Shared with the child's command loop.
    saves: Arc<AtomicU64>,
}

impl BenchApp {
    /// The counter of state saves (batches), to read from outside the app.
    pub(crate) fn saves(&self) -> Arc<AtomicU64> {
        self.saves.clone()
    }

    /// A room's app that counts its saves in `saves`: a host's rooms all
    /// share one counter, so the host counts every room's commits.
    pub(crate) fn counting(saves: Arc<AtomicU64>) -> BenchApp {
        BenchApp {
            saves,
            ..BenchApp::default()
        }
    }
}

impl RexApp for BenchApp {
    type Protocol = BenchMsg;
}

impl Durable for BenchApp {
    type State = BenchState;

    fn state(&self) -> &BenchState {
        self.saves.fetch_add(1, Ordering::Relaxed);
        &self.state
    }

    fn restore(&mut self, _: &mut Context<'_, Self>, state: BenchState) {
        self.state = state;
    }
}

impl BenchMsgHandler for BenchApp {
    fn say(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        text: String,
    ) -> Result<(), Reject> {
        self.state.said += 1;
        cx.emit(BenchEvent::Said { from, text });
        Ok(())
    }
}
