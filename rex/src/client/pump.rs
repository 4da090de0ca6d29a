//! The I/O around a [`Follower`]: it does what the follower asks (open the
//! request, sleep, read the body until a deadline) over the client's
//! [`Transport`](super::transport::Transport), and feeds back what
//! happened. The typed [`EventStream`](super::EventStream) and
//! `rex tail --sse` both read the log through one of these; every decision
//! is the follower's.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rex_proto::{Epoch, EventIndex};
use tokio::time::Instant;

use super::follow::{Action, Config, Follower, Framing, Input, Item, Request};
use super::{ClientError, Shared};

/// One followed stream of the log, yielding the follower's raw items.
pub(crate) struct Pump {
    shared: Arc<Shared>,
    follower: Follower,
    framing: Framing,
    /// The open body, while the follower says to read it.
    body: Option<Incoming>,
    /// The session identity the open connection was made with; when the
    /// client rejoins, the stream reconnects to read as the new session.
    identity: u64,
}

impl Pump {
    /// Follows from `start` of `epoch` (or of the server's epoch, if
    /// `None`), in `framing`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        start: EventIndex,
        epoch: Option<Epoch>,
        framing: Framing,
    ) -> Pump {
        let config = Config {
            retry: shared.transport.config.retry,
            idle: shared.transport.config.idle_timeout,
            framing,
        };
        Pump {
            shared,
            follower: Follower::new(start, epoch, config),
            framing,
            body: None,
            identity: 0,
        }
    }

    /// The next item; `None` once the follower has stopped.
    pub(crate) async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.follower.poll_item() {
                if let (Item::Record(record), Some(epoch)) = (&item, self.follower.epoch()) {
                    self.shared.saw(epoch, record.index);
                }
                return Some(item);
            }
            let input = match self.follower.action() {
                Action::Stop => return None,
                Action::Wait(backoff) => {
                    self.body = None;
                    tokio::time::sleep(backoff).await;
                    Input::Waited
                }
                Action::Connect(request) => {
                    self.body = None;
                    self.open(&request).await
                }
                Action::Read { .. } if self.identity != self.shared.identity_version() => {
                    Input::IdentityChanged
                }
                Action::Read { deadline } => self.read(Instant::from_std(deadline)).await,
            };
            // Tokio's clock, so that tests with paused time see the same
            // time as the timers.
            self.follower.handle(input, Instant::now().into_std());
        }
    }

    async fn open(&mut self, request: &Request) -> Input {
        let (token, identity, session_epoch) = self.shared.identity();
        // Read as the session only while it belongs to the log being read;
        // after an epoch change the old token would be refused.
        let token = token.filter(|_| request.epoch.is_none() || request.epoch == session_epoch);
        let transport = &self.shared.transport;
        let path = request.path_and_query();
        let opened = transport.open(
            &path,
            token.as_ref(),
            self.framing.accept(),
            request.last_event_id,
        );
        let response = match opened.await {
            Ok(response) => response,
            Err(e) => return Input::ConnectFailed(e),
        };
        self.identity = identity;
        let status = response.status();
        let epoch = response
            .headers()
            .get("rex-epoch")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        if status == StatusCode::OK {
            self.body = Some(response.into_body());
            return Input::Opened {
                status: status.as_u16(),
                epoch,
                body: Bytes::new(),
            };
        }
        let body = response.into_body().collect();
        match tokio::time::timeout(transport.config.request_timeout, body).await {
            Ok(Ok(body)) => Input::Opened {
                status: status.as_u16(),
                epoch,
                body: body.to_bytes(),
            },
            Ok(Err(e)) => Input::ConnectFailed(ClientError::transport("the answer was cut off", e)),
            Err(_) => Input::ConnectFailed(ClientError::Timeout),
        }
    }

    /// Reads the next bytes of the body, or says why none came.
    async fn read(&mut self, deadline: Instant) -> Input {
        let Some(body) = self.body.as_mut() else {
            // Not reachable: the body is kept for as long as the follower
            // reads. Were it missing, the stream is as good as cut.
            return Input::Ended;
        };
        loop {
            return match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_) => Input::IdleTimeout,
                Ok(None) => Input::Ended,
                Ok(Some(Err(e))) => {
                    Input::Cut(ClientError::transport("the event stream was cut", e))
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Input::Data(data),
                    // Trailers carry no events.
                    Err(_) => continue,
                },
            };
        }
    }
}
