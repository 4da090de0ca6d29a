// `snapshot = …` is part of the schema: without `schema` it would do nothing.
#[derive(rex::RexMessage)]
#[rex(app = "chat", events = Ev, snapshot = u32)]
pub enum Msg {
    Say { text: String },
}

#[derive(rex::RexEvent)]
pub enum Ev {
    Said { text: String },
}

fn main() {}
