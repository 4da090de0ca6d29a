//! The fault-injection proxy itself, against tiny TCP servers written here
//! (echo, fixed byte pattern, request recorder) rather than REx.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rex_tests::proxy::Proxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Upper bound for anything that should happen promptly.
const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// `len` bytes of a pattern that does not repeat at power-of-two offsets.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Serves every connection on 127.0.0.1:0 with `handler`.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// Echoes everything back, after writing `tag` if given; half-closes on EOF.
async fn echo_server(tag: Option<u8>) -> SocketAddr {
    serve(move |stream| async move {
        let (mut r, mut w) = stream.into_split();
        if let Some(tag) = tag {
            if w.write_all(&[tag]).await.is_err() {
                return;
            }
        }
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .await
}

/// Writes `pattern(len)` on every connection, then keeps it open until the
/// peer closes.
async fn pattern_server(len: usize) -> SocketAddr {
    serve(move |mut stream| async move {
        if stream.write_all(&pattern(len)).await.is_ok() {
            let _ = stream.read(&mut [0; 1]).await;
        }
    })
    .await
}

async fn connect(proxy: &Proxy) -> TcpStream {
    timeout(WAIT, TcpStream::connect(proxy.addr()))
        .await
        .unwrap()
        .unwrap()
}

/// Reads until EOF or reset; returns what was read.
async fn read_until_end(stream: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let mut out = Vec::new();
        let mut buf = [0; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(WAIT, read).await.expect("connection did not end")
}

async fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("bytes did not arrive")
        .unwrap();
    buf
}

/// Sends `data` and reads the same back.
async fn round_trip(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).await.unwrap();
    assert_eq!(read_exactly(stream, data.len()).await, data);
}

/// Asserts nothing arrives for `QUIET` and the connection stays open.
async fn assert_quiet(stream: &mut TcpStream) {
    let mut buf = [0; 1];
    if let Ok(read) = timeout(QUIET, stream.read(&mut buf)).await {
        panic!("expected silence, got {read:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_both_directions_byte_exact() {
    let proxy = Proxy::start(echo_server(None).await).await;
    let data = pattern(1 << 20);
    let (mut r, mut w) = connect(&proxy).await.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        // The half-close travels through: the echo ends, and so does the read.
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::new();
    timeout(WAIT, r.read_to_end(&mut got))
        .await
        .expect("echo did not end")
        .unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echoed bytes differ");
    writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_after_server_bytes_cuts_mid_read_and_applies_to_new_connections() {
    let proxy = Proxy::start(echo_server(None).await).await;
    let data = pattern(3000);

    // An open connection counts only bytes from the call on.
    let mut open = connect(&proxy).await;
    round_trip(&mut open, &data[..500]).await;
    proxy.cut_after_server_bytes(Some(1000));
    open.write_all(&data).await.unwrap();
    assert_eq!(read_until_end(&mut open).await, &data[..1000]);

    // A new connection: the limit falls inside one echoed read.
    let mut next = connect(&proxy).await;
    next.write_all(&data).await.unwrap();
    assert_eq!(read_until_end(&mut next).await, &data[..1000]);

    // A stream the server writes on its own, cut across several reads.
    proxy.retarget(pattern_server(100_000).await);
    proxy.cut_after_server_bytes(Some(40_000));
    let mut stream = connect(&proxy).await;
    assert_eq!(read_until_end(&mut stream).await, pattern(40_000));

    // Lifted: everything arrives and the connection stays open.
    proxy.cut_after_server_bytes(None);
    let mut whole = connect(&proxy).await;
    assert_eq!(read_exactly(&mut whole, 100_000).await, pattern(100_000));
    assert_quiet(&mut whole).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_next_responses_delivers_the_request_but_not_the_response() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let server = serve(move |mut stream| {
        let seen_tx = seen_tx.clone();
        async move {
            let mut request = [0; 5];
            if stream.read_exact(&mut request).await.is_err() {
                return;
            }
            let _ = seen_tx.send(request);
            if stream.write_all(b"response").await.is_ok() {
                let _ = stream.read(&mut [0; 1]).await;
            }
        }
    })
    .await;
    let proxy = Proxy::start(server).await;

    proxy.drop_next_responses(1);
    let mut dropped = connect(&proxy).await;
    dropped.write_all(b"hello").await.unwrap();
    let request = timeout(WAIT, seen.recv()).await.unwrap().unwrap();
    assert_eq!(&request, b"hello", "the request reached the server");
    assert_eq!(read_until_end(&mut dropped).await, b"", "no response bytes");

    let mut next = connect(&proxy).await;
    next.write_all(b"again").await.unwrap();
    let request = timeout(WAIT, seen.recv()).await.unwrap().unwrap();
    assert_eq!(&request, b"again");
    assert_eq!(read_exactly(&mut next, 8).await, b"response");
    assert_quiet(&mut next).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_holds_server_bytes_and_releases_them_in_order() {
    // A new connection stalled from the start.
    let proxy = Proxy::start(pattern_server(200_000).await).await;
    proxy.stall(true);
    let mut stream = connect(&proxy).await;
    assert_quiet(&mut stream).await;
    proxy.stall(false);
    assert_eq!(read_exactly(&mut stream, 200_000).await, pattern(200_000));

    // An open connection stalled between two replies.
    proxy.retarget(echo_server(None).await);
    let data = pattern(50_000);
    let mut open = connect(&proxy).await;
    round_trip(&mut open, &data[..10]).await;
    proxy.stall(true);
    open.write_all(&data).await.unwrap();
    assert_quiet(&mut open).await;
    proxy.stall(false);
    assert_eq!(read_exactly(&mut open, data.len()).await, data);
    round_trip(&mut open, b"still open").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_all_ends_open_connections_and_retarget_moves_new_ones() {
    let proxy = Proxy::start(echo_server(Some(b'A')).await).await;

    let mut first = connect(&proxy).await;
    assert_eq!(read_exactly(&mut first, 1).await, b"A");
    round_trip(&mut first, b"ping").await;
    proxy.cut_all();
    assert_eq!(read_until_end(&mut first).await, b"");

    let mut on_a = connect(&proxy).await;
    assert_eq!(read_exactly(&mut on_a, 1).await, b"A");
    round_trip(&mut on_a, b"ping").await;

    proxy.retarget(echo_server(Some(b'B')).await);
    let mut on_b = connect(&proxy).await;
    assert_eq!(read_exactly(&mut on_b, 1).await, b"B");
    round_trip(&mut on_b, b"ping").await;
    // The open connection still goes to A.
    round_trip(&mut on_a, b"pong").await;

    proxy.cut_all();
    assert_eq!(read_until_end(&mut on_a).await, b"");
    assert_eq!(read_until_end(&mut on_b).await, b"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_connections_and_shuts_down() {
    let proxy = Proxy::start(echo_server(None).await).await;
    assert_eq!(proxy.connections(), 0);
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&proxy).await;
        round_trip(&mut stream, b"hi").await;
        open.push(stream);
    }
    assert_eq!(proxy.connections(), 3);
    proxy.cut_all();
    let mut again = connect(&proxy).await;
    round_trip(&mut again, b"hi").await;
    assert_eq!(proxy.connections(), 4);

    // Dropping a clone changes nothing; shutting down closes everything.
    let clone = proxy.clone();
    drop(clone);
    round_trip(&mut again, b"hi").await;
    proxy.shutdown();
    assert_eq!(read_until_end(&mut again).await, b"");
    // (No check that a new connection is refused: the freed port may at once
    // be bound again by another test running beside this one, and a
    // connection there would never end.)

    // Dropping the last handle shuts down too.
    let proxy = Proxy::start(echo_server(None).await).await;
    let mut stream = connect(&proxy).await;
    round_trip(&mut stream, b"hi").await;
    drop(proxy);
    assert_eq!(read_until_end(&mut stream).await, b"");
}
