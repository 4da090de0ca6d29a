#[derive(rex::RexMessage)]
#[rex(app = "chat")]
enum Msg {
    Say,
}

fn main() {}
