//! `rex-durable-probe`: a durable REx server for the crash tests.
//!
//! Its app counts numbered notes from each writer and refuses a note out
//! of order, so a note handled twice or skipped shows as a refusal; its
//! snapshot is the tally, which the tests compare with a replay of the log.
//!
//! ```text
//! rex-durable-probe --data DIR --addr 127.x.y.z:PORT
//! ```
//!
//! Prints `listening on http://ADDR` once it serves, and runs until it is
//! killed (the point) or gets SIGTERM / Ctrl-C.

use std::time::Duration;

use rex::{Context, Durable, Reject, Retention, RexApp, Server, SessionId, Snapshot};
use rex_tests::probe::{Ev, Msg, MsgHandler, Tally};

#[derive(Default)]
struct Probe {
    tally: Tally,
}

impl RexApp for Probe {
    type Protocol = Msg;

    fn snapshot(&self, _viewer: Option<SessionId>) -> Option<Snapshot> {
        Some(Snapshot::new(&self.tally))
    }
}

impl Durable for Probe {
    type State = Tally;

    fn state(&self) -> &Tally {
        &self.tally
    }

    fn restore(&mut self, _cx: &mut Context<'_, Self>, state: Tally) {
        self.tally = state;
    }
}

impl MsgHandler for Probe {
    fn note(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        writer: u32,
        seq: u64,
    ) -> Result<(), Reject> {
        let expected = self.tally.next(writer);
        if seq != expected {
            return Err(Reject::new(format!(
                "writer {writer} sent note {seq}, expected {expected}"
            )));
        }
        self.tally.add(writer, seq);
        cx.emit(Ev::Noted { writer, seq });
        Ok(())
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let (Some(data), Some(addr)) = (arg("--data"), arg("--addr")) else {
        eprintln!("usage: rex-durable-probe --data DIR --addr IP:PORT");
        std::process::exit(2);
    };
    // The previous process's listening socket is gone the moment it died,
    // but be patient with a port that is briefly busy.
    let mut tries = 0;
    let server = loop {
        let bound = Server::builder(Probe::default())
            .data_dir(&data)
            .retention(Retention::unlimited())
            .message_rate(rex::Rate::unlimited())
            .bind(addr.as_str())
            .await;
        match bound {
            Ok(server) => break server,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => {
                eprintln!("rex-durable-probe: {e}");
                std::process::exit(1);
            }
        }
    };
    println!("listening on http://{}", server.local_addr());
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
