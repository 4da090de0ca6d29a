#[derive(rex::RexMessage)]
#[rex(app = "ui", events = rex::Dynamic, rename_all = "Title Case")]
enum Msg {
    Say,
}

fn main() {}
