//! Every supported shape, with docs, under `deny(missing_docs)`.
#![deny(missing_docs, warnings)]

use rex::{Context, EventMeta, Reject, RexApp, RexEvent, RexMessage, SessionId};

/// Messages.
#[derive(Debug, RexMessage)]
#[rex(rename_all = "camelCase", app = "pass", events = Ev)]
pub enum Msg {
    /// Unit.
    Start,
    /// Newtype.
    SetName(String),
    /// Struct.
    Answer {
        /// Field.
        choice: u8,
    },
    /// Renamed.
    #[rex(rename = "v2.ping")]
    Ping,
}

/// Events.
#[derive(Debug, RexEvent)]
pub enum Ev {
    /// Unit.
    Started,
    /// Newtype.
    Named(String),
    /// Struct, with a `from` field (allowed in events).
    Answered {
        /// Who.
        from: SessionId,
        /// What.
        choice: u8,
    },
}

struct App;

impl RexApp for App {
    type Protocol = Msg;
}

impl MsgHandler for App {
    fn start(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        cx.emit(Ev::Started);
        Ok(())
    }

    fn set_name(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, value: String) -> Result<(), Reject> {
        cx.emit(Ev::Named(value));
        Ok(())
    }

    fn answer(&mut self, cx: &mut Context<'_, Self>, from: SessionId, choice: u8) -> Result<(), Reject> {
        cx.emit(Ev::Answered { from, choice });
        Ok(())
    }

    fn ping(&mut self, _cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        Err(Reject::new("pong"))
    }
}

struct Screen;

impl EvHandler for Screen {
    fn answered(&mut self, _meta: &EventMeta, _from: SessionId, _choice: u8) {}
}

async fn phone(client: MsgClient) -> Result<(), rex::ClientError> {
    client.start().await?;
    client.set_name("Ann").await?;
    client.answer(2u8).await?;
    client.ping().await?;
    Ok(())
}

fn assert_send<T: Send>(_: &T) {}

/// The stubs' futures are `Send`, so a phone app can spawn them.
fn spawnable(client: MsgClient) {
    let future = phone(client);
    assert_send(&future);
    drop(future);
}

fn main() {
    assert_eq!(<Msg as RexMessage>::KINDS, ["start", "setName", "answer", "v2.ping"]);
    let _ = Screen;
    let _ = spawnable;
}
