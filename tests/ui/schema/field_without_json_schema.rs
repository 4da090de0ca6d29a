// A field's type needs a JSON Schema: derive `JsonSchema` on the app's own types.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Point {
    x: i32,
    y: i32,
}

#[derive(rex::RexMessage)]
#[rex(app = "draw", events = Ev, schema)]
pub enum Msg {
    Dot { at: Point },
}

#[derive(rex::RexEvent)]
#[rex(schema)]
pub enum Ev {
    Drawn,
}

fn main() {}
