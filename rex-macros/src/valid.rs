//! Checks that need the whole enum: names that clash, kinds that are not
//! valid, shapes the expansion cannot support.

use std::collections::HashMap;

use crate::ast::{Enum, Role, Shape};
use crate::ctxt::Ctxt;

/// The longest kind name accepted (docs/protocol.md, "Kinds").
pub(crate) const MAX_KIND_LEN: usize = 64;

/// Methods of `rex::Client` (inherent and from its trait impls): a stub of
/// the same name would be shadowed or ambiguous.
const CLIENT_METHODS: &[&str] = &[
    "builder",
    "clone",
    "clone_from",
    "connect",
    "credentials",
    "endpoint",
    "events",
    "events_from",
    "fmt",
    "info",
    "joined_at",
    "rejoin",
    "restored",
    "send",
    "session",
];

/// Methods the generated traits already have.
const MESSAGE_HANDLER_METHODS: &[&str] = &["dispatch"];
const EVENT_HANDLER_METHODS: &[&str] = &["handle", "unknown", "resync", "connection"];

/// Parameters the generated methods take before the variant's fields.
const MESSAGE_PARAMS: &[&str] = &["cx", "from"];
const EVENT_PARAMS: &[&str] = &["meta"];

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
    let mut kinds: HashMap<&str, &syn::Ident> = HashMap::new();
    let mut methods: HashMap<&str, &syn::Ident> = HashMap::new();
    let (reserved, params): (&[&[&str]], &[&str]) = match e.role {
        Role::Message => (&[MESSAGE_HANDLER_METHODS, CLIENT_METHODS], MESSAGE_PARAMS),
        Role::Event => (&[EVENT_HANDLER_METHODS], EVENT_PARAMS),
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
        let owner = if CLIENT_METHODS.contains(&v.method.as_str()) && e.role == Role::Message {
            Some("`rex::Client` already has".to_owned())
        } else if reserved[0].contains(&v.method.as_str()) {
            Some(format!(
                "the generated `{}Handler` trait already has",
                e.ident
            ))
        } else {
            None
        };
        if let Some(owner) = owner {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "variant `{}` would generate the method `{}`, which {owner}; rename the \
                     variant and add `#[rex(rename = \"{}\")]` to keep its kind on the wire",
                    v.ident, v.method, v.kind
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
