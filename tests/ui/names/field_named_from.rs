#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic)]
enum Msg {
    Say { from: String, text: String },
}

fn main() {}
