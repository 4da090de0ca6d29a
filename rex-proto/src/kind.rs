//! The traits an app's protocol implements, and the errors of decoding it.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// What clients send: one enum, one variant per message kind.
///
/// A message travels as `(kind, data)`: the kind names the variant, `data`
/// is its payload (absent for unit variants). The derive macro generates
/// this impl; until it lands, implement it by hand with
/// [`DataObject`](crate::DataObject) (see the chat example).
pub trait RexMessage: Sized {
    /// Every kind this enum accepts, in declaration order (`/info` lists them,
    /// `unknown_kind` errors quote them).
    const KINDS: &'static [&'static str];

    /// The kind of this message.
    fn kind(&self) -> &'static str;

    /// Encodes the payload; `None` for a kind that carries none.
    fn encode_data(&self) -> Result<Option<Value>, EncodeError>;

    /// Decodes a message from its kind and payload.
    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError>;

    /// Decodes a message from its kind and its payload as JSON text
    /// (`None`: absent or `null`): the same message, or the same error, as
    /// [`decode`](Self::decode) of the parsed payload.
    ///
    /// The server decodes every message this way, from the request's own
    /// bytes. The derive macro reads the fields straight from the text and
    /// goes through [`decode`](Self::decode) only when that fails, for its
    /// precise errors; this default always does.
    fn decode_json(kind: &str, data: Option<&str>) -> Result<Self, DecodeError> {
        Self::decode(kind, DataObject::parse(kind, data)?)
    }

    /// Writes the payload as JSON to the end of `out`, the same value
    /// [`encode_data`](Self::encode_data) gives (an object's members in
    /// declaration order rather than sorted); returns `false`, having
    /// written nothing, for a kind that carries none. On an error `out`
    /// may hold part of the payload: discard it.
    ///
    /// The server writes every event this way, straight into the event's
    /// line. The derive macro writes each field in turn with
    /// [`DataWriter`]; this default goes through `encode_data`.
    fn write_data(&self, out: &mut Vec<u8>) -> Result<bool, EncodeError> {
        match self.encode_data()? {
            None => Ok(false),
            Some(value) => EncodeError::write(self.kind(), &value, out).map(|()| true),
        }
    }
}

/// What the app appends to the log: one enum, one variant per event kind.
///
/// The same `(kind, data)` shape as [`RexMessage`]. Decoders on the client
/// side should ignore unknown fields, so a newer server can add fields to an
/// event without breaking older clients.
pub trait RexEvent: Sized {
    /// Every kind this enum can be, in declaration order.
    const KINDS: &'static [&'static str];

    /// The kind of this event.
    fn kind(&self) -> &'static str;

    /// Encodes the payload; `None` for a kind that carries none.
    fn encode_data(&self) -> Result<Option<Value>, EncodeError>;

    /// Decodes an event from its kind and payload.
    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError>;

    /// Writes the payload as JSON to the end of `out`, the same value
    /// [`encode_data`](Self::encode_data) gives (an object's members in
    /// declaration order rather than sorted); returns `false`, having
    /// written nothing, for a kind that carries none. On an error `out`
    /// may hold part of the payload: discard it.
    ///
    /// The server writes every event this way, straight into the event's
    /// line. The derive macro writes each field in turn with
    /// [`DataWriter`]; this default goes through `encode_data`.
    fn write_data(&self, out: &mut Vec<u8>) -> Result<bool, EncodeError> {
        match self.encode_data()? {
            None => Ok(false),
            Some(value) => EncodeError::write(self.kind(), &value, out).map(|()| true),
        }
    }
}

/// Why `(kind, data)` did not decode. Its `Display` is the sentence the
/// server sends as the `reason` of `unknown_kind` / `invalid_data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The kind is not one of the accepted ones.
    UnknownKind {
        /// The kind that was sent.
        kind: String,
        /// The kinds that would have been accepted.
        expected: &'static [&'static str],
    },
    /// The kind is known but the payload does not fit it.
    InvalidData {
        /// The kind that was sent.
        kind: String,
        /// What is wrong, naming the field where there is one.
        reason: String,
    },
}

impl DecodeError {
    /// An [`DecodeError::UnknownKind`] for `kind`, listing `expected`.
    pub fn unknown_kind(kind: &str, expected: &'static [&'static str]) -> Self {
        DecodeError::UnknownKind {
            kind: kind.to_owned(),
            expected,
        }
    }

    /// An [`DecodeError::InvalidData`] for `kind`.
    pub fn invalid_data(kind: &str, reason: impl fmt::Display) -> Self {
        DecodeError::InvalidData {
            kind: kind.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownKind { kind, expected } => {
                write!(
                    f,
                    "unknown kind `{kind}`; expected one of: {}",
                    expected.join(", ")
                )
            }
            DecodeError::InvalidData { kind, reason } => {
                write!(f, "invalid data for kind `{kind}`: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The payload of a message or event could not be encoded to JSON (for
/// example a map with non-string keys). This is a bug in the app's types,
/// never the peer's doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// The kind being encoded.
    pub kind: &'static str,
    /// serde_json's explanation.
    pub reason: String,
}

impl EncodeError {
    /// Encodes `value` as the payload of `kind`.
    pub fn encode<T: Serialize + ?Sized>(kind: &'static str, value: &T) -> Result<Value, Self> {
        serde_json::to_value(value).map_err(|e| EncodeError {
            kind,
            reason: e.to_string(),
        })
    }
}

impl EncodeError {
    /// Writes `value` as JSON to the end of `out`, as the payload of
    /// `kind`.
    pub fn write<T: Serialize + ?Sized>(
        kind: &'static str,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Self> {
        serde_json::to_writer(out, value).map_err(|e| EncodeError {
            kind,
            reason: e.to_string(),
        })
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot encode kind `{}` as JSON: {}",
            self.kind, self.reason
        )
    }
}

impl std::error::Error for EncodeError {}

/// Encodes the payload of one kind as a JSON object, field by field: what
/// generated (and hand-written) encoders use for struct variants.
///
/// ```
/// use rex_proto::DataEncoder;
///
/// let data = DataEncoder::new("say").field("text", "hi").unwrap().finish();
/// assert_eq!(data, serde_json::json!({"text": "hi"}));
/// ```
#[derive(Debug)]
pub struct DataEncoder {
    kind: &'static str,
    map: Map<String, Value>,
}

impl DataEncoder {
    /// Starts the payload of `kind`.
    pub fn new(kind: &'static str) -> Self {
        DataEncoder {
            kind,
            map: Map::new(),
        }
    }

    /// Adds field `name`.
    pub fn field<T: Serialize + ?Sized>(
        mut self,
        name: &str,
        value: &T,
    ) -> Result<Self, EncodeError> {
        let value = EncodeError::encode(self.kind, value)?;
        self.map.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The finished object.
    pub fn finish(self) -> Value {
        Value::Object(self.map)
    }
}

/// Writes the payload of one kind as a JSON object, field by field,
/// straight to a buffer: what generated `write_data` implementations use
/// for struct variants (no [`Value`] is built).
///
/// ```
/// use rex_proto::DataWriter;
///
/// let mut out = Vec::new();
/// DataWriter::new("say", &mut out)
///     .field("text", "hi")
///     .unwrap()
///     .field("to", &[1, 2])
///     .unwrap()
///     .finish();
/// assert_eq!(out, br#"{"text":"hi","to":[1,2]}"#);
/// ```
#[derive(Debug)]
pub struct DataWriter<'a> {
    kind: &'static str,
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> DataWriter<'a> {
    /// Starts the payload of `kind` at the end of `out`.
    pub fn new(kind: &'static str, out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        DataWriter {
            kind,
            out,
            first: true,
        }
    }

    /// Writes field `name`.
    pub fn field<T: Serialize + ?Sized>(
        mut self,
        name: &str,
        value: &T,
    ) -> Result<Self, EncodeError> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        EncodeError::write(self.kind, name, self.out)?;
        self.out.push(b':');
        EncodeError::write(self.kind, value, self.out)?;
        Ok(self)
    }

    /// Closes the object; `true`, as `write_data` returns for a payload.
    pub fn finish(self) -> bool {
        self.out.push(b'}');
        true
    }
}

/// Decodes the payload of one kind, field by field, so that every error
/// names the field it is about.
///
/// This is what generated (and hand-written) decoders use for struct
/// variants; newtype and unit variants use [`DataObject::decode_value`] and
/// [`DataObject::expect_none`].
///
/// ```
/// use rex_proto::{DataObject, DecodeError};
/// use serde_json::json;
///
/// let mut fields = DataObject::new("say", Some(json!({"text": 5}))).unwrap();
/// let err = fields.field::<String>("text").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid data for kind `say`: field `text`: invalid type: integer `5`, expected a string",
/// );
/// ```
#[derive(Debug)]
pub struct DataObject<'k> {
    kind: &'k str,
    map: Map<String, Value>,
}

impl<'k> DataObject<'k> {
    /// Starts decoding the payload of `kind`, which must be a JSON object.
    pub fn new(kind: &'k str, data: Option<Value>) -> Result<Self, DecodeError> {
        match data {
            Some(Value::Object(map)) => Ok(DataObject { kind, map }),
            None | Some(Value::Null) => Err(DecodeError::invalid_data(
                kind,
                "expected an object as `data`, found none",
            )),
            Some(other) => Err(DecodeError::invalid_data(
                kind,
                format!("expected an object as `data`, found {}", describe(&other)),
            )),
        }
    }

    /// Takes field `name`. A missing field decodes as `null`, so an
    /// `Option` field may be left out while any other type reports it missing.
    pub fn field<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, DecodeError> {
        match self.map.remove(name) {
            Some(value) => serde_json::from_value(value)
                .map_err(|e| DecodeError::invalid_data(self.kind, format!("field `{name}`: {e}"))),
            None => serde_json::from_value(Value::Null).map_err(|_| {
                DecodeError::invalid_data(self.kind, format!("missing field `{name}`"))
            }),
        }
    }

    /// Fails if any field was not taken: message decoders call this so a
    /// misspelt field is reported rather than ignored. `expected` lists the
    /// kind's fields for the error message.
    pub fn deny_unknown(self, expected: &[&str]) -> Result<(), DecodeError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(extra) => Err(DecodeError::invalid_data(
                self.kind,
                format!(
                    "unknown field `{extra}`; expected {}",
                    if expected.is_empty() {
                        "no fields".to_owned()
                    } else {
                        format!("only: {}", expected.join(", "))
                    }
                ),
            )),
        }
    }

    /// Parses a payload given as JSON text (`None`: absent), for
    /// [`RexMessage::decode_json`].
    pub fn parse(kind: &str, data: Option<&str>) -> Result<Option<Value>, DecodeError> {
        data.map(serde_json::from_str)
            .transpose()
            .map_err(|e| DecodeError::invalid_data(kind, e))
    }

    /// Decodes a whole payload as one value (a newtype variant).
    pub fn decode_value<T: DeserializeOwned>(
        kind: &str,
        data: Option<Value>,
    ) -> Result<T, DecodeError> {
        serde_json::from_value(data.unwrap_or(Value::Null))
            .map_err(|e| DecodeError::invalid_data(kind, e))
    }

    /// Checks that a kind without payload (a unit variant) got none;
    /// `null` counts as none.
    pub fn expect_none(kind: &str, data: Option<Value>) -> Result<(), DecodeError> {
        match data {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(DecodeError::invalid_data(
                kind,
                format!("this kind carries no data, found {}", describe(&other)),
            )),
        }
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_required_field_is_named_and_option_may_be_absent() {
        let mut f = DataObject::new("whisper", Some(json!({"text": "hi"}))).unwrap();
        assert_eq!(f.field::<Option<String>>("note").unwrap(), None);
        assert_eq!(f.field::<String>("text").unwrap(), "hi");
        let err = f.field::<String>("to").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid data for kind `whisper`: missing field `to`"
        );
    }

    #[test]
    fn written_payloads_are_the_encoded_ones() {
        let mut out = Vec::new();
        let written = DataWriter::new("k", &mut out)
            .field("b", &1)
            .unwrap()
            .field("a\"", &json!({"x": [true, null]}))
            .unwrap()
            .finish();
        assert!(written);
        let encoded = DataEncoder::new("k")
            .field("b", &1)
            .unwrap()
            .field("a\"", &json!({"x": [true, null]}))
            .unwrap()
            .finish();
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), encoded);
        let mut out = b"[".to_vec();
        let bad: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let err = DataWriter::new("k", &mut out).field("m", &bad).unwrap_err();
        assert_eq!(err.kind, "k");
    }

    #[test]
    fn unknown_fields_are_reported_with_the_expected_ones() {
        let mut f = DataObject::new("say", Some(json!({"text": "hi", "txt": 1}))).unwrap();
        let _: String = f.field("text").unwrap();
        let err = f.deny_unknown(&["text"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid data for kind `say`: unknown field `txt`; expected only: text"
        );
    }

    #[test]
    fn non_object_payload_and_unit_payload_errors_are_precise() {
        let err = DataObject::new("say", Some(json!([1]))).unwrap_err();
        assert!(err.to_string().contains("found an array"), "{err}");
        let err = DataObject::expect_none("start", Some(json!(1))).unwrap_err();
        assert!(err.to_string().contains("carries no data"), "{err}");
        assert!(DataObject::expect_none("start", Some(Value::Null)).is_ok());
    }

    #[test]
    fn unknown_kind_lists_expected() {
        let err = DecodeError::unknown_kind("yell", &["say", "whisper"]);
        assert_eq!(
            err.to_string(),
            "unknown kind `yell`; expected one of: say, whisper"
        );
    }
}
