//! The expansion of a sample protocol, pretty-printed and checked in as
//! `tests/expand/chat.expanded.rs`, so a change to the generated code shows
//! up in review as a readable diff. Regenerate with
//! `REX_SNAPSHOT=overwrite cargo test -p rex-macros`.

use syn::{DeriveInput, Item};

use crate::ast::Role;
use crate::expand::derive;

const MESSAGE: &str = r#"
/// What a player's phone can say to the TV.
#[rex(app = "chat", events = ChatEvent, schema)]
pub enum ChatMsg {
    /// Say something to the whole room.
    Say { text: String },
    /// Say something to one player only.
    Whisper { to: SessionId, text: String },
    /// Change your display name.
    #[rex(rename = "rename")]
    SetName(String),
    /// Leave the room.
    Leave,
}
"#;

const EVENT: &str = r#"
/// What the room shows.
#[rex(schema)]
pub enum ChatEvent {
    /// Somebody joined.
    Joined {
        /// Who joined.
        session: SessionId,
        name: String,
    },
    /// Somebody said something.
    Said { from: SessionId, text: String },
}
"#;

/// Renders one derive's output, with the items inside
/// `if_server!` / `if_client!` / `with_schema!` unwrapped under a heading so they read as
/// code, not as a token soup.
fn render(role: Role, source: &str) -> String {
    let input: DeriveInput = syn::parse_str(source).expect("the sample parses");
    let file: syn::File = syn::parse2(derive(&input, role)).expect("the expansion parses");
    let mut out = String::new();
    for item in file.items {
        let gated = match &item {
            Item::Macro(m) => m.mac.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        match (gated, item) {
            (Some(name), Item::Macro(m))
                if name == "if_server" || name == "if_client" || name == "with_schema" =>
            {
                let feature = name.trim_start_matches("if_").trim_start_matches("with_");
                let inner: syn::File = syn::parse2(m.mac.tokens).expect("gated items parse");
                let otherwise = if name == "with_schema" {
                    " (without it, a compile error saying so)"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "// ::rex::__private::{name}! {{ … }}: present when rex's `{feature}` feature is on{otherwise}\n"
                ));
                out.push_str(&prettyplease::unparse(&inner));
            }
            (_, item) => out.push_str(&prettyplease::unparse(&syn::File {
                shebang: None,
                attrs: Vec::new(),
                items: vec![item],
            })),
        }
        out.push('\n');
    }
    out
}

#[test]
fn expansion_of_the_sample_protocol_stays_readable() {
    let text = format!(
        "// The expansion of the sample protocol in rex-macros/src/snapshot.rs.\n\
         // Regenerate: REX_SNAPSHOT=overwrite cargo test -p rex-macros\n\n\
         // ===== #[derive(RexMessage)] on ChatMsg =====\n\n{}\n\
         // ===== #[derive(RexEvent)] on ChatEvent =====\n\n{}",
        render(Role::Message, MESSAGE),
        render(Role::Event, EVENT)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expand/chat.expanded.rs");
    if std::env::var_os("REX_SNAPSHOT").is_some_and(|v| v == "overwrite") {
        std::fs::write(path, &text).expect("write the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        expected == text,
        "the expansion changed; review it with `REX_SNAPSHOT=overwrite cargo test -p rex-macros` \
         and `git diff {path}`"
    );
}
