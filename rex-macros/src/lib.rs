//! Derive macros for REx protocols: `#[derive(RexMessage)]` and
//! `#[derive(RexEvent)]`, re-exported by the `rex` crate.
//!
//! An app declares its protocol as two enums, one variant per kind. The
//! derives generate:
//!
//! 1. **Serialization**: the `RexMessage` / `RexEvent` impl. The kind of a
//!    variant is its name in snake_case, or `#[rex(rename = "…")]`, or the
//!    enum's `#[rex(rename_all = "…")]` rule (serde's names: `lowercase`,
//!    `UPPERCASE`, `PascalCase`, `camelCase`, `snake_case`,
//!    `SCREAMING_SNAKE_CASE`, `kebab-case`, `SCREAMING-KEBAB-CASE`). Unit
//!    variants carry no data, newtype variants their value, struct variants
//!    an object; every decoding error names the field.
//! 2. **The protocol** (message enums): `#[rex(app = "…", events = Ev)]`
//!    on the message enum names the app id and the event enum, and the
//!    derive implements `rex::Protocol`, so the one type `Msg` names the
//!    whole protocol for the server app and its clients.
//! 3. **Routing**: for a message enum `Msg`, a trait `MsgHandler` with one
//!    method per variant, and `rex::Dispatch` for every app implementing it,
//!    so the server routes each message to its method; for an event enum
//!    `Ev`, a trait `EvHandler` with a default no-op method per variant
//!    (getting the event's metadata) and a provided `handle` for stream
//!    items.
//! 4. **Client stubs** (message enums): a struct `MsgClient` wrapping
//!    `rex::Client<Msg>`, whose own methods are one stub per variant (the
//!    generic client's through `Deref`), so no kind can be shadowed. The
//!    variants' doc comments become the methods' docs.
//!
//! 5. **JSON Schema** (opt-in, rex's `schema` feature): `#[rex(schema)]` on
//!    both enums implements `rex::Describe`, every kind with the JSON Schema
//!    of its data (field types by schemars' `JsonSchema`, field and variant
//!    docs as `description`), and on the message enum `Protocol::schema`,
//!    which the server serves at `/rex/v0/schema`. `snapshot = Type` on the
//!    message enum adds the snapshot's schema. Opt-in per enum rather than
//!    with the feature alone, because cargo unifies features: a feature that
//!    required `JsonSchema` of every protocol's types would break the
//!    protocols in the same build that never asked for a schema.
//!
//! The generated code reaches the runtime only through `::rex::__private`,
//! so an app depends on `rex` alone. Set `REX_MACROS_DEBUG=1` while building
//! to print each expansion to stderr. `tests/expand/` in this crate holds the
//! expansion of a sample protocol, kept readable and checked by a test.

mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod valid;

#[cfg(test)]
mod snapshot;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `rex::RexMessage`, the `{Enum}Handler` routing trait and the
/// `{Enum}Client` stubs for an enum of the messages clients send.
///
/// ```ignore
/// #[derive(Debug, Clone, rex::RexMessage)]
/// #[rex(app = "chat", events = ChatEvent)]
/// pub enum ChatMsg {
///     /// Say something to the whole room.
///     Say { text: String },
///     /// Say something to one player only.
///     Whisper { to: rex::SessionId, text: String },
///     #[rex(rename = "rename")]
///     SetName(String),
/// }
/// ```
#[proc_macro_derive(RexMessage, attributes(rex))]
pub fn derive_rex_message(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, ast::Role::Message).into()
}

/// Derives `rex::RexEvent` and the `{Enum}Handler` trait for an enum of the
/// events an app appends to its log.
///
/// ```ignore
/// #[derive(Debug, Clone, rex::RexEvent)]
/// pub enum ChatEvent {
///     /// Somebody joined the room.
///     Joined { session: rex::SessionId, name: String },
///     /// Somebody said something.
///     Said { from: rex::SessionId, text: String },
/// }
/// ```
#[proc_macro_derive(RexEvent, attributes(rex))]
pub fn derive_rex_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, ast::Role::Event).into()
}
