//! `#[rex(…)]` attributes: parsed with `parse_nested_meta`, every unknown key
//! an error at that key listing the valid ones.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Type};

use crate::case::{RenameRule, RULE_NAMES};
use crate::ctxt::Ctxt;

/// Attributes on the enum.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) rename_all: Option<RenameRule>,
    /// `app = "…"`: the app id (message enums only; checked in `valid`).
    pub(crate) app: Option<LitStr>,
    /// `events = Type`: the event enum (message enums only).
    pub(crate) events: Option<Type>,
    /// `schema`: describe the kinds in JSON Schema (where it was written).
    pub(crate) schema: Option<Span>,
    /// `snapshot = Type`: the snapshot's type, for the schema (message
    /// enums only).
    pub(crate) snapshot: Option<Type>,
}

/// The keys an enum's `#[rex(…)]` accepts, for "expected one of".
const CONTAINER_KEYS: &str = "app, events, rename_all, schema, snapshot";

/// Attributes on a variant.
#[derive(Default)]
pub(crate) struct Variant {
    /// The kind name given, with its span for errors.
    pub(crate) rename: Option<LitStr>,
}

fn rex_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("rex"))
}

pub(crate) fn container(cx: &mut Ctxt, attrs: &[Attribute]) -> Container {
    let mut out = Container::default();
    // Mistakes are collected and parsing goes on, so one compile reports
    // every key that is wrong, and a later key (`app`) is still read.
    let mut errors = Vec::new();
    for attr in rex_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let value: LitStr = meta.value()?.parse()?;
                if out.rename_all.is_some() {
                    errors.push(meta.error("duplicate rex attribute `rename_all`"));
                    return Ok(());
                }
                match RenameRule::from_str(&value.value()) {
                    Some(rule) => out.rename_all = Some(rule),
                    None => {
                        let names: Vec<&str> = RULE_NAMES.iter().map(|(n, _)| *n).collect();
                        errors.push(syn::Error::new(
                            value.span(),
                            format!(
                                "unknown rename rule `{}`; expected one of: {}",
                                value.value(),
                                names.join(", ")
                            ),
                        ));
                    }
                }
                Ok(())
            } else if meta.path.is_ident("app") {
                let value: LitStr = meta.value()?.parse()?;
                if out.app.is_some() {
                    errors.push(meta.error("duplicate rex attribute `app`"));
                } else {
                    out.app = Some(value);
                }
                Ok(())
            } else if meta.path.is_ident("events") {
                let value: Type = meta.value()?.parse()?;
                if out.events.is_some() {
                    errors.push(meta.error("duplicate rex attribute `events`"));
                } else {
                    out.events = Some(value);
                }
                Ok(())
            } else if meta.path.is_ident("schema") {
                if out.schema.is_some() {
                    errors.push(meta.error("duplicate rex attribute `schema`"));
                } else {
                    out.schema = Some(meta.path.span());
                }
                Ok(())
            } else if meta.path.is_ident("snapshot") {
                let value: Type = meta.value()?.parse()?;
                if out.snapshot.is_some() {
                    errors.push(meta.error("duplicate rex attribute `snapshot`"));
                } else {
                    out.snapshot = Some(value);
                }
                Ok(())
            } else if meta.path.is_ident("rename") {
                // The error first: its span is then the key alone.
                errors
                    .push(meta.error("`rename` goes on a variant; on the enum, use `rename_all`"));
                skip_value(&meta)
            } else {
                errors.push(meta.error(format!(
                    "unknown rex attribute `{}` on an enum; expected one of: {CONTAINER_KEYS}",
                    path_name(&meta.path)
                )));
                skip_value(&meta)
            }
        });
        if let Err(e) = parsed {
            cx.push(e);
        }
    }
    for e in errors {
        cx.push(e);
    }
    out
}

/// Reads past a key's `= value`, if it has one, so parsing can go on after
/// a key that is reported as a mistake.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    }
    Ok(())
}

pub(crate) fn variant(cx: &mut Ctxt, attrs: &[Attribute]) -> Variant {
    let mut out = Variant::default();
    for attr in rex_attrs(attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: LitStr = meta.value()?.parse()?;
                if out.rename.is_some() {
                    return Err(meta.error("duplicate rex attribute `rename`"));
                }
                out.rename = Some(value);
                Ok(())
            } else if meta.path.is_ident("rename_all") {
                Err(meta.error("`rename_all` goes on the enum; on a variant, use `rename`"))
            } else {
                Err(meta.error(format!(
                    "unknown rex attribute `{}` on a variant; expected one of: rename",
                    path_name(&meta.path)
                )))
            }
        });
        if let Err(e) = parsed {
            cx.push(e);
        }
    }
    out
}

/// Fields take no `rex` attributes (yet): say so rather than ignore them.
pub(crate) fn field(cx: &mut Ctxt, attrs: &[Attribute]) {
    for attr in rex_attrs(attrs) {
        cx.error_spanned_by(
            attr,
            "rex attributes are not supported on fields; the JSON key is the field's name",
        );
    }
}

/// The `#[doc]` attributes, to carry variant docs over to generated methods.
pub(crate) fn docs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// The text of `#[doc = "…"]` attributes (`///` comments): one line each,
/// the space after `///` dropped, blank lines at the ends trimmed.
pub(crate) fn doc_text(docs: &[Attribute]) -> String {
    let lines: Vec<String> = docs
        .iter()
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|text| {
            text.lines()
                .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
