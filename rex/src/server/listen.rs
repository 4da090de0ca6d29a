//! The accept loop every server runs, whatever it serves: admits
//! connections within the connection limits, serves each on its own task,
//! and on shutdown stops accepting and drains.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::accept::{self, FailureLog};
use super::connection;
use super::conns::Registry;
use super::routes::Site;

/// What the accept loop needs besides the site: connection limits and
/// timeouts.
pub(crate) struct Net {
    pub(crate) registry: Arc<Registry>,
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
}

/// Serves `site` on `listener` until `shutdown` completes or `failed`
/// does (the site cannot go on: its store failed), then shuts down
/// gracefully: stops accepting, answers new requests on open connections
/// with `503`, lets requests in flight finish and every open event stream
/// send what the log holds (`Site::drain`), all within `shutdown_timeout`.
/// Returns the failure, if that is what ended it.
pub(crate) async fn serve<S: Site>(
    listener: TcpListener,
    site: Arc<S>,
    net: Net,
    shutdown_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    failed: impl Future<Output = io::Error>,
) -> Option<io::Error> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(net.header_timeout);
    // Shared: every connection's task would otherwise keep a copy of the
    // settings for its whole life (each idle stream is one).
    let http = Arc::new(http);
    let mut failures = FailureLog::new(Duration::from_secs(1));
    let refusing = Arc::new(Semaphore::new(accept::MAX_REFUSING));
    tokio::pin!(shutdown);
    tokio::pin!(failed);
    let mut failure = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off
                    // instead of spinning, and keep serving.
                    failures.failed(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            error = &mut failed => {
                failure = Some(error);
                break;
            }
        };
        match net.registry.admit(peer.ip()) {
            Ok(slot) => {
                tokio::spawn(connection::serve(
                    stream,
                    peer,
                    slot,
                    site.clone(),
                    http.clone(),
                    net.write_timeout,
                ));
            }
            Err(full) => {
                tracing::debug!(%peer, ?full, "no room for a connection; refusing it");
                // Past the few refusals answered at once, close at
                // once: answering must not use up descriptors itself.
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        accept::refuse(stream, full).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    drop(listener);
    // New requests get 503 and idle connections close at once; requests
    // in flight finish; then the open streams send every event up to the
    // head (including what those requests appended) and end.
    net.registry.close_all();
    let drain = async {
        tokio::join!(net.registry.closed(), site.drain());
    };
    if tokio::time::timeout(shutdown_timeout, drain).await.is_err() {
        tracing::warn!(
            ?shutdown_timeout,
            "requests still open after the shutdown timeout; closing them"
        );
    }
    failure
}
