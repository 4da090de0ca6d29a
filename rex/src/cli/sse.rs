//! `rex tail --sse`: follows a room's log over Server-Sent Events, the
//! framing browsers use, resuming with `Last-Event-ID` the way
//! `EventSource` does. A tool for checking what a web page would see.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rex_proto::{path, EventRecord};

use super::{print_event, print_resync, Console, Failure, TailArgs};
use crate::{ClientError, Endpoint, RetryPolicy};

/// How long the stream may be silent (no event, no heartbeat) before the
/// connection is taken as dead: 2⅔ of the server's default heartbeat.
const IDLE: Duration = Duration::from_secs(40);

pub(super) async fn tail(console: &mut Console<'_>, args: &TailArgs) -> Result<(), Failure> {
    let endpoint = Endpoint::parse(&args.url)?;
    let http = HyperClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let retry = RetryPolicy::default();
    let mut start = args.start;
    // The last id seen: a reconnect resumes after it with `Last-Event-ID`.
    let mut last: Option<u64> = None;
    let mut shown = 0;
    let mut failures = 0;
    loop {
        let uri = endpoint.uri(&format!("{}?start={start}", path::EVENTS))?;
        let mut request = Request::get(uri)
            .header(header::ACCEPT, "text/event-stream")
            .body(Empty::new())
            .map_err(|e| Failure::Message(e.to_string()))?;
        if let Some(last) = last {
            if let Ok(value) = HeaderValue::from_str(&last.to_string()) {
                request.headers_mut().insert("last-event-id", value);
            }
        }
        let response = match http.request(request).await {
            Ok(response) => response,
            Err(e) => {
                failures += 1;
                if failures >= retry.max_attempts {
                    return Err(Failure::Message(format!("could not reach {endpoint}: {e}")));
                }
                tokio::time::sleep(retry.backoff(failures - 1)).await;
                continue;
            }
        };
        failures = 0;
        let status = response.status();
        if status != StatusCode::OK {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            match ClientError::from_response(status.as_u16(), &body) {
                ClientError::Gone {
                    reason,
                    head: Some(head),
                    ..
                } => {
                    print_resync(console, "Gone", &reason, head)?;
                    start = head;
                    last = None;
                    continue;
                }
                e if e.is_transient() => {
                    tokio::time::sleep(retry.max_backoff).await;
                    continue;
                }
                e => return Err(e.into()),
            }
        }
        let mut body = response.into_body();
        let mut buf = BytesMut::new();
        loop {
            while let Some(frame) = take_frame(&mut buf) {
                let Some(record) = parse_frame(&frame) else {
                    continue;
                };
                if last.is_some_and(|l| record.index <= l) {
                    continue;
                }
                last = Some(record.index);
                start = record.index + 1;
                print_event(console, &record)?;
                shown += 1;
                if args.limit.is_some_and(|limit| shown >= limit) {
                    return Ok(());
                }
            }
            match tokio::time::timeout(IDLE, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                    }
                }
                // Ended, cut or silent: reconnect from where we are.
                _ => break,
            }
        }
    }
}

/// The next complete event (up to a blank line), without the blank line.
fn take_frame(buf: &mut BytesMut) -> Option<String> {
    let end = buf.windows(2).position(|w| w == b"\n\n")?;
    let frame = buf.split_to(end + 2);
    Some(String::from_utf8_lossy(&frame[..end]).into_owned())
}

/// The event in an SSE frame: its `data:` line is the same JSON object as
/// an NDJSON line. Comments (`:` heartbeats) and other frames give `None`.
fn parse_frame(frame: &str) -> Option<EventRecord> {
    let data = frame
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect::<Vec<_>>()
        .join("\n");
    if data.is_empty() {
        return None;
    }
    serde_json::from_str(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_on_blank_lines_and_heartbeats_are_skipped() {
        let mut buf = BytesMut::from(
            &b":\n\nid: 3\nevent: said\ndata: {\"index\":3,\"time\":5,\"kind\":\"said\",\"origin\":null}\n\nid: 4"[..],
        );
        let heartbeat = take_frame(&mut buf).unwrap();
        assert!(parse_frame(&heartbeat).is_none());
        let record = parse_frame(&take_frame(&mut buf).unwrap()).unwrap();
        assert_eq!((record.index, record.kind.as_str()), (3, "said"));
        assert!(take_frame(&mut buf).is_none(), "a partial frame waits");
    }
}
