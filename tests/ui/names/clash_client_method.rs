#[derive(rex::RexMessage)]
enum Msg {
    Send { text: String },
}

fn main() {}
