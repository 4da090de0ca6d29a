//! `rex-durable-probe`: a durable REx server for the crash tests.
//!
//! Its app counts numbered notes from each writer and refuses a note out
//! of order, so a note handled twice or skipped shows as a refusal; its
//! snapshot is the tally, which the tests compare with a replay of the log.
//!
//! ```text
//! rex-durable-probe --data DIR --addr 127.x.y.z:PORT [--host]
//! rex-durable-probe --redis URL --addr 127.x.y.z:PORT [--lease-ms N]
//! ```
//!
//! With `--host` it is a durable host of rooms of the same app
//! (`POST /rex/v0/rooms`, each room under `/r/<code>`), with its rate
//! limits lifted for the tests. With `--redis` it is such a host of a
//! group sharing its rooms through that Redis (`docs/scaling.md`), at
//! `http://ADDR`, with a lease of `--lease-ms` (default 10 s).
//!
//! Prints `listening on http://ADDR` once it serves, and runs until it is
//! killed (the point) or gets SIGTERM / Ctrl-C.

use std::time::Duration;

use rex::{Context, Durable, Host, Reject, Retention, RexApp, Server, SessionId, Snapshot};
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

    fn alarm(
        &mut self,
        cx: &mut Context<'_, Self>,
        _from: SessionId,
        ms: u64,
    ) -> Result<(), Reject> {
        cx.after(Duration::from_millis(ms), |_, cx| {
            cx.emit(Ev::Rang);
        });
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let redis = arg("--redis");
    let (Some(data), Some(addr)) = (arg("--data").or(redis.clone()), arg("--addr")) else {
        eprintln!("usage: rex-durable-probe (--data DIR | --redis URL) --addr IP:PORT");
        std::process::exit(2);
    };
    let hosting = std::env::args().any(|a| a == "--host");
    if let Some(redis) = redis {
        let lease = arg("--lease-ms")
            .and_then(|ms| ms.parse().ok())
            .map_or(rex::server::DEFAULT_ROOM_LEASE, Duration::from_millis);
        if let Err(e) = serve_group(&redis, &addr, lease).await {
            eprintln!("rex-durable-probe: {e}");
            std::process::exit(1);
        }
        return Ok(());
    }
    // The previous process's listening socket is gone the moment it died,
    // but be patient with a port that is briefly busy.
    let mut tries = 0;
    loop {
        let served = if hosting {
            serve_host(&data, &addr).await
        } else {
            serve_room(&data, &addr).await
        };
        match served {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => {
                eprintln!("rex-durable-probe: {e}");
                std::process::exit(1);
            }
            Ok(()) => return Ok(()),
        }
    }
}

async fn stopped() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve_room(data: &str, addr: &str) -> std::io::Result<()> {
    let server = Server::builder(Probe::default())
        .data_dir(data)
        .retention(Retention::unlimited())
        .message_rate(rex::Rate::unlimited())
        .bind(addr)
        .await?;
    println!("listening on http://{}", server.local_addr());
    server.run(stopped()).await
}

/// A host of probe rooms with every rate limit lifted for the tests.
fn probe_host() -> rex::HostBuilder<Probe> {
    Host::builder(|_room: &rex::NewRoom| Ok(Probe::default()))
        .retention(Retention::unlimited())
        .message_rate(rex::Rate::unlimited())
        .session_rate(rex::Rate::unlimited())
        .room_creation_rate(rex::Rate::unlimited())
}

async fn serve_group(redis: &str, addr: &str, lease: Duration) -> std::io::Result<()> {
    let host = probe_host()
        .redis(redis)
        .room_lease(lease)
        .bind(addr)
        .await?;
    println!("listening on http://{}", host.local_addr());
    host.run(stopped()).await
}

async fn serve_host(data: &str, addr: &str) -> std::io::Result<()> {
    let host = probe_host().data_dir(data).bind(addr).await?;
    println!("listening on http://{}", host.local_addr());
    host.run(stopped()).await
}
