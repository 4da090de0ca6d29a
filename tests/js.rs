//! The JavaScript client (`rex/src/server/js/client.js`) run by Node against
//! real servers on 127.0.0.1: `node --test js/` runs `js/*.test.mjs` with
//! the addresses in its environment (see `js/client.test.mjs`), among them
//! a room reached through a host that redirects it (`307 moved`,
//! `rex_tests::moved::Redirector`) to proxies of a real host. Without
//! `node` on the PATH the test passes with `SKIPPED …: node not found` on
//! stderr, or fails where skipping is forbidden (`REX_REQUIRE_ALL=1`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::time::Duration;

use rex::proto::CreateRoom;
use rex::{Host, HostControl, NewRoom, RoomCode};
use rex_tests::host::TestHost;
use rex_tests::moved::Redirector;
use rex_tests::proxy::Proxy;
use rex_tests::{start_test_app, TestApp, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// How long Node may run in all.
const NODE_LIMIT: Duration = Duration::from_secs(300);

/// The PIN of the server the PIN tests join.
const PIN: &str = "2468";

/// The server behind the restarting proxy (`None` while it restarts).
type Restarting = Arc<Mutex<Option<TestServer<TestApp>>>>;

/// A room of a group of hosts, as the JS client sees it: the host it is
/// given (`wrong`, which redirects every room request and lists `peer`
/// among its peers), the room's owner (`first`), where the room goes when
/// the owner dies (`second`), and a peer. Each is a proxy of one real
/// host, so the room and its log stay the same throughout.
struct Group {
    wrong: Redirector,
    first: Proxy,
    second: Proxy,
    peer: Proxy,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_against_real_servers() {
    if let Some(reason) = rex_tests::browser::node_missing() {
        rex_tests::skip::skip(&reason, None);
        return;
    }

    let server = start_test_app().await;
    // Every connection through it is closed after a few hundred bytes from
    // the server: an event stream gets the headers (about 600 bytes with
    // the hardening headers) and an event or two.
    let cut = Proxy::start(server.addr).await;
    cut.cut_after_server_bytes(Some(1000));
    let first = start_test_app().await;
    let restart_proxy = Proxy::start(first.addr).await;
    let restarting: Restarting = Arc::new(Mutex::new(Some(first)));
    // Two rooms of a host, at http://…/r/<code>: one the JS client joins
    // and sees end (`POST /end-room/<code>` on the control endpoint closes
    // it), one it reaches from the URL its module was loaded from.
    let builder = Host::builder(|_room: &NewRoom| Ok(TestApp::default())).name("Test Host");
    let (host, (rooms, [ending, served, moved])) = TestHost::start(builder, async |host| {
        let control = host.control();
        let mut codes = Vec::new();
        for name in ["Ending room", "Served room", "Moved room"] {
            let request = CreateRoom {
                name: Some(name.into()),
                ..CreateRoom::default()
            };
            codes.push(control.open_room(request).await.unwrap().room);
        }
        (control, [codes[0], codes[1], codes[2]])
    })
    .await;
    let proxy_url = |proxy: &Proxy| format!("http://{}", proxy.addr());
    let first = Proxy::start(host.addr).await;
    let group = Arc::new(Group {
        wrong: Redirector::start(&proxy_url(&first)).await,
        first,
        second: Proxy::start(host.addr).await,
        peer: Proxy::start(host.addr).await,
    });
    group.wrong.set_peers(vec![proxy_url(&group.peer)]);
    let moved_room = |base: String| format!("{base}{}", moved.path());
    let control = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control_addr = control.local_addr().unwrap();
    let control_task = tokio::spawn(control_loop(
        control,
        restart_proxy.clone(),
        restarting.clone(),
        rooms,
        group.clone(),
    ));

    let pinned = TestServer::start(rex::Server::builder(TestApp::default()).pin(PIN)).await;
    let url = |addr: SocketAddr| format!("http://{addr}");
    let env = [
        ("REX_PIN_URL", url(pinned.addr)),
        ("REX_PIN", PIN.to_owned()),
        ("REX_URL", url(server.addr)),
        ("REX_CUT_URL", url(cut.addr())),
        ("REX_RESTART_URL", url(restart_proxy.addr())),
        ("REX_CONTROL_URL", url(control_addr)),
        ("REX_ROOM_URL", host.room_url(ending)),
        ("REX_SERVED_ROOM_URL", host.room_url(served)),
        ("REX_MOVED_URL", moved_room(group.wrong.url())),
        ("REX_MOVED_FIRST", moved_room(proxy_url(&group.first))),
        ("REX_MOVED_SECOND", moved_room(proxy_url(&group.second))),
        ("REX_MOVED_PEER", moved_room(proxy_url(&group.peer))),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_owned();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || run_node(&dir, &env))
        .await
        .unwrap();
    print!("{stdout}");
    eprint!("{stderr}");

    control_task.abort();
    for proxy in [&group.first, &group.second, &group.peer] {
        proxy.shutdown();
    }
    group.wrong.stop();
    cut.shutdown();
    restart_proxy.shutdown();
    if let Some(server) = restarting.lock().await.take() {
        server.stop().await;
    }
    server.stop().await;
    pinned.stop().await;
    host.stop().await;
    let status = status.unwrap_or_else(|| panic!("node did not finish within {NODE_LIMIT:?}"));
    assert!(status.success(), "node --test failed: {status}");
}

/// Runs `node --test js/` in `dir`; `None` as the status if it had to be
/// killed for taking too long.
fn run_node(dir: &Path, env: &[(&str, String)]) -> (Option<ExitStatus>, String, String) {
    let mut command = Command::new("node");
    command
        .args(["--test", "--test-reporter=spec", "js/"])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let run = rex_tests::browser::run_bounded(command, NODE_LIMIT);
    (run.status, run.stdout, run.stderr)
}

/// A tiny HTTP endpoint for the JS tests: `POST /restart` stops the server
/// behind `proxy`, starts a new one (a new epoch), points the proxy at it,
/// closes the proxy's open connections, and only then answers `200`.
/// `POST /end-room/<code>` closes that room of the host `rooms` controls
/// (`404` if it is not open). For the moved room of `group`: `GET /seen`
/// lists the requests the wrong host got (one a line); `POST /move` stops
/// the owner and sends the room to the second proxy; `POST /lose-group`
/// stops the wrong host and the second proxy, leaving the peer.
async fn control_loop(
    listener: TcpListener,
    proxy: Proxy,
    restarting: Restarting,
    rooms: HostControl<TestApp>,
    group: Arc<Group>,
) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let (proxy, restarting, rooms) = (proxy.clone(), restarting.clone(), rooms.clone());
        let group = group.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                control_request(conn, proxy, restarting, rooms, group),
            )
            .await;
        });
    }
}

async fn control_request(
    mut conn: TcpStream,
    proxy: Proxy,
    restarting: Restarting,
    rooms: HostControl<TestApp>,
    group: Arc<Group>,
) {
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let seen;
    let (status, body) = if head.starts_with(b"GET /seen ") {
        seen = group.wrong.seen_paths().join("\n");
        ("200 OK", seen.as_str())
    } else if head.starts_with(b"POST /move ") {
        group.first.shutdown();
        group
            .wrong
            .point_at(&format!("http://{}", group.second.addr()));
        ("200 OK", "moved")
    } else if head.starts_with(b"POST /lose-group ") {
        group.wrong.stop();
        group.second.shutdown();
        ("200 OK", "lost")
    } else if head.starts_with(b"POST /restart ") {
        let mut slot = restarting.lock().await;
        if let Some(old) = slot.take() {
            old.stop().await;
        }
        let new = start_test_app().await;
        proxy.retarget(new.addr);
        proxy.cut_all();
        *slot = Some(new);
        ("200 OK", "restarted")
    } else if let Some(rest) = head.strip_prefix(b"POST /end-room/") {
        let code = rest
            .split(|&b| b == b' ')
            .next()
            .and_then(|code| std::str::from_utf8(code).ok())
            .and_then(|code| code.parse::<RoomCode>().ok());
        match code {
            Some(code) if rooms.close_room(code) => ("200 OK", "ended"),
            _ => ("404 Not Found", "no such open room"),
        }
    } else {
        ("404 Not Found", "no such control")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}
