//! [`Dynamic`]: a message or event of any kind, for tools that do not know
//! the app's protocol.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DecodeError, EncodeError, RexEvent, RexMessage};

/// A message or event of any kind, its payload kept as JSON.
///
/// An app's own protocol is two enums whose `KINDS` list every kind; a
/// generic tool (the `rex` command-line tool, a log viewer, a proxy) does
/// not know them. `Dynamic` implements both [`RexMessage`] and [`RexEvent`]
/// with an empty `KINDS`: decoding accepts every kind and keeps the payload
/// as it came, and encoding sends the kind and payload as given. The server
/// checks what a `Dynamic` message carries against the app's real protocol,
/// so a mistake comes back as `unknown_kind` or `invalid_data` with the
/// server's reason.
///
/// ```
/// use rex_proto::{Dynamic, RexEvent, RexMessage};
/// use serde_json::json;
///
/// let say = Dynamic::new("say", Some(json!({"text": "hi"})));
/// assert_eq!(RexMessage::encode_data(&say).unwrap(), Some(json!({"text": "hi"})));
///
/// let event = <Dynamic as RexEvent>::decode("said", Some(json!({"text": "hi"}))).unwrap();
/// assert_eq!(event.kind, "said");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dynamic {
    /// The kind, as the app names it.
    pub kind: String,
    /// The payload; `None` for kinds that carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Dynamic {
    /// A message or event of `kind` with `data` as its payload.
    pub fn new(kind: impl Into<String>, data: Option<Value>) -> Self {
        Dynamic {
            kind: kind.into(),
            data,
        }
    }

    /// `kind` as the `&'static str` the traits want. Kinds of one program
    /// are few and long-lived (a tool sends one, a log holds a handful), so
    /// each distinct kind is interned once and kept for the process's life.
    fn static_kind(&self) -> &'static str {
        use std::collections::BTreeSet;
        use std::sync::{Mutex, PoisonError};

        static KINDS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut kinds = KINDS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kind) = kinds.get(self.kind.as_str()) {
            return kind;
        }
        let kind: &'static str = Box::leak(self.kind.clone().into_boxed_str());
        kinds.insert(kind);
        kind
    }

    /// Decoding keeps whatever came; `null` counts as no payload, as it does
    /// on the wire.
    fn from_wire(kind: &str, data: Option<Value>) -> Self {
        Dynamic {
            kind: kind.to_owned(),
            data: data.filter(|d| !d.is_null()),
        }
    }
}

impl RexMessage for Dynamic {
    /// Empty: every kind is accepted (the server decides).
    const KINDS: &'static [&'static str] = &[];

    fn kind(&self) -> &'static str {
        self.static_kind()
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        Ok(self.data.clone())
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        Ok(Dynamic::from_wire(kind, data))
    }
}

impl RexEvent for Dynamic {
    /// Empty: every kind is accepted.
    const KINDS: &'static [&'static str] = &[];

    fn kind(&self) -> &'static str {
        self.static_kind()
    }

    fn encode_data(&self) -> Result<Option<Value>, EncodeError> {
        Ok(self.data.clone())
    }

    fn decode(kind: &str, data: Option<Value>) -> Result<Self, DecodeError> {
        Ok(Dynamic::from_wire(kind, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_kind_round_trips_and_null_is_no_payload() {
        let d = <Dynamic as RexMessage>::decode("anything", Some(Value::Null)).unwrap();
        assert_eq!(d, Dynamic::new("anything", None));
        let d = <Dynamic as RexEvent>::decode("x", Some(json!([1, 2]))).unwrap();
        assert_eq!(RexEvent::encode_data(&d).unwrap(), Some(json!([1, 2])));
        assert_eq!(RexMessage::kind(&d), "x");
        // Interning hands out the same string for the same kind.
        assert!(std::ptr::eq(
            RexMessage::kind(&d),
            RexEvent::kind(&Dynamic::new("x", None))
        ));
    }
}
