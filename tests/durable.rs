//! A durable server's data directory from the outside: `rex data` reads it
//! offline, a second server is refused it, and a damaged one stops the
//! server with an error that says where.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rex::{Client, RetryPolicy};
use rex_tests::probe::Msg;

fn probe(data: &Path, addr: SocketAddr) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rex-durable-probe"))
        .arg("--data")
        .arg(data)
        .arg("--addr")
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rex-durable-probe");
    // Wait for "listening on …" (or the end of its output, if it failed).
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("its stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line.starts_with("listening on") => {}
        other => {
            let _ = child.kill();
            let out = child.wait_with_output().expect("its output");
            panic!(
                "the probe did not start: {other:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    child
}

/// Runs the probe expecting it to refuse to start; returns its output.
fn refused(data: &Path) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_rex-durable-probe"))
        .arg("--data")
        .arg(data)
        .arg("--addr")
        .arg(rex_tests::example::restartable_addr().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rex-durable-probe");
    let out = child.wait_with_output().expect("its output");
    assert!(
        !out.status.success(),
        "the probe started on a directory it must refuse: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Starts a probe, sends `notes` notes as one writer, and kills it.
async fn room_with_notes(data: &Path, notes: u64) {
    let addr = rex_tests::example::restartable_addr();
    let mut child = probe(data, addr);
    let client = Client::<Msg>::builder(format!("http://{addr}").as_str())
        .name("Ada Lovelace")
        .retry(RetryPolicy::default())
        .connect()
        .await
        .expect("join");
    for seq in 0..notes {
        client
            .send(&Msg::Note { writer: 7, seq })
            .await
            .expect("a note");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

async fn rex(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("rex").chain(args.iter().copied());
    let code = tokio::time::timeout(
        Duration::from_secs(60),
        rex::cli::run(argv, &mut out, &mut err, false),
    )
    .await
    .expect("rex finishes");
    (
        code,
        String::from_utf8(out).expect("utf-8 out"),
        String::from_utf8(err).expect("utf-8 err"),
    )
}

#[tokio::test]
async fn rex_data_shows_a_stopped_room_and_refuses_a_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("room");
    room_with_notes(&data, 12).await;
    let data_arg = data.to_str().unwrap();

    let (code, out, err) = rex(&["data", data_arg, "--last", "3"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(app durable-probe)"), "{out}");
    assert!(out.contains("head 12, oldest 0 (12 kept)"), "{out}");
    assert!(out.contains("sessions  1"), "{out}");
    assert!(out.contains("last 3 events"), "{out}");
    assert!(out.contains("#11 ") && !out.contains("#8 "), "{out}");
    assert!(out.contains("Ada Lovelace"), "the session's name: {out}");

    let (code, out, err) = rex(&["--json", "data", data_arg, "--last", "2"]).await;
    assert_eq!(code, 0, "{err}");
    let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(value["app"], "durable-probe");
    assert_eq!(value["head"], 12);
    assert_eq!(value["oldest"], 0);
    assert_eq!(value["state"]["head"], 12);
    assert_eq!(value["sessions"].as_array().unwrap().len(), 1);
    let last: Vec<u64> = value["last"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(last, [10, 11]);

    // While a server has it open, it is refused, with advice.
    let mut running = probe(&data, rex_tests::example::restartable_addr());
    let (code, _, err) = rex(&["data", data_arg]).await;
    running.kill().unwrap();
    running.wait().unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("already open in another running process"),
        "{err}"
    );
    assert!(err.contains("rex info URL"), "{err}");

    // Not a data directory at all.
    let (code, _, err) = rex(&["data", dir.path().to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("is it a REx data directory?"), "{err}");
}

#[tokio::test]
async fn a_second_server_is_refused_a_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("room");
    let mut first = probe(&data, rex_tests::example::restartable_addr());
    let out = refused(&data);
    first.kill().unwrap();
    first.wait().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already open in another running process"),
        "{stderr}"
    );
    assert!(
        stderr.contains(data.to_str().unwrap()),
        "names the directory: {stderr}"
    );
}

#[tokio::test]
async fn a_damaged_log_stops_the_server_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("room");
    room_with_notes(&data, 40).await;
    // Flip a byte inside the line of note 20, wherever the file keeps it.
    let file = data.join("room.redb");
    let mut bytes = std::fs::read(&file).unwrap();
    let needle = br#"{"writer":7,"seq":20}"#;
    let mut flipped = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let pos = at + found + needle.len() - 3;
        bytes[pos] ^= 0x01;
        flipped += 1;
        at = pos + 1;
    }
    assert!(flipped > 0, "note 20's line is in the file");
    std::fs::write(&file, &bytes).unwrap();

    let out = refused(&data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(
        stderr.contains(file.to_str().unwrap()),
        "names the file: {stderr}"
    );
    assert!(
        stderr.contains("event index") || stderr.contains("byte") || stderr.contains("page"),
        "names a position: {stderr}"
    );
}
