//! [`Snapshot`]: the app's state, handed to a reader that arrives late so it
//! can start from the state and follow the log from there instead of
//! replaying every event.

use serde::Serialize;
use serde_json::Value;

/// The app's state as one reader may see it, returned by
/// [`RexApp::snapshot`](super::RexApp::snapshot).
///
/// A reader fetches it with `GET /rex/v0/snapshot` and gets it with the
/// index of the log it reflects: the server asks the app for it between two
/// calls, on the app's own task, so the state reflects exactly the events
/// before that index. The reader then follows the log from that index and
/// applies each event to the state (see `docs/protocol.md`, §10).
///
/// ```
/// use rex::Snapshot;
///
/// #[derive(serde::Serialize)]
/// struct Score {
///     red: u32,
///     blue: u32,
/// }
///
/// let snapshot = Snapshot::new(&Score { red: 2, blue: 1 });
/// assert_eq!(snapshot.data().unwrap()["red"], 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The encoded state, or why it could not be encoded (the reader gets
    /// `500 internal`; the app goes on).
    data: Result<Value, String>,
}

impl Snapshot {
    /// The state, encoded with its `Serialize` impl. The client decodes it
    /// into the same type (share the type between the TV and the phone
    /// apps, as the protocol enums are shared).
    pub fn new<T: Serialize + ?Sized>(state: &T) -> Snapshot {
        Snapshot {
            data: serde_json::to_value(state).map_err(|e| e.to_string()),
        }
    }

    /// A state already in JSON form.
    pub fn from_value(data: Value) -> Snapshot {
        Snapshot { data: Ok(data) }
    }

    /// The encoded state, or why encoding failed.
    pub fn data(&self) -> Result<&Value, &str> {
        self.data.as_ref().map_err(String::as_str)
    }

    pub(crate) fn into_data(self) -> Result<Value, String> {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn encodes_with_serialize_and_reports_failures() {
        let ok = Snapshot::new(&vec![1, 2]);
        assert_eq!(ok.data(), Ok(&serde_json::json!([1, 2])));
        // JSON object keys must be strings: this map cannot be encoded.
        let bad: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
        assert!(Snapshot::new(&bad).data().is_err());
    }
}
