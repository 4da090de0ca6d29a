//! A group of hosts sharing their rooms through one Redis, each a
//! `rex-durable-probe --redis` process of the test's own, on its own
//! loopback address: to kill (`SIGKILL`), freeze (`SIGSTOP`) and thaw.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rex::testing::RedisServer;

use crate::example::{restartable_addr, Lines};
use crate::redis::redis_or_skip;

/// One host of the group.
pub struct GroupHost {
    child: Option<Child>,
    /// Where it listens; its public URL is `http://` and this.
    pub addr: SocketAddr,
    /// What it printed.
    pub lines: Lines,
}

/// See the [module docs](self).
pub struct Group {
    pub hosts: Vec<GroupHost>,
    pub redis: RedisServer,
    pub lease: Duration,
}

impl Group {
    /// Starts Redis and `n` hosts (the `rex-durable-probe` binary at
    /// `probe`: `env!("CARGO_BIN_EXE_rex-durable-probe")`) with room
    /// leases of `lease`; `None` (after a loud skip) when there is no
    /// Redis.
    pub async fn start(probe: &str, n: usize, lease: Duration) -> Option<Group> {
        let redis = redis_or_skip()?;
        let mut hosts = Vec::new();
        for _ in 0..n {
            hosts.push(GroupHost::start(probe, &redis.url(), lease).await);
        }
        Some(Group {
            hosts,
            redis,
            lease,
        })
    }

    /// Host `i`'s base URL.
    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.hosts[i].addr)
    }

    /// `SIGKILL`s host `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.hosts[i].child.take() {
            child.kill().expect("SIGKILL the host");
            child.wait().expect("reap the host");
        }
        self.hosts[i].lines.drain();
    }

    /// Sends `signal` (`STOP`, `CONT`) to host `i`, a process of this test.
    pub fn signal(&self, i: usize, signal: &str) {
        let child = self.hosts[i].child.as_ref().expect("the host runs");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} host {i}");
    }
}

impl GroupHost {
    async fn start(probe: &str, redis: &str, lease: Duration) -> GroupHost {
        let addr = restartable_addr();
        let mut child = Command::new(probe)
            .args(["--redis", redis, "--addr", &addr.to_string()])
            .arg("--lease-ms")
            .arg(lease.as_millis().to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rex-durable-probe --redis");
        let mut lines = Lines::of_child("a host of the group", &mut child);
        lines
            .until("`listening on`", |l| l.starts_with("listening on"))
            .await;
        GroupHost {
            child: Some(child),
            addr,
            lines,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            if let Some(mut child) = host.child.take() {
                // A frozen host cannot die until thawed.
                let _ = Command::new("kill")
                    .arg("-CONT")
                    .arg(child.id().to_string())
                    .status();
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// An answer read whole, redirects not followed.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|l| l.to_str().ok())
    }
}

/// One request to `url`, within 10 s; an error (not a panic) when the host
/// does not answer, since a test of a dead host expects that.
pub async fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<Answer, String> {
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            req = req.header("content-type", "application/json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client
            .request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("{url}: no answer within 10 s"))?
}

/// `GET url`.
pub async fn get(url: &str) -> Result<Answer, String> {
    request(Method::GET, url, None, None).await
}

impl Answer {
    /// Asserts a `307 moved` to `location`.
    #[track_caller]
    pub fn assert_moved(&self, location: &str) {
        assert_eq!(self.status, 307, "{:?}", self.body);
        assert_eq!(self.location(), Some(location));
        let body = self.json();
        assert_eq!(body["error"], "moved", "{body}");
        assert!(
            body["reason"]
                .as_str()
                .is_some_and(|r| r.contains("follow")),
            "{body}"
        );
    }
}
