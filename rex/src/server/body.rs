//! Reading a request body within a size limit and a deadline.
//!
//! Why a deadline: hyper times out a request's head (`header_timeout`) but
//! not its body, so a client that declares `Content-Length: 100` and sends
//! ten bytes would hold its connection (a file descriptor and a task) for
//! ever. A few hundred of those lock everyone out.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than the limit (declared or sent).
    TooLarge,
    /// Not complete within the deadline.
    TimedOut,
    /// The connection failed or the framing was broken.
    Broken(String),
}

/// Collects `body`, refusing it once it passes `limit` bytes or when it is
/// not complete `timeout` after the call.
///
/// A small body usually arrives with its head: it is read at once, in one
/// piece, without arming a timer or gathering frames into a list (issue
/// 19); the deadline starts only for a body that is not all there.
pub(crate) async fn collect(
    body: Incoming,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let mut read = std::pin::pin!(read_all(Limited::new(body, limit)));
    let read = match (&mut read).now_or_never() {
        Some(done) => done,
        None => match tokio::time::timeout(timeout, read).await {
            Ok(done) => done,
            Err(_) => return Err(BodyError::TimedOut),
        },
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Broken(e.to_string())),
    }
}

/// Every data frame of `body`, joined: the one frame itself when there is
/// only one (no copy).
async fn read_all(
    body: Limited<Incoming>,
) -> Result<Bytes, Box<dyn std::error::Error + Send + Sync>> {
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            // Trailers: not part of the body.
            continue;
        };
        match (&mut first, &mut joined) {
            (None, None) => first = Some(data),
            (_, Some(joined)) => joined.extend_from_slice(&data),
            (Some(head), None) => {
                let mut both = BytesMut::with_capacity(head.len() + data.len());
                both.extend_from_slice(head);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(match (joined, first) {
        (Some(joined), _) => joined.freeze(),
        (None, Some(first)) => first,
        (None, None) => Bytes::new(),
    })
}
