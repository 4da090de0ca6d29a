//! Checks that need the whole enum: names that clash, kinds that are not
//! valid, shapes the expansion cannot support.

use std::collections::HashMap;

use crate::ast::{Enum, Role, Shape};
use crate::ctxt::Ctxt;

/// The longest kind name accepted (docs/protocol.md, "Kinds").
pub(crate) const MAX_KIND_LEN: usize = 64;

/// Methods the generated event handler trait has besides one per kind.
const EVENT_HANDLER_METHODS: &[&str] = &["handle", "unknown", "resync", "connection"];

/// The longest app id accepted.
pub(crate) const MAX_APP_LEN: usize = 64;

/// Parameters the generated methods take before the variant's fields.
const MESSAGE_PARAMS: &[&str] = &["cx", "from"];
const EVENT_PARAMS: &[&str] = &["meta"];

/// Whether `app` may be an app id: 1 to 64 ASCII letters, digits, `_`,
/// `-` or `.`, starting with a letter (it goes into URLs, DNS-SD TXT
/// records and error messages).
pub(crate) fn is_valid_app(app: &str) -> bool {
    is_valid_kind(app) && app.len() <= MAX_APP_LEN
}

/// Whether `kind` may be used as a kind on the wire: 1 to 64 ASCII letters,
/// digits, `_`, `-` or `.`, starting with a letter.
pub(crate) fn is_valid_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && kind.len() <= MAX_KIND_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

pub(crate) fn check(cx: &mut Ctxt, e: &Enum<'_>) {
    let generics = &e.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            format!(
                "{} cannot be derived for a generic enum: a protocol is one concrete type \
                 shared by server and clients",
                e.role.trait_name()
            ),
        );
    }
    check_protocol_attrs(cx, e);
    let mut kinds: HashMap<&str, &syn::Ident> = HashMap::new();
    let mut methods: HashMap<&str, &syn::Ident> = HashMap::new();
    // The message side generates only one method per kind (the handler
    // trait's and the client's stubs, each on a type of its own); the event
    // handler trait has methods of its own beside them.
    let (reserved, params): (&[&str], &[&str]) = match e.role {
        Role::Message => (&[], MESSAGE_PARAMS),
        Role::Event => (EVENT_HANDLER_METHODS, EVENT_PARAMS),
    };
    for v in &e.variants {
        if !is_valid_kind(&v.kind) {
            cx.push(syn::Error::new(
                v.kind_span,
                format!(
                    "`{}` is not a valid kind: use 1 to {MAX_KIND_LEN} ASCII letters, digits, \
                     `_`, `-` or `.`, starting with a letter",
                    v.kind
                ),
            ));
        }
        if let Some(first) = kinds.insert(&v.kind, v.ident) {
            cx.push(syn::Error::new(
                v.kind_span,
                format!("kind `{}` is already the kind of variant `{first}`", v.kind),
            ));
        }
        if let Some(first) = methods.insert(&v.method, v.ident) {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "variant `{}` and variant `{first}` would both generate the method `{}`; \
                     rename one of them",
                    v.ident, v.method
                ),
            );
        }
        if reserved.contains(&v.method.as_str()) {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "variant `{}` would generate the method `{}`, which the generated `{}Handler` \
                     trait already has; rename the variant and add `#[rex(rename = \"{}\")]` to \
                     keep its kind on the wire",
                    v.ident, v.method, e.ident, v.kind
                ),
            );
        }
        if syn::parse_str::<syn::Ident>(&v.method).is_err() && !can_be_raw(&v.method) {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "variant `{}` would generate the method `{}`, which is not a usable name",
                    v.ident, v.method
                ),
            );
        }
        if let Shape::Struct(fields) = &v.shape {
            for f in fields {
                if params.contains(&f.key.as_str()) {
                    cx.error_spanned_by(
                        f.ident,
                        format!(
                            "field `{}` clashes with the `{}` parameter the generated handler \
                             method gets; rename the field",
                            f.key, f.key
                        ),
                    );
                }
            }
        }
    }
}

/// A message enum names its app and its events; an event enum names
/// neither.
fn check_protocol_attrs(cx: &mut Ctxt, e: &Enum<'_>) {
    match e.role {
        Role::Message => {
            match &e.app {
                Some(app) if !is_valid_app(&app.value()) => cx.push(syn::Error::new(
                    app.span(),
                    format!(
                        "`{}` is not a valid app id: use 1 to {MAX_APP_LEN} ASCII letters, \
                         digits, `_`, `-` or `.`, starting with a letter (lowercase and `-` \
                         read best: \"trivia-night\")",
                        app.value()
                    ),
                )),
                Some(_) => {}
                None => cx.error_spanned_by(
                    e.ident,
                    format!(
                        "a message enum names its app and its event enum: add \
                         `#[rex(app = \"your-app\", events = YourEvent)]` to `{}`",
                        e.ident
                    ),
                ),
            }
            if let (Some(snapshot), None) = (&e.snapshot, e.schema) {
                cx.error_spanned_by(
                    snapshot,
                    "`snapshot = …` names the snapshot's type for the protocol's JSON Schema: \
                     add `schema` to this `#[rex(…)]` too",
                );
            }
            if e.app.is_some() && e.events.is_none() {
                cx.error_spanned_by(
                    e.ident,
                    format!(
                        "`{}` names its app but not its events: add `events = YourEvent` (the \
                         enum that derives RexEvent) to its `#[rex(…)]`",
                        e.ident
                    ),
                );
            }
        }
        Role::Event => {
            if let Some(snapshot) = &e.snapshot {
                cx.error_spanned_by(
                    snapshot,
                    "`snapshot` goes on the message enum, which names the whole protocol",
                );
            }
            if let Some(app) = &e.app {
                cx.push(syn::Error::new(
                    app.span(),
                    "`app` goes on the message enum (`#[rex(app = \"…\", events = ThisEnum)]`), \
                     not on the event enum",
                ));
            }
            if let Some(events) = &e.events {
                cx.error_spanned_by(
                    events,
                    "`events` goes on the message enum and names this event enum there",
                );
            }
        }
    }
}

/// Keywords that cannot be raw identifiers either.
fn can_be_raw(name: &str) -> bool {
    !matches!(name, "self" | "super" | "crate" | "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names() {
        for ok in [
            "say",
            "set_name",
            "SetName",
            "a",
            "v2.chat-say",
            &"x".repeat(64),
        ] {
            assert!(is_valid_kind(ok), "{ok}");
        }
        for bad in [
            "",
            "2fast",
            "_x",
            "say hi",
            "ünïcode",
            "a/b",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_kind(bad), "{bad}");
        }
    }
}
