//! One accepted connection, served until it ends, is evicted to make room,
//! or the server shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::conns::{Slot, Tracked};
use super::routes::{self, Site};
use super::stall::StallGuard;

/// Serves `stream` with `http`'s settings. On eviction or shutdown (both
/// come through `slot`) the connection closes gracefully: at once when
/// idle, after the request in flight otherwise.
pub(crate) async fn serve<S: Site>(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    site: Arc<S>,
    http: Arc<http1::Builder>,
    write_timeout: Duration,
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
            // Boxed: hyper keeps room for one request's future for the
            // life of the connection, and a stream's request is answered
            // (its body is what lives on), so the room would be held by
            // every idle stream. Boxed, it is freed with the answer.
            Box::pin(async move {
                let response = routes::serve(req, site).await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| Tracked { inner, _busy: busy }),
                )
            })
        })
    };
    let io = TokioIo::new(StallGuard::new(stream, write_timeout));
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    // Evicted to make room, or the server shutting down: the same
    // graceful close, once.
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = slot.evicted() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
