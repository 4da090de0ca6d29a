//! One accepted connection, served until it ends, is evicted to make room,
//! or the server shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::conns::{Slot, Tracked};
use super::routes::{self, Site};
use super::stall::StallGuard;

/// Serves `stream` with `http`'s settings. On eviction or shutdown the
/// connection closes gracefully: at once when idle, after the request in
/// flight otherwise.
pub(crate) async fn serve<S: Site>(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    site: Arc<S>,
    http: http1::Builder,
    write_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    // Events are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let slot = Arc::new(slot);
    let service = {
        let slot = slot.clone();
        service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // The admission limits (`limits.rs`) are per client address.
            req.extensions_mut().insert(routes::ClientAddr(peer.ip()));
            // Busy from the request head to the end of the response body,
            // so only connections with nothing in flight are evicted.
            let busy = slot.busy();
            let site = site.clone();
            async move {
                let response = routes::serve(req, site).await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| Tracked { inner, _busy: busy }),
                )
            }
        })
    };
    let io = TokioIo::new(StallGuard::new(stream, write_timeout));
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            () = slot.evicted(), if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = closing.wait_for(|closing| *closing), if !shutting => {
                shutting = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
