//! [`ProtocolSchema`]: an app's protocol described in JSON Schema, the body
//! of `GET /rex/v0/schema` (`docs/protocol.md`, §13).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The JSON Schema dialect every schema of a [`ProtocolSchema`] is written
/// in (draft 2020-12).
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// An app's whole protocol: every message kind and every event kind with
/// the JSON Schema of its `data`, and the schema of the app's snapshot.
///
/// `#[derive(RexMessage)]` with `#[rex(schema)]` builds it from the
/// protocol's types (rex's `schema` feature, `Protocol::schema`); the
/// server serves it as `GET /rex/v0/schema`, and the `rex` tool reads it
/// to list kinds (`rex info`), check payloads (`rex send`) and write
/// TypeScript declarations (`rex types`, [`ProtocolSchema::typescript`]).
///
/// The schemas of nested types are shared: a kind's schema refers to them
/// as `{"$ref": "#/$defs/Name"}`, and [`ProtocolSchema::defs`] holds them.
/// [`ProtocolSchema::standalone`] gives a kind's schema with its
/// definitions, ready for a validator.
///
/// ```
/// use rex_proto::{KindSchema, ProtocolSchema};
/// use serde_json::json;
///
/// let schema: ProtocolSchema = serde_json::from_value(json!({
///     "$schema": "https://json-schema.org/draft/2020-12/schema",
///     "app": "chat", "protocol": 0,
///     "messages": [{"kind": "say", "description": "Say something.",
///                   "data": {"type": "object", "properties": {"text": {"type": "string"}},
///                            "required": ["text"]}}],
///     "events": []
/// })).unwrap();
/// let say: &KindSchema = schema.message("say").unwrap();
/// assert_eq!(say.description.as_deref(), Some("Say something."));
/// assert_eq!(schema.standalone(&say.data)["$schema"], rex_proto::schema::DIALECT);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtocolSchema {
    /// The dialect of every schema in the document, [`DIALECT`].
    #[serde(rename = "$schema")]
    pub dialect: String,
    /// The app id, as `/info` reports it.
    pub app: String,
    /// The protocol version, [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The message kinds, in declaration order.
    pub messages: Vec<KindSchema>,
    /// The event kinds, in declaration order.
    pub events: Vec<KindSchema>,
    /// The schema of the app's snapshot (`GET /rex/v0/snapshot`'s `data`),
    /// when the protocol declares its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Value>,
    /// The schemas of the nested types the others refer to
    /// (`#/$defs/Name`), by name.
    #[serde(rename = "$defs", default, skip_serializing_if = "Map::is_empty")]
    pub defs: Map<String, Value>,
}

/// One kind of a [`ProtocolSchema`]: its name, its doc comment and the
/// schema of its `data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindSchema {
    /// The kind's name on the wire.
    pub kind: String,
    /// The variant's doc comment, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the kind's `data`: `{"type": "null"}` for a kind
    /// that carries none (which is sent without `data`).
    pub data: Value,
}

/// One field of a kind whose `data` is an object, as [`KindSchema::fields`]
/// lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSchema {
    /// The field's JSON key.
    pub name: String,
    /// Whether the field must be present (an `Option` field may be left
    /// out).
    pub required: bool,
    /// The field's type in TypeScript notation (`string`, `number[]`,
    /// `Standing`, `number | null`).
    pub ty: String,
    /// The field's doc comment, if it has one.
    pub description: Option<String>,
}

/// The TypeScript type of one schema of a [`ProtocolSchema`], as
/// [`ProtocolSchema::typescript`] writes it (`#/$defs/Name` references
/// become `Name`).
///
/// ```
/// use serde_json::json;
///
/// let ty = rex_proto::schema::typescript_type(&json!({"type": ["integer", "null"]}));
/// assert_eq!(ty, "number | null");
/// ```
pub fn typescript_type(schema: &Value) -> String {
    crate::typescript::type_of(schema)
}

impl ProtocolSchema {
    /// The message kind `kind`, if the protocol has it.
    pub fn message(&self, kind: &str) -> Option<&KindSchema> {
        self.messages.iter().find(|k| k.kind == kind)
    }

    /// The event kind `kind`, if the protocol has it.
    pub fn event(&self, kind: &str) -> Option<&KindSchema> {
        self.events.iter().find(|k| k.kind == kind)
    }

    /// `schema` (a kind's `data` schema, or the snapshot's) as a document of
    /// its own: with `$schema` and the `$defs` it may refer to, so a JSON
    /// Schema validator can check a payload against it.
    pub fn standalone(&self, schema: &Value) -> Value {
        let mut object = match schema {
            Value::Object(map) => map.clone(),
            // `true`/`false` schemas: keep their meaning under `allOf`.
            other => Map::from_iter([("allOf".to_owned(), Value::Array(vec![other.clone()]))]),
        };
        object.insert("$schema".to_owned(), Value::String(self.dialect.clone()));
        if !self.defs.is_empty() {
            object.insert("$defs".to_owned(), Value::Object(self.defs.clone()));
        }
        Value::Object(object)
    }
}

impl KindSchema {
    /// Whether the kind carries no `data` (its schema is `{"type": "null"}`).
    pub fn is_unit(&self) -> bool {
        self.data.get("type").and_then(Value::as_str) == Some("null")
    }

    /// The fields of the kind's `data`, by name, when it is an
    /// object; empty otherwise.
    pub fn fields(&self) -> Vec<FieldSchema> {
        let Some(properties) = self.data.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        let required: Vec<&str> = self
            .data
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        properties
            .iter()
            .map(|(name, schema)| FieldSchema {
                name: name.clone(),
                required: required.contains(&name.as_str()),
                ty: crate::typescript::type_of(schema),
                description: schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect()
    }
}
