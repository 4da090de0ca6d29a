//! Hosted rooms in tests: a host on 127.0.0.1:0 that stops cleanly, and
//! requests to one of its rooms under `/r/<code>`.

use std::net::SocketAddr;
use std::time::Duration;

use rex::{HostBuilder, RexApp, RoomCode, RoomCreated, SessionCreated};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Http, Reply, Stream};

/// A running host; `stop` shuts it down gracefully and waits for it.
pub struct TestHost {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestHost {
    /// Binds 127.0.0.1:0 and runs the host; `before` runs on the bound
    /// host first (to open rooms or take their handles).
    pub async fn start<A: RexApp, T>(
        builder: HostBuilder<A>,
        before: impl AsyncFnOnce(&rex::Host<A>) -> T,
    ) -> (TestHost, T) {
        let host = builder.bind("127.0.0.1:0").await.unwrap();
        let addr = host.local_addr();
        let out = before(&host).await;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(host.run(async {
            let _ = rx.await;
        }));
        let host = TestHost {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        };
        (host, out)
    }

    pub fn http(&self) -> Http {
        Http { addr: self.addr }
    }

    /// The host's base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A room's URL on this host, `http://127.0.0.1:port/r/KXQF`.
    pub fn room_url(&self, code: RoomCode) -> String {
        format!("{}{}", self.url(), code.path())
    }

    /// Opens a room over HTTP; panics unless it is created.
    pub async fn open_room(&self, body: &Value) -> RoomHttp {
        let reply = self.http().post("/rex/v0/rooms").json(body).send().await;
        assert_eq!(reply.status, 201, "opening a room: {:?}", reply.body);
        let created: RoomCreated = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(created.path, format!("/r/{}", created.room));
        RoomHttp::new(self.http(), created.room)
    }

    /// Shuts down gracefully and waits until `run` returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("host did not stop within 30 s")
                .unwrap()
                .unwrap();
        }
    }
}

/// Requests to one room of a host, by its path.
#[derive(Clone, Debug)]
pub struct RoomHttp {
    pub http: Http,
    pub code: RoomCode,
    /// `/r/KXQF`.
    pub base: String,
}

impl RoomHttp {
    pub fn new(http: Http, code: RoomCode) -> RoomHttp {
        RoomHttp {
            http,
            code,
            base: code.path(),
        }
    }

    /// `GET` of a path within the room (`/rex/v0/info`).
    pub async fn get(&self, path: &str) -> Reply {
        self.http.get(&format!("{}{path}", self.base)).send().await
    }

    /// Creates a session; panics unless it is created.
    pub async fn session(&self, name: &str) -> SessionCreated {
        let reply = self
            .http
            .post(&format!("{}/rex/v0/sessions", self.base))
            .json(&json!({ "name": name }))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}: {:?}", self.base, reply.body);
        serde_json::from_slice(&reply.body).unwrap()
    }

    /// Posts a message as `token`; returns the reply whatever its status.
    pub async fn message(&self, token: &str, body: &Value) -> Reply {
        self.http
            .post(&format!("{}/rex/v0/messages", self.base))
            .bearer(token)
            .json(body)
            .send()
            .await
    }

    /// Opens the room's event stream (NDJSON) with the query given.
    pub async fn events(&self, query: &str, token: Option<&str>) -> Stream {
        let mut req = self
            .http
            .get(&format!("{}/rex/v0/events?{query}", self.base));
        if let Some(token) = token {
            req = req.bearer(token);
        }
        req.stream().await
    }
}
