//! [`Link`]: keeps a [`RemoteScreen`] in step with the TV and sends its
//! commands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rex::{ClientError, StreamItem};
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;

use super::{kind, RemoteScreen};
use crate::remote::{PlayerView, RemoteClient, RemoteMsg};

/// The wait before reading the TV's state again after a failure.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// The tasks behind a terminal remote: one follows the TV (its snapshot,
/// then its log, and a new snapshot whenever the log cannot be followed),
/// and one sends the remote's commands one after another in the order they
/// were given. Each updates the screen through the `watch` channel, which
/// also tells the UI to redraw. Whether the TV is in reach is what the
/// log's stream says of its connection ([`rex::Connection`]): it notices a
/// lost connection at once, and a silent one within the client's idle
/// timeout, so nothing needs to ask the TV.
///
/// Dropping the link stops them (a command not yet answered may then
/// never reach the TV: [`Link::flush`] first).
#[derive(Debug)]
pub struct Link {
    commands: mpsc::UnboundedSender<RemoteMsg>,
    /// How many commands [`Link::send`] was given, so that
    /// [`Link::flush`] knows how many answers to wait for.
    given: AtomicU64,
    /// How many of them have an outcome on the screen, counted by the
    /// sending task after it shows each one. A count and not a signal per
    /// command: a command may wait through reconnections (the client
    /// retries it), and whoever flushes only needs "all before this".
    answered: watch::Receiver<u64>,
    tasks: Vec<AbortHandle>,
}

impl Link {
    /// Starts following the TV `client` is connected to (as a session, so
    /// the TV knows who sends). `name` is the remote's name, for the new
    /// session it needs after the TV restarts.
    pub fn start(
        client: RemoteClient,
        name: Option<String>,
        screen: watch::Sender<RemoteScreen>,
    ) -> Link {
        let (commands, queue) = mpsc::unbounded_channel();
        let (answers, answered) = watch::channel(0);
        let tasks = vec![
            tokio::spawn(follow(client.clone(), name, screen.clone())).abort_handle(),
            tokio::spawn(send_all(client, queue, screen, answers)).abort_handle(),
        ];
        Link {
            commands,
            given: AtomicU64::new(0),
            answered,
            tasks,
        }
    }

    /// Sends `msg` after the commands before it, without waiting: the
    /// outcome shows on the screen (a refusal's reason, or the trouble).
    pub fn send(&self, msg: RemoteMsg) {
        self.given.fetch_add(1, Ordering::SeqCst);
        // The sending task ends only when the link is dropped.
        let _ = self.commands.send(msg);
    }

    /// Waits until every command given to [`Link::send`] before this call
    /// has its outcome on the screen: the TV accepted or refused it, or the
    /// client gave up sending it. After that, the TV's log holds whatever
    /// those commands did. The remote flushes before it quits, so a key
    /// pressed just before `q` still reaches the TV.
    ///
    /// While the TV is unreachable a command is retried for as long as the
    /// client's retry policy allows (about 12 s by default), so bound the
    /// wait with a timeout.
    pub async fn flush(&self) {
        let given = self.given.load(Ordering::SeqCst);
        let mut answered = self.answered.clone();
        // An error means the sending task is gone (the runtime is shutting
        // down): nothing will be answered any more.
        let _ = answered.wait_for(|&n| n >= given).await;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The snapshot, then the log after it, forever.
async fn follow(client: RemoteClient, name: Option<String>, screen: watch::Sender<RemoteScreen>) {
    loop {
        let at = match client.snapshot::<PlayerView>().await {
            Ok(at) => at,
            Err(ClientError::Unauthorized { .. }) => {
                // The TV restarted: this remote's session went with its
                // old log. Come back as a new one.
                screen.send_modify(|s| s.trouble("the TV restarted; joining it again…"));
                if let Err(e) = client.rejoin(name.clone()).await {
                    screen.send_modify(|s| s.trouble(format!("cannot join the TV again: {e}")));
                    tokio::time::sleep(RETRY_AFTER).await;
                }
                continue;
            }
            Err(e) => {
                screen.send_modify(|s| {
                    s.trouble(format!("cannot read the TV's state ({e}); reconnecting…"))
                });
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        let seen = Instant::now();
        screen.send_modify(|s| s.load(&at, seen));
        let mut events = client.events_from(at.index);
        while let Some(item) = events.next().await {
            match item {
                Ok(StreamItem::Event(e)) => {
                    let seen = Instant::now();
                    screen.send_modify(|s| s.apply(&e, seen));
                }
                // Events were missed (or the TV restarted): a new snapshot
                // has their effect.
                Ok(StreamItem::Resync(_)) => break,
                // The status line says whether the TV is in reach.
                Ok(StreamItem::Connection(state)) => {
                    screen.send_modify(|s| s.connection(&state));
                }
                // A kind this build cannot apply (a newer TV), or a payload
                // that does not decode: the view would go wrong from here,
                // and a new snapshot has the event's effect.
                Ok(StreamItem::Unknown { .. }) | Err(ClientError::Decode { .. }) => break,
                Err(e) => {
                    screen.send_modify(|s| {
                        s.trouble(format!("lost the TV's log ({e}); reconnecting…"))
                    });
                    tokio::time::sleep(RETRY_AFTER).await;
                    break;
                }
            }
        }
    }
}

/// Sends the queued commands in order; each outcome goes to the screen,
/// then counts in `answered` (for [`Link::flush`]).
async fn send_all(
    client: RemoteClient,
    mut queue: mpsc::UnboundedReceiver<RemoteMsg>,
    screen: watch::Sender<RemoteScreen>,
    answered: watch::Sender<u64>,
) {
    while let Some(msg) = queue.recv().await {
        let result = client.send(&msg).await;
        let seen = Instant::now();
        screen.send_modify(|s| match result {
            Ok(_) => s.accepted(),
            Err(ClientError::Rejected { reason }) => s.rejected(reason, seen),
            Err(ClientError::Unauthorized { .. }) => s.failed(
                format!(
                    "`{}` was not sent: the TV restarted; try again in a moment",
                    kind(&msg)
                ),
                seen,
            ),
            Err(e) => s.failed(format!("`{}` was not sent: {e}", kind(&msg)), seen),
        });
        answered.send_modify(|n| *n += 1);
    }
}
