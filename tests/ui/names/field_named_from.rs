#[derive(rex::RexMessage)]
enum Msg {
    Say { from: String, text: String },
}

fn main() {}
