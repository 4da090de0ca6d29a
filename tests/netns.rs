//! Network namespaces for tests that start an mDNS daemon.
//!
//! mDNS multicasts on every interface its daemon binds, so such a test must
//! never run in the machine's own network namespace. A test calls
//! [`isolated`] first: outside a namespace it re-runs just itself under
//! `unshare -rn` (a new user and network namespace with only `lo`, which
//! works unprivileged too) and reports the child's result; inside, it checks
//! that `/proc/net/dev` lists only interfaces the test made, and runs.
//! Without `unshare` (or where it is refused), the test writes why to
//! stderr and passes without running, or fails where skipping is forbidden
//! (`REX_REQUIRE_ALL=1`, as `.ci/run` sets; see `rex_tests::skip`).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Set in the re-run test process: it is inside its own namespace.
pub const NETNS_ENV: &str = "REX_NETNS";
/// Interfaces a test creates are named with this prefix (veth ends).
pub const PREFIX: &str = "rexv";

/// `ip` lives in sbin, which an unprivileged PATH may lack.
const PATH_SETUP: &str = r#"export PATH="$PATH:/usr/sbin:/sbin""#;

/// Whether the caller is in a namespace of its own and should run its body.
/// `test` is the test function's name. Outside a namespace this runs the
/// test in one (asserting it passed) and returns `false`.
#[track_caller]
pub fn isolated(test: &str) -> bool {
    if std::env::var_os(NETNS_ENV).is_some() {
        return only_our_interfaces();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let script = format!(r#"{PATH_SETUP}; ip link set lo up && exec "$0" "$@""#);
    let output = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script])
        .arg(&exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(NETNS_ENV, "1")
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            rex_tests::skip::skip(
                &format!(
                    "cannot run `unshare` ({e}); mDNS tests need a network namespace of their own"
                ),
                None,
            );
            return false;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.starts_with("unshare:") {
        rex_tests::skip::skip(
            &format!(
                "this machine refuses a private network namespace ({}); mDNS tests never run on the real network",
                stderr.trim()
            ),
            None,
        );
        return false;
    }
    forward(&output);
    assert!(
        output.status.success(),
        "{test} failed inside its network namespace"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the namespaced run did not run {test}"
    );
    false
}

/// Prints a child's output as part of this test's.
pub fn forward(output: &Output) {
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}

/// The interfaces `/proc/net/dev` lists.
pub fn interfaces() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    dev.lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Whether every interface here is `lo` or one the test made: the check
/// that must pass before any mDNS daemon starts.
pub fn only_our_interfaces() -> bool {
    let foreign: Vec<String> = interfaces()
        .into_iter()
        .filter(|i| i != "lo" && !i.starts_with(PREFIX))
        .collect();
    if foreign.is_empty() {
        true
    } else {
        rex_tests::skip::skip(
            &format!(
                "this namespace has interfaces the test did not create ({}); not starting mDNS here",
                foreign.join(", ")
            ),
            None,
        );
        false
    }
}

/// A second "host": a process in a network namespace of its own (made
/// inside this one), joined to this namespace by a veth pair. Our end is
/// `rexv0` with `10.77.0.1/24`; its end is `rexv1` with `10.77.0.2/24`.
/// The process is this test binary, running test `test` with the
/// environment `env` (so it knows its role).
pub struct SecondHost {
    pub child: Child,
}

impl SecondHost {
    pub const HERE: &'static str = "10.77.0.1";
    pub const THERE: &'static str = "10.77.0.2";
    pub const OUR_END: &'static str = "rexv0";
    pub const THEIR_END: &'static str = "rexv1";

    pub fn start(test: &str, env: &[(&str, &str)]) -> SecondHost {
        assert!(
            std::env::var_os(NETNS_ENV).is_some(),
            "a second host is made only inside a test's own namespace"
        );
        let exe = std::env::current_exe().expect("the test binary's path");
        // Wait (bounded) for our end to move the veth peer in, then set it up.
        let script = format!(
            r#"{PATH_SETUP}; i=0; while ! ip link show {end} >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 400 ] && echo "veth never arrived" >&2 && exit 97; sleep 0.05; done; ip link set lo up && ip addr add {there}/24 dev {end} && ip link set {end} up && exec "$0" "$@""#,
            end = Self::THEIR_END,
            there = Self::THERE,
        );
        let mut command = Command::new("unshare");
        command
            .args(["-n", "sh", "-c", &script])
            .arg(&exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start the second host");
        let pid = child.id();
        // `unshare -n` makes its namespace and then execs the shell in the
        // same process: wait until it is in the new namespace.
        let ours = std::fs::read_link("/proc/self/ns/net").expect("our netns");
        let theirs = format!("/proc/{pid}/ns/net");
        wait_for("the second host's namespace", || {
            std::fs::read_link(Path::new(&theirs)).is_ok_and(|ns| ns != ours)
        });
        ip(&[
            "link",
            "add",
            Self::OUR_END,
            "type",
            "veth",
            "peer",
            "name",
            Self::THEIR_END,
            "netns",
            &pid.to_string(),
        ]);
        ip(&[
            "addr",
            "add",
            &format!("{}/24", Self::HERE),
            "dev",
            Self::OUR_END,
        ]);
        ip(&["link", "set", Self::OUR_END, "up"]);
        // Carrier comes when the other side has set its end up too; a
        // daemon started before that would not use the link.
        // (/sys/class/net shows the namespace sysfs was mounted in: ask ip.)
        wait_for("the veth link to come up", || {
            ip_output(&["-o", "link", "show", Self::OUR_END]).contains(" state UP ")
        });
        SecondHost { child }
    }

    /// Waits (at most `limit`) for the second host to finish; returns its
    /// output.
    pub fn wait(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(_status) = self.child.try_wait().expect("second host status") {
                return self.child.wait_with_output().expect("second host output");
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let output = self.child.wait_with_output().expect("second host output");
                forward(&output);
                panic!("the second host did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `ip` with `args`; panics with its message if it fails.
pub fn ip(args: &[&str]) {
    ip_output(args);
}

/// Runs `ip` with `args` and returns what it printed; panics with its
/// message if it fails.
pub fn ip_output(args: &[&str]) -> String {
    let output = Command::new("sh")
        .args(["-c", &format!(r#"{PATH_SETUP}; exec ip "$@""#), "ip"])
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Polls `condition` every 10 ms for at most 10 s.
#[track_caller]
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
