#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic, rename = "msg")]
enum Msg {
    Say,
}

fn main() {}
