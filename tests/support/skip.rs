//! The one skip rule of the suite: a test that cannot run here says so where
//! a normal run shows it, and fails instead when skipping is forbidden.
//!
//! `cargo test` captures what a test prints with `println!` and `eprintln!`
//! and shows it only for failed tests, so a skip printed that way reads as
//! a plain `ok`. [`skip`] writes straight to the process's stderr, which
//! the harness does not capture, so every run shows the reason.
//!
//! `.ci/run` sets [`REQUIRE_ALL`]`=1`: there every test must run, and a skip
//! is a failure that names what was missing.

use std::io::Write;

/// Set to `1` (as `.ci/run` does) to turn every skip into a failure.
pub const REQUIRE_ALL: &str = "REX_REQUIRE_ALL";

/// Whether skipping is forbidden: [`REQUIRE_ALL`]`=1`, or `also` (a
/// narrower variable such as `REX_REQUIRE_BROWSER`) set to `1`.
pub fn required(also: Option<&str>) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
    set(REQUIRE_ALL) || also.is_some_and(set)
}

/// Skips the running test because of `reason`: writes `SKIPPED <test>:
/// <reason>` to stderr, uncaptured, and returns; panics instead when
/// skipping is forbidden (see [`required`]; `also` names a narrower
/// variable). The test's name is its thread's, as the harness names it.
#[track_caller]
pub fn skip(reason: &str, also: Option<&str>) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if required(also) {
        let vars = match also {
            Some(also) => format!("{REQUIRE_ALL}=1 or {also}=1"),
            None => format!("{REQUIRE_ALL}=1"),
        };
        panic!("{test} cannot run here, and {vars} forbids skipping it: {reason}");
    }
    // Straight to the file descriptor: not captured by the test harness.
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "SKIPPED {test}: {reason}");
    let _ = err.flush();
}
