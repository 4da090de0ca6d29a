//! The TypeScript compiler over the example pages and their generated
//! protocol types (issue 17):
//!
//! - the trivia and remote pages pass `tsc --checkJs --noEmit` as they are
//!   served (plain ES modules, JSDoc types from the generated
//!   `protocol.d.ts`), with zero errors;
//! - what `rex types` writes for them compiles with `--strict`;
//! - a copy of a page with a misspelled message kind, event kind or field
//!   fails, and tsc's output names the file and the line.
//!
//! tsc is `typescript` from `tests/browser/package.json`, pinned by its
//! lock file (`npm ci --prefix tests/browser`); Node 20+ runs it. Without
//! them the tests say why on stderr and pass, or fail where skipping is
//! forbidden (`REX_REQUIRE_ALL=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::{json, Value};

/// One run of tsc takes a few seconds; on a busy machine, far more.
const TSC_LIMIT: Duration = Duration::from_secs(300);

const APPS: [&str; 2] = ["trivia", "remote"];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace directory")
}

fn tsc_js() -> PathBuf {
    rex_tests::browser::browser_dir().join("node_modules/typescript/bin/tsc")
}

/// Why tsc cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if let Some(reason) = rex_tests::browser::node_missing() {
        return Some(reason);
    }
    let tsc = tsc_js();
    (!tsc.exists()).then(|| {
        format!(
            "{} not found (run `npm ci --prefix tests/browser`)",
            tsc.display()
        )
    })
}

/// Skips the test (loudly) if tsc cannot run; true if it can.
fn can_run() -> bool {
    match skip_reason() {
        Some(reason) => {
            rex_tests::skip::skip(&reason, None);
            false
        }
        None => true,
    }
}

/// Runs tsc with `args` in `dir`: its exit status and its output.
fn tsc(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    let mut command = Command::new("node");
    command.arg(tsc_js()).args(args).current_dir(dir);
    let run = rex_tests::browser::run_bounded(command, TSC_LIMIT);
    let Some(status) = run.status else {
        panic!(
            "tsc {args:?} in {} did not finish within {TSC_LIMIT:?}",
            dir.display()
        );
    };
    (status, format!("{}{}", run.stdout, run.stderr))
}

fn web_dir(app: &str) -> PathBuf {
    workspace().join("examples/src").join(app).join("web")
}

/// A fresh directory under the system's temp dir.
fn temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("rex-types-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The client's declarations, as the pages' `/rex/v0/client.js` resolves.
fn client_d_ts() -> String {
    workspace()
        .join("rex/src/server/js/client.d.ts")
        .display()
        .to_string()
}

/// A copy of `app`'s pages and declarations in a temp dir, with the
/// checked-in tsconfig.json made to work from there; `change` edits one
/// file of the copy first.
fn copy_of_pages(app: &str, file: &str, change: impl Fn(&str) -> String) -> PathBuf {
    let dir = temp_dir(app);
    for entry in std::fs::read_dir(web_dir(app)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".js") || name.ends_with(".d.ts") {
            let mut text = std::fs::read_to_string(&path).unwrap();
            if name == file {
                let changed = change(&text);
                assert_ne!(changed, text, "the change to {file} changed nothing");
                text = changed;
            }
            std::fs::write(dir.join(&name), text).unwrap();
        }
    }
    let config = std::fs::read_to_string(web_dir(app).join("tsconfig.json")).unwrap();
    let mut config: Value = serde_json::from_str(&config).expect("tsconfig.json is plain JSON");
    config["compilerOptions"]["paths"]["/rex/v0/client.js"] = json!([client_d_ts()]);
    std::fs::write(
        dir.join("tsconfig.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    dir
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in the page"))
        + 1
}

#[test]
fn the_pages_pass_tsc_check_js_with_no_errors() {
    if !can_run() {
        return;
    }
    for app in APPS {
        let (status, out) = tsc(&web_dir(app), &["-p", ".", "--pretty", "false"]);
        assert!(
            status.success() && out.trim().is_empty(),
            "tsc --checkJs over examples/src/{app}/web: {status}\n{out}"
        );
    }
}

/// Writes what `rex types` writes for a server of `app` to `file`.
async fn rex_types(app: &str, file: &Path) {
    use rex::Server;
    use rex_examples::remote::{tracks, RemoteApp};
    use rex_examples::trivia::{questions, TriviaApp, TriviaConfig};
    use rex_tests::TestServer;

    async fn run<A: rex::RexApp>(app: A, file: &Path) {
        let server = TestServer::start(Server::builder(app)).await;
        let url = format!("http://{}", server.addr);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = ["rex", "types", &url, "--output", file.to_str().unwrap()];
        let code = tokio::time::timeout(
            Duration::from_secs(60),
            rex::cli::run(args, &mut out, &mut err, false),
        )
        .await
        .expect("rex types finishes within 60 s");
        assert_eq!(code, 0, "rex types: {}", String::from_utf8_lossy(&err));
        server.stop().await;
    }
    match app {
        "trivia" => {
            let questions = questions::bundled().unwrap();
            run(TriviaApp::new(questions, TriviaConfig::default()), file).await
        }
        "remote" => run(RemoteApp::new(tracks::bundled()), file).await,
        other => panic!("no app {other}"),
    }
}

#[tokio::test]
async fn rex_types_output_compiles_with_strict() {
    if !can_run() {
        return;
    }
    for app in APPS {
        let dir = temp_dir(&format!("{app}-strict"));
        rex_types(app, &dir.join("protocol.d.ts")).await;
        // A use of every part, so `--strict` checks the types, not only
        // their declarations.
        std::fs::write(
            dir.join("use.ts"),
            "import type { Client, Event, Message, Snapshot } from \"./protocol.js\";\n\
             export function kinds(rex: Client, e: Event, m: Message): [string, string] {\n\
               rex.events({ onEvent: (ev) => ev.kind, onSnapshot: (s) => s.data as Snapshot });\n\
               return [e.kind, m.kind];\n\
             }\n\
             export function where(rex: Client): string {\n\
               return rex.base;\n\
             }\n",
        )
        .unwrap();
        let config = json!({
            "compilerOptions": {
                "strict": true,
                "noEmit": true,
                "target": "es2022",
                "module": "esnext",
                "moduleResolution": "bundler",
                "lib": ["es2022", "dom"],
                "paths": {"/rex/v0/client.js": [client_d_ts()]},
            },
            "files": ["protocol.d.ts", "use.ts"],
        });
        std::fs::write(dir.join("tsconfig.json"), config.to_string()).unwrap();
        let (status, out) = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || tsc(&dir, &["-p", ".", "--pretty", "false"])
        })
        .await
        .unwrap();
        assert!(
            status.success(),
            "tsc --strict over `rex types` for {app}: {status}\n{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Misspells something in a copy of a page: tsc must fail, naming the
/// file and the line.
fn assert_mistake_found(app: &str, file: &str, right: &str, wrong: &str) {
    let page = std::fs::read_to_string(web_dir(app).join(file)).unwrap();
    let line = line_of(&page, right);
    let dir = copy_of_pages(app, file, |text| text.replacen(right, wrong, 1));
    let (status, out) = tsc(&dir, &["-p", ".", "--pretty", "false"]);
    assert!(
        !status.success(),
        "tsc accepted {file} with `{wrong}` for `{right}`:\n{out}"
    );
    let at = format!("{file}({line},");
    assert!(
        out.lines().any(|l| l.starts_with(&at)),
        "tsc's output should name {file} line {line} (`{wrong}`):\n{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_misspelled_message_kind_fails_naming_the_line() {
    if !can_run() {
        return;
    }
    assert_mistake_found(
        "trivia",
        "play.js",
        "send(\"answer\", {",
        "send(\"answr\", {",
    );
}

#[test]
fn a_misspelled_event_kind_or_field_fails_naming_the_line() {
    if !can_run() {
        return;
    }
    assert_mistake_found(
        "trivia",
        "room.js",
        "case \"revealed\":",
        "case \"reveal\":",
    );
    assert_mistake_found(
        "remote",
        "remote.js",
        "send(\"seek\", { position_ms:",
        "send(\"seek\", { position:",
    );
    assert_mistake_found(
        "remote",
        "view.js",
        "view.volume = event.data.level;",
        "view.volume = event.data.volume;",
    );
}
