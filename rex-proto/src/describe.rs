//! Building a [`ProtocolSchema`] from a protocol's Rust types with
//! schemars (feature `schema`): the [`Describe`] trait the derives
//! implement under `#[rex(schema)]`, and the ids' schemas.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use crate::schema::{KindSchema, ProtocolSchema, DIALECT};
use crate::{Epoch, Protocol, SessionId, PROTOCOL_VERSION};

/// A message or event enum that describes its kinds in JSON Schema:
/// `#[derive(RexMessage)]` / `#[derive(RexEvent)]` implement it when the
/// enum says `#[rex(schema)]`.
///
/// The field types' schemas are schemars' own ([`JsonSchema`]): derive
/// `JsonSchema` on the app's nested types. A struct variant's fields and
/// their doc comments become an object schema (an `Option` field is not
/// required; a message refuses fields it does not know, an event does not,
/// as their decoders do), a newtype variant's type is its schema, and a unit
/// variant's is `{"type": "null"}`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not describe its kinds in JSON Schema",
    label = "the protocol's schema needs the schema of `{Self}`",
    note = "add `schema` to the `#[rex(…)]` attribute of `{Self}` (`#[rex(schema)]` on an event enum)"
)]
pub trait Describe {
    /// Every kind, in declaration order, with the schema of its `data`;
    /// the schemas of nested types go to `generator`'s definitions.
    fn describe(generator: &mut SchemaGenerator) -> Vec<KindSchema>;
}

/// Writes the schema of a snapshot type: what `#[rex(snapshot = T)]`
/// passes to [`ProtocolSchema::generate`].
pub type SnapshotSchema = fn(&mut SchemaGenerator) -> Schema;

impl ProtocolSchema {
    /// The schema of protocol `P`: its message and event kinds and, when
    /// `snapshot` is given, the snapshot's type. What the derive's
    /// `Protocol::schema` returns with `#[rex(schema)]`.
    pub fn generate<P>(snapshot: Option<SnapshotSchema>) -> ProtocolSchema
    where
        P: Protocol + Describe,
        P::Event: Describe,
    {
        let mut generator = SchemaGenerator::default();
        let messages = P::describe(&mut generator);
        let events = <P::Event as Describe>::describe(&mut generator);
        let snapshot = snapshot.map(|f| f(&mut generator).to_value());
        ProtocolSchema {
            dialect: DIALECT.to_owned(),
            app: P::APP.to_owned(),
            protocol: PROTOCOL_VERSION,
            messages,
            events,
            snapshot,
            defs: generator.take_definitions(true),
        }
    }
}

impl KindSchema {
    /// A kind whose `data` has the schema `data`, documented by `description`
    /// (the variant's doc comment; empty for none).
    pub fn new(kind: &str, description: &str, data: Schema) -> KindSchema {
        let description = (!description.is_empty()).then(|| description.to_owned());
        let mut data = data.to_value();
        if let (Some(text), Value::Object(object)) = (&description, &mut data) {
            if !object.contains_key("$ref") {
                object
                    .entry("description")
                    .or_insert_with(|| Value::String(text.clone()));
            }
        }
        KindSchema {
            kind: kind.to_owned(),
            description,
            data,
        }
    }

    /// A kind that carries no `data` (a unit variant).
    pub fn unit(kind: &str, description: &str) -> KindSchema {
        KindSchema::new(kind, description, json_schema!({"type": "null"}))
    }
}

/// A UUID in its hyphenated text form.
fn uuid_schema(description: &str) -> Schema {
    json_schema!({
        "type": "string",
        "format": "uuid",
        "description": description,
    })
}

impl JsonSchema for SessionId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SessionId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        uuid_schema("A session's public id (a UUID).")
    }
}

impl JsonSchema for Epoch {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Epoch".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        uuid_schema("A run of the server's log (a UUID).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_strings_and_indexes_unsigned() {
        let mut generator = SchemaGenerator::default();
        let id = generator.subschema_for::<SessionId>().to_value();
        assert_eq!(id["type"], "string");
        assert_eq!(id["format"], "uuid");
        let index = generator.subschema_for::<crate::EventIndex>().to_value();
        assert_eq!(index["type"], "integer");
        assert_eq!(index["minimum"], 0);
    }

    #[test]
    fn a_unit_kind_carries_null_and_its_doc() {
        let kind = KindSchema::unit("start", "Start the game.");
        assert!(kind.is_unit());
        assert_eq!(kind.data["description"], "Start the game.");
        assert_eq!(kind.description.as_deref(), Some("Start the game."));
    }
}
