//! Reading a request body within a size limit and a deadline.
//!
//! Why a deadline: hyper times out a request's head (`header_timeout`) but
//! not its body, so a client that declares `Content-Length: 100` and sends
//! ten bytes would hold its connection (a file descriptor and a task) for
//! ever. A few hundred of those lock everyone out.

use std::time::Duration;

use bytes::Bytes;
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
pub(crate) async fn collect(
    body: Incoming,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let read = Limited::new(body, limit).collect();
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
    }
}
