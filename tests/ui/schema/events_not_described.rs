// The protocol's schema needs the event enum's: it says `#[rex(schema)]` too.
#[derive(rex::RexMessage)]
#[rex(app = "chat", events = Ev, schema)]
pub enum Msg {
    Say { text: String },
}

#[derive(rex::RexEvent)]
pub enum Ev {
    Said { text: String },
}

fn main() {}
