//! A fault-injection TCP proxy on 127.0.0.1 for integration tests.
//!
//! A [`Proxy`] sits between a client and a server and forwards bytes both
//! ways. On command it cuts connections ([`Proxy::cut_all`]), cuts them after
//! a number of server→client bytes ([`Proxy::cut_after_server_bytes`]), lets
//! a request through but drops its response ([`Proxy::drop_next_responses`]),
//! holds server→client bytes back ([`Proxy::stall`]) or sends new connections
//! to another server ([`Proxy::retarget`]).
//!
//! Client→server bytes are copied as they come. Server→client bytes go
//! through the fault logic, which watches a [`watch`] channel of settings so
//! that a change reaches every connection at once, even one blocked in a
//! read. Closing a connection drops both of its sockets: the client sees the
//! end of the stream (or a reset) and never the bytes that were held back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

/// Size of the forwarding buffers.
const BUF: usize = 16 * 1024;

/// The settings every connection watches.
#[derive(Clone, Copy, Debug)]
struct Control {
    /// Where new connections go.
    target: SocketAddr,
    /// Bumped by `cut_all`: connections accepted before the bump close.
    cut_gen: u64,
    /// Server→client bytes a connection may forward from `limit_gen` on.
    limit: Option<usize>,
    /// Bumped by every `cut_after_server_bytes`: counts restart from zero.
    limit_gen: u64,
    /// Hold server→client bytes.
    stall: bool,
    /// Close everything.
    shutdown: bool,
}

/// Counters shared with the tasks.
#[derive(Debug, Default)]
struct Shared {
    /// Bumped by every `drop_next_responses`.
    drop_gen: AtomicU64,
    /// Responses still to drop.
    drop_remaining: AtomicUsize,
    /// Connections accepted.
    connections: AtomicUsize,
}

/// A fault-injection TCP proxy. Clones share the same proxy; it shuts down
/// when the last clone is dropped (or on [`Proxy::shutdown`]).
#[derive(Clone, Debug)]
pub struct Proxy(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl Proxy {
    /// Listens on 127.0.0.1:0 and forwards every accepted connection to
    /// `target`. Panics if it cannot bind.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy: local address");
        let (control, rx) = watch::channel(Control {
            target,
            cut_gen: 0,
            limit: None,
            limit_gen: 0,
            stall: false,
            shutdown: false,
        });
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, rx, shared.clone())).abort_handle();
        Proxy(Arc::new(Inner {
            addr,
            control,
            shared,
            accept,
        }))
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }

    /// New connections go to `target` from now on (open ones are untouched).
    pub fn retarget(&self, target: SocketAddr) {
        self.0.control.send_modify(|c| c.target = target);
    }

    /// Closes every connection open now, both sides, at once. New
    /// connections are still accepted.
    pub fn cut_all(&self) {
        self.0.control.send_modify(|c| c.cut_gen += 1);
    }

    /// From now on every connection, open or new, is closed (both sides)
    /// once it has forwarded `n` more server→client bytes; a read that
    /// crosses the limit is forwarded exactly up to it. `None` lifts the
    /// limit.
    pub fn cut_after_server_bytes(&self, n: Option<usize>) {
        self.0.control.send_modify(|c| {
            c.limit = n;
            c.limit_gen += 1;
        });
    }

    /// The next `count` responses are dropped: a connection that forwards
    /// client→server bytes after this call and then receives server→client
    /// bytes is closed before those bytes are forwarded. The request reaches
    /// the server; the client never sees the response. Streams that send
    /// nothing after the call (an event stream opened before it) are left
    /// alone. A new call replaces the count.
    pub fn drop_next_responses(&self, count: usize) {
        let shared = &self.0.shared;
        shared.drop_remaining.store(count, SeqCst);
        shared.drop_gen.fetch_add(1, SeqCst);
    }

    /// While stalled, server→client bytes are held (left unread) on every
    /// connection, open or new, and connections stay open. `stall(false)`
    /// forwards everything held, in order.
    pub fn stall(&self, on: bool) {
        self.0.control.send_modify(|c| c.stall = on);
    }

    /// Responses still to drop from the last [`Proxy::drop_next_responses`]
    /// (0 once they all were).
    pub fn pending_response_drops(&self) -> usize {
        self.0.shared.drop_remaining.load(SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.0.shared.connections.load(SeqCst)
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(&self) {
        self.0.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        self.control.send_modify(|c| c.shutdown = true);
        // Dropping the accept task drops its listener and its `JoinSet`,
        // which aborts every connection task.
        self.accept.abort();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, rx: watch::Receiver<Control>, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    shared.connections.fetch_add(1, SeqCst);
                    let control = *rx.borrow();
                    conns.spawn(connection(client, control, rx.clone(), shared.clone()));
                }
                // Out of descriptors and the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// How the server→client direction ended.
#[derive(PartialEq)]
enum End {
    /// The server closed its side; the client was told.
    Eof,
    /// Close the whole connection now.
    Cut,
}

/// Forwards one connection until it ends, is cut or the proxy shuts down.
async fn connection(
    client: TcpStream,
    at_accept: Control,
    rx: watch::Receiver<Control>,
    shared: Arc<Shared>,
) {
    let run = async {
        let Ok(server) = TcpStream::connect(at_accept.target).await else {
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (client_r, client_w) = client.into_split();
        let (server_r, server_w) = server.into_split();
        // The `drop_gen` current when client bytes were last forwarded.
        let request_gen = AtomicU64::new(0);
        let up = upstream(client_r, server_w, &shared, &request_gen);
        let down = downstream(server_r, client_w, rx.clone(), &shared, &request_gen);
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                clean = &mut up, if !up_done => {
                    if !clean {
                        return;
                    }
                    up_done = true;
                }
                end = &mut down => {
                    if end == End::Eof && !up_done {
                        (&mut up).await;
                    }
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = closed(rx.clone(), at_accept.cut_gen) => {}
        () = run => {}
    }
    // Returning drops both sockets.
}

/// Resolves once the connection must close: `cut_all` or shutdown.
async fn closed(mut rx: watch::Receiver<Control>, cut_gen: u64) {
    loop {
        {
            let c = rx.borrow_and_update();
            if c.shutdown || c.cut_gen != cut_gen {
                return;
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Copies client→server; on the client's EOF, half-closes towards the
/// server. Returns false if either side failed.
async fn upstream(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
    request_gen: &AtomicU64,
) -> bool {
    let mut buf = vec![0; BUF];
    loop {
        match from.read(&mut buf).await {
            Ok(0) => return to.shutdown().await.is_ok(),
            Ok(n) => {
                // Before writing, so the response cannot overtake it.
                request_gen.store(shared.drop_gen.load(SeqCst), SeqCst);
                if to.write_all(&buf[..n]).await.is_err() {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
}

/// Copies server→client through the faults.
async fn downstream(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut rx: watch::Receiver<Control>,
    shared: &Shared,
    request_gen: &AtomicU64,
) -> End {
    let mut buf = vec![0; BUF];
    let mut limit_gen = rx.borrow().limit_gen;
    // Bytes forwarded since `limit_gen`.
    let mut forwarded = 0usize;
    loop {
        let c = *rx.borrow_and_update();
        if c.limit_gen != limit_gen {
            limit_gen = c.limit_gen;
            forwarded = 0;
        }
        if c.limit.is_some_and(|limit| forwarded >= limit) {
            return End::Cut;
        }
        // Settings first, so a change made before the bytes arrived wins.
        let n = tokio::select! {
            biased;
            changed = rx.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return End::Cut,
            },
            read = from.read(&mut buf), if !c.stall => match read {
                Ok(0) => {
                    let _ = to.shutdown().await;
                    return End::Eof;
                }
                Ok(n) => n,
                Err(_) => return End::Cut,
            },
        };
        if take_drop(shared, request_gen) {
            return End::Cut;
        }
        // The limit may have changed while reading.
        let c = *rx.borrow();
        if c.limit_gen != limit_gen {
            limit_gen = c.limit_gen;
            forwarded = 0;
        }
        let room = c.limit.map_or(n, |limit| limit.saturating_sub(forwarded));
        let send = n.min(room);
        if to.write_all(&buf[..send]).await.is_err() {
            return End::Cut;
        }
        forwarded += send;
        if send < n {
            return End::Cut;
        }
    }
}

/// Whether this connection's response is one of those to drop (and if so,
/// counts it).
fn take_drop(shared: &Shared, request_gen: &AtomicU64) -> bool {
    let gen = shared.drop_gen.load(SeqCst);
    gen != 0
        && request_gen.load(SeqCst) == gen
        && shared
            .drop_remaining
            .fetch_update(SeqCst, SeqCst, |r| r.checked_sub(1))
            .is_ok()
}
