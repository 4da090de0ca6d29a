//! The REx side: a minimal chat-like app (`say {text}` → `said {from,
//! text}`) served through the runtime's real public API.

use rex::{
    Context, DataObject, DecodeError, EncodeError, Reject, RexApp, RexEvent, RexMessage, SessionId,
};
use serde_json::{json, Value};

/// What a client sends: `say {text}`.
#[derive(Clone, Debug)]
pub(crate) enum BenchMsg {
    Say { text: String },
}

impl RexMessage for BenchMsg {
    const KINDS: &'static [&'static str] = &["say"];

    fn kind(&self) -> &'static str {
        "say"
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        let BenchMsg::Say { text } = self;
        Ok(Some(json!({ "text": text })))
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        match kind {
            "say" => {
                let mut d = DataObject::new(kind, data)?;
                let msg = BenchMsg::Say {
                    text: d.field("text")?,
                };
                d.deny_unknown(&["text"])?;
                Ok(msg)
            }
            other => Err(DecodeError::unknown_kind(other, Self::KINDS)),
        }
    }
}

/// What the app appends: `said {from, text}`.
#[derive(Clone, Debug)]
pub(crate) enum BenchEvent {
    Said { from: SessionId, text: String },
}

impl RexEvent for BenchEvent {
    const KINDS: &'static [&'static str] = &["said"];

    fn kind(&self) -> &'static str {
        "said"
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        let BenchEvent::Said { from, text } = self;
        Ok(Some(json!({ "from": from, "text": text })))
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        match kind {
            "said" => {
                let mut d = DataObject::new(kind, data)?;
                Ok(BenchEvent::Said {
                    from: d.field("from")?,
                    text: d.field("text")?,
                })
            }
            other => Err(DecodeError::unknown_kind(other, Self::KINDS)),
        }
    }
}

/// The chat room without names: every `say` becomes one `said`.
pub(crate) struct BenchApp;

impl RexApp for BenchApp {
    type Message = BenchMsg;
    type Event = BenchEvent;
    const ID: &'static str = "bench";

    fn message(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        msg: BenchMsg,
    ) -> Result<(), Reject> {
        let BenchMsg::Say { text } = msg;
        cx.emit(BenchEvent::Said { from, text });
        Ok(())
    }
}
