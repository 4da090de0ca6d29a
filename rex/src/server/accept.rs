//! What the accept loop needs around `accept`: the connection cap derived
//! from the open-files limit, a short answer for a connection that finds the
//! server full, and a log of accept failures that cannot flood stderr.

use std::io;
use std::time::Duration;

use rex_proto::{ErrorBody, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::conns::Full;

/// Descriptors kept back from the connection cap: for the listener, log
/// files, discovery's sockets, the app's own files, and the connections
/// the accept loop has taken but is still turning away.
const RESERVED_FILES: u64 = 64;

/// The default connection cap when the open-files limit cannot be read
/// (not Unix): what a 1,024-descriptor process could afford.
const FALLBACK_MAX_CONNECTIONS: usize = 900;

/// Raises this process's soft open-files limit to its hard limit (a server
/// should use what it is allowed), and returns the connection cap that
/// leaves room for everything else: seven eighths of the limit, and at
/// least 64 fewer than it.
pub(crate) fn default_max_connections() -> usize {
    let Some(limit) = open_files_limit() else {
        return FALLBACK_MAX_CONNECTIONS;
    };
    let reserve = (limit / 8).max(RESERVED_FILES);
    usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1)
}

#[cfg(unix)]
fn open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::debug!(error = %e, "could not raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _hard)| soft)
        }
    }
}

#[cfg(not(unix))]
fn open_files_limit() -> Option<u64> {
    None
}

/// How many refused connections may be answered at once; past that they
/// are closed without an answer, so turning clients away cannot itself use
/// up the reserve of descriptors.
pub(crate) const MAX_REFUSING: usize = RESERVED_FILES as usize / 2;

/// How long a refused connection gets to take its answer.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Answers a connection the server has no room for with a JSON error
/// (`503 unavailable`, or `429 too_many_requests` when its own address
/// holds the maximum) and closes it.
pub(crate) async fn refuse(mut stream: TcpStream, full: Full) {
    let response = refusal_response(full);
    let answer = async {
        // Read what the client sent first, so closing with unread data
        // does not reset the connection before it reads the answer.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut request)).await;
        stream.write_all(&response).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_TIME, answer).await;
}

fn refusal_response(full: Full) -> Vec<u8> {
    let (code, status, reason) = match full {
        Full::Server(limit) => (
            ErrorCode::Unavailable,
            "503 Service Unavailable",
            format!(
                "the server has {limit} connections open, all busy (its `max_connections`); \
                 try again shortly"
            ),
        ),
        Full::Address(limit) => (
            ErrorCode::TooManyRequests,
            "429 Too Many Requests",
            format!(
                "your address has {limit} connections open to this server, all busy (its \
                 `max_connections_per_address`); close some, or try again shortly"
            ),
        ),
    };
    let mut body = ErrorBody::new(code, reason);
    body.retry_after = Some(1);
    // Our own response type always serializes.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
}

/// Logs accept failures at most once per `every`, with the number left
/// out: out of descriptors, `accept` fails on every try, and one line per
/// try would flood the log.
#[derive(Debug)]
pub(crate) struct FailureLog {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    /// A log that writes at most one line per `every`.
    pub(crate) fn new(every: Duration) -> Self {
        FailureLog {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Records a failure; logs it unless one was logged within `every`.
    /// Returns whether it logged.
    pub(crate) fn failed(&mut self, error: &io::Error) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + self.every) {
            self.suppressed += 1;
            return false;
        }
        tracing::warn!(
            error = %error,
            suppressed = self.suppressed,
            "accept failed (with `suppressed` more failures since the last such line)"
        );
        self.last = Some(now);
        self.suppressed = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn accept_failures_are_logged_at_most_once_per_period() {
        let mut log = FailureLog::new(Duration::from_secs(1));
        let error = io::Error::other("too many open files");
        assert!(log.failed(&error));
        for _ in 0..15 {
            tokio::time::advance(Duration::from_millis(50)).await;
            assert!(!log.failed(&error));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(log.failed(&error));
    }

    #[test]
    fn refusals_are_json_errors() {
        let response = String::from_utf8(refusal_response(Full::Address(4))).unwrap();
        assert!(response.starts_with("HTTP/1.1 429 "), "{response}");
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        let body: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(body.error, ErrorCode::TooManyRequests);
        assert_eq!(body.retry_after, Some(1));
    }

    #[test]
    fn the_default_cap_leaves_descriptors_over() {
        let cap = default_max_connections();
        assert!(cap >= 1);
        if let Some(limit) = open_files_limit() {
            assert!((cap as u64) + RESERVED_FILES <= limit.max(RESERVED_FILES + 1));
        }
    }
}
