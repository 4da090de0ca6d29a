//! The typed form of a derive's input. Parsing happens here, once; the
//! expansion never looks at raw tokens. Every node keeps a reference to the
//! user's tokens for error spans.

use proc_macro2::{Ident, Span};
use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Type, Visibility};

use crate::attr;
use crate::case::{snake_case, RenameRule};
use crate::ctxt::Ctxt;

/// Which derive is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Message,
    Event,
}

impl Role {
    pub(crate) fn trait_name(self) -> &'static str {
        match self {
            Role::Message => "RexMessage",
            Role::Event => "RexEvent",
        }
    }
}

pub(crate) struct Enum<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) role: Role,
    pub(crate) variants: Vec<Variant<'a>>,
    /// `#[rex(app = "…")]`: the app id a message enum names (`valid`
    /// requires it there and refuses it on an event enum).
    pub(crate) app: Option<LitStr>,
    /// `#[rex(events = …)]`: the event enum a message enum names.
    pub(crate) events: Option<Type>,
    /// `#[rex(schema)]`: describe the kinds in JSON Schema.
    pub(crate) schema: Option<Span>,
    /// `#[rex(snapshot = …)]`: the app's snapshot type, for the schema.
    pub(crate) snapshot: Option<Type>,
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    /// The wire name.
    pub(crate) kind: String,
    /// Where an error about the kind name should point.
    pub(crate) kind_span: Span,
    /// The generated methods' name: the variant's name in snake_case.
    pub(crate) method: String,
    pub(crate) shape: Shape<'a>,
    pub(crate) docs: Vec<Attribute>,
}

impl Variant<'_> {
    /// The doc comment as text, for the schema's `description`.
    pub(crate) fn doc_text(&self) -> String {
        attr::doc_text(&self.docs)
    }
}

pub(crate) enum Shape<'a> {
    Unit,
    Newtype(&'a Type),
    Struct(Vec<Field<'a>>),
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The JSON key: the field's name without `r#`.
    pub(crate) key: String,
    /// The doc comment as text, for the schema's `description`.
    pub(crate) doc: String,
}

impl<'a> Enum<'a> {
    /// Parses the input; `None` (with errors recorded) if it cannot be
    /// understood as a protocol enum at all.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput, role: Role) -> Option<Enum<'a>> {
        let data = match &input.data {
            Data::Enum(data) => data,
            Data::Struct(s) => {
                cx.error_spanned_by(
                    s.struct_token,
                    format!(
                        "{} can only be derived for an enum, with one variant per kind",
                        role.trait_name()
                    ),
                );
                return None;
            }
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    format!(
                        "{} can only be derived for an enum, with one variant per kind",
                        role.trait_name()
                    ),
                );
                return None;
            }
        };
        let container = attr::container(cx, &input.attrs);
        let rule = container.rename_all.unwrap_or(RenameRule::Snake);
        let variants = data
            .variants
            .iter()
            .map(|v| Variant::from_ast(cx, v, rule))
            .collect();
        Some(Enum {
            original: input,
            ident: &input.ident,
            vis: &input.vis,
            role,
            variants,
            app: container.app,
            events: container.events,
            schema: container.schema,
            snapshot: container.snapshot,
        })
    }
}

impl<'a> Variant<'a> {
    fn from_ast(cx: &mut Ctxt, variant: &'a syn::Variant, rule: RenameRule) -> Variant<'a> {
        let attrs = attr::variant(cx, &variant.attrs);
        let name = variant.ident.unraw().to_string();
        let (kind, kind_span) = match &attrs.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (rule.apply(&name), variant.ident.span()),
        };
        let shape = match &variant.fields {
            Fields::Unit => Shape::Unit,
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                for f in &fields.unnamed {
                    attr::field(cx, &f.attrs);
                }
                Shape::Newtype(&fields.unnamed[0].ty)
            }
            Fields::Unnamed(fields) => {
                cx.error_spanned_by(
                    fields,
                    format!(
                        "tuple variant `{name}` has {} fields, but a kind carries one value; \
                         use named fields (`{name} {{ a: …, b: … }}`) or wrap them in a struct",
                        fields.unnamed.len()
                    ),
                );
                Shape::Unit
            }
            Fields::Named(fields) => Shape::Struct(
                fields
                    .named
                    .iter()
                    .filter_map(|f| {
                        attr::field(cx, &f.attrs);
                        let ident = f.ident.as_ref()?;
                        Some(Field {
                            ident,
                            ty: &f.ty,
                            key: ident.unraw().to_string(),
                            doc: attr::doc_text(&attr::docs(&f.attrs)),
                        })
                    })
                    .collect(),
            ),
        };
        Variant {
            ident: &variant.ident,
            kind,
            kind_span,
            method: snake_case(&name),
            shape,
            docs: attr::docs(&variant.attrs),
        }
    }
}
