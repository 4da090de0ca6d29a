//! Message kinds named after the generic client's own methods (`snapshot`,
//! `events`, `info`, `send`) and after an app hook (`start`) still get their
//! stubs and handler methods, and the generic operations stay reachable:
//! each stub is called over TCP on loopback.
#![deny(missing_docs, warnings)]

use rex::{Context, Reject, RexApp, RexEvent, RexMessage, Server, SessionId, Snapshot, StateAt};

/// Messages whose methods share names with `rex::Client` and `RexApp`.
#[derive(Debug, RexMessage)]
#[rex(app = "names", events = Ev)]
pub enum Msg {
    /// Not `Client::snapshot`.
    Snapshot,
    /// Not `Client::events`.
    Events {
        /// How many.
        n: u32,
    },
    /// Not `Client::info`.
    Info(String),
    /// Not `Client::send`.
    Send {
        /// To whom.
        to: SessionId,
    },
    /// Not `RexApp::start`.
    Start,
}

/// What the app says it was asked.
#[derive(Debug, PartialEq, RexEvent)]
pub enum Ev {
    /// The handler method that ran.
    Called {
        /// Its name and argument.
        what: String,
    },
}

/// Records whether its own `RexApp::start` hook ran.
#[derive(Default)]
struct App {
    started: bool,
}

impl RexApp for App {
    type Protocol = Msg;

    fn start(&mut self, _cx: &mut Context<'_, Self>) {
        self.started = true;
    }

    fn snapshot(&self, _viewer: Option<SessionId>) -> Option<Snapshot> {
        Some(Snapshot::new(&self.started))
    }
}

fn called(cx: &mut Context<'_, App>, what: String) -> Result<(), Reject> {
    cx.emit(Ev::Called { what });
    Ok(())
}

impl MsgHandler for App {
    fn snapshot(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        called(cx, "snapshot".into())
    }

    fn events(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, n: u32) -> Result<(), Reject> {
        called(cx, format!("events {n}"))
    }

    fn info(&mut self, cx: &mut Context<'_, Self>, _from: SessionId, value: String) -> Result<(), Reject> {
        called(cx, format!("info {value}"))
    }

    fn send(&mut self, cx: &mut Context<'_, Self>, from: SessionId, to: SessionId) -> Result<(), Reject> {
        called(cx, format!("send to self: {}", from == to))
    }

    fn start(&mut self, cx: &mut Context<'_, Self>, _from: SessionId) -> Result<(), Reject> {
        called(cx, "start".into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = Server::builder(App::default()).bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = MsgClient::builder(addr).name("n").connect().await.unwrap();
    let me = client.session().unwrap();
    // The stubs, one per kind.
    let first = client.snapshot().await.unwrap().first;
    client.events(3u32).await.unwrap();
    client.info("x").await.unwrap();
    client.send(me).await.unwrap();
    let last = client.start().await.unwrap().first;
    // The generic operations, through `Deref`.
    let state: StateAt<bool> = (*client).snapshot().await.unwrap();
    assert!(state.state, "RexApp::start ran, not the handler's `start`");
    assert_eq!((*client).info().await.unwrap().app, "names");
    let mut seen = Vec::new();
    let mut events = (*client).events_from(first);
    while seen.len() < 5 {
        use futures_util::StreamExt;
        let item = tokio::time::timeout(std::time::Duration::from_secs(60), events.next())
            .await
            .expect("an event within 60 s")
            .expect("the stream goes on")
            .expect("no error");
        if let rex::StreamItem::Event(e) = item {
            let Ev::Called { what } = e.event;
            seen.push(what);
        }
    }
    assert_eq!(seen, ["snapshot", "events 3", "info x", "send to self: true", "start"]);
    assert_eq!(last, first + 4);
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
