// A protocol that publishes its JSON Schema: unit, newtype and struct
// variants, an optional field, a nested type and a snapshot type.
use rex::schemars::JsonSchema;
use rex::Protocol;

#[derive(serde::Serialize, serde::Deserialize, JsonSchema)]
#[schemars(crate = "rex::schemars")]
pub struct Board {
    cells: Vec<u8>,
}

/// Moves.
#[derive(rex::RexMessage)]
#[rex(app = "board", events = Ev, schema, snapshot = Board)]
pub enum Msg {
    /// Start.
    Start,
    /// Pick a cell.
    Pick(u8),
    /// Say something.
    Say {
        /// The text.
        text: String,
        /// Who to, if anyone.
        to: Option<rex::SessionId>,
    },
}

#[derive(rex::RexEvent)]
#[rex(schema)]
pub enum Ev {
    Changed { board: Board },
}

fn main() {
    let schema = Msg::schema().expect("a schema");
    assert_eq!(schema.messages.len(), 3);
    assert!(schema.snapshot.is_some());
}
